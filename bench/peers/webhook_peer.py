#!/usr/bin/env python3
"""A minimal webhook receiver to measure `junction bench ingest --target` against: verifies the
Standard Webhooks v1 signature, inserts the event into SQLite (WAL, synchronous=FULL, one commit
per request, so every 202 is durable as Junction's are) and answers 202. Standard library only:
ThreadingHTTPServer, hmac, sqlite3. No routing, no deliveries, no dedupe across restarts.

    python3 bench/peers/webhook_peer.py PORT DB_PATH
"""
import base64, hashlib, hmac, json, sqlite3, sys, threading, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SECRET = base64.b64decode("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
port, path = int(sys.argv[1]), sys.argv[2]
lock = threading.Lock()
db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
db.execute("PRAGMA journal_mode=WAL")
db.execute("PRAGMA synchronous=FULL")
db.execute("CREATE TABLE IF NOT EXISTS events (id TEXT PRIMARY KEY, received_at INTEGER, payload BLOB)")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", "0")))
        msg_id = self.headers.get("webhook-id", "")
        ts = self.headers.get("webhook-timestamp", "")
        sigs = self.headers.get("webhook-signature", "").split()
        expected = base64.b64encode(
            hmac.new(SECRET, f"{msg_id}.{ts}.".encode() + body, hashlib.sha256).digest()
        ).decode()
        ok = any(hmac.compare_digest(s.split(",", 1)[-1], expected) for s in sigs)
        if not ok or abs(time.time() - int(ts or 0)) > 300:
            return self.answer(401, b'{"error":"bad signature"}')
        with lock:
            db.execute("INSERT OR IGNORE INTO events VALUES (?, ?, ?)", (msg_id, int(time.time() * 1000), body))
        self.answer(202, json.dumps({"id": msg_id}).encode())

    def answer(self, status, payload):
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


ThreadingHTTPServer.daemon_threads = True
ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()
