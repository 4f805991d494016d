#!/usr/bin/env python3
"""The peer of `junction bench store` on SQLite: a plain Python loop over SQLite in WAL mode with
synchronous=FULL, inserting the same event + delivery rows (same schema, same indexes, same
payload size). Prints one JSON object on its last line."""
import json
import os
import sqlite3
import sys
import tempfile
import time

SCHEMA = """
CREATE TABLE events (id INTEGER PRIMARY KEY, source TEXT NOT NULL, external_id TEXT NOT NULL,
  event_type TEXT NOT NULL, entity_key TEXT, sequence INTEGER, received_at INTEGER NOT NULL,
  payload BLOB NOT NULL, UNIQUE (source, external_id));
CREATE TABLE deliveries (id INTEGER PRIMARY KEY, event_id INTEGER NOT NULL REFERENCES events (id),
  route TEXT NOT NULL, destination TEXT NOT NULL, state TEXT NOT NULL DEFAULT 'pending',
  attempts INTEGER NOT NULL DEFAULT 0, next_attempt_at INTEGER NOT NULL, lease_owner TEXT,
  lease_epoch INTEGER NOT NULL DEFAULT 0, last_status INTEGER, last_error TEXT, dead_reason TEXT,
  created_at INTEGER NOT NULL, finished_at INTEGER);
CREATE INDEX deliveries_due ON deliveries (next_attempt_at, id) WHERE state = 'pending';
CREATE INDEX deliveries_event ON deliveries (event_id);
"""


def run(events, batch, payload):
    with tempfile.TemporaryDirectory() as d:
        db = sqlite3.connect(os.path.join(d, "peer.db"), isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        db.executescript(SCHEMA)
        body = b"x" * payload
        now = int(time.time() * 1000)
        start = time.perf_counter()
        for first in range(0, events, batch):
            db.execute("BEGIN")
            for i in range(first, min(first + batch, events)):
                cur = db.execute(
                    "INSERT INTO events (source, external_id, event_type, entity_key, sequence, received_at, payload)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?)",
                    ("bench", "evt_%09d" % i, "customer.updated", "cus_%d" % (i % 10000), i, now, body),
                )
                db.execute(
                    "INSERT INTO deliveries (event_id, route, destination, next_attempt_at, created_at)"
                    " VALUES (?, ?, ?, ?, ?)",
                    (cur.lastrowid, "customers", "billing", now, now),
                )
            db.execute("COMMIT")
        secs = time.perf_counter() - start
        db.close()
        return {"events": events, "batch": batch, "events_per_s": round(events / secs), "seconds": secs}


if __name__ == "__main__":
    events = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
    payload = int(sys.argv[2]) if len(sys.argv) > 2 else 1024
    batched = run(events, 64, payload)
    single = run(min(events, 20_000), 1, payload)
    print(json.dumps({"peer": "python-sqlite3", "payload_bytes": payload, "batched_64": batched, "one_per_commit": single}))
