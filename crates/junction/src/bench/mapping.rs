//! `junction bench mapping`: a realistic vendor → canonical mapping (about 20 fields: renames, a
//! nested address, Unix → ISO 8601 times, an enum map) over `--records` NDJSON records, through
//! Junction's own path — decode + map, then decode + map + validate against the model — on every
//! core, beside `jq` and the `jaq` CLI running the same program on the same file, one core each.
//! Before timing, the first 1,000 outputs are checked equal to jaq's, so every tool does the same
//! work.

use std::io::{BufRead, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use junction_transform::{Limits, Mapping, Model, ModelRef, Program};
use serde_json::{json, Value};

use super::BenchArgs;

/// The mapping, in standard jq so jq and jaq run it too.
pub const PROGRAM: &str = r#"{
  id: .id,
  email: (.email | ascii_downcase),
  name: .name,
  phone: .phone,
  created_at: (.created | todate),
  updated_at: (.updated | todate),
  status: ({"active": "active", "delinquent": "past_due", "closed": "closed", "trial": "trialing"}[.status] // "unknown"),
  currency: (.currency | ascii_upcase),
  balance_minor: .balance,
  live: .livemode,
  plan: .metadata.plan,
  region: .metadata.region,
  address: {
    street: .address.line1,
    street2: .address.line2,
    city: .address.city,
    postcode: .address.postal_code,
    state: .address.state,
    country: .address.country
  },
  tax_exempt: (.tax_exempt == "exempt"),
  locale: (.preferred_locales[0] // null),
  invoice_prefix: .invoice_prefix,
  delinquent: .delinquent
}"#;

fn schema() -> Value {
    let text = json!({"type": "string"});
    let nullable = json!({"type": ["string", "null"]});
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "additionalProperties": false,
        "required": ["id", "email", "created_at", "status", "currency", "address"],
        "properties": {
            "id": text, "email": {"type": "string", "format": "email"}, "name": text,
            "phone": nullable, "created_at": {"type": "string", "format": "date-time"},
            "updated_at": {"type": "string", "format": "date-time"},
            "status": {"enum": ["active", "past_due", "closed", "trialing", "unknown"]},
            "currency": {"type": "string", "pattern": "^[A-Z]{3}$"},
            "balance_minor": {"type": "integer"}, "live": {"type": "boolean"},
            "plan": nullable, "region": nullable,
            "address": {
                "type": "object", "additionalProperties": false,
                "required": ["street", "city", "country"],
                "properties": {
                    "street": text, "street2": nullable, "city": text, "postcode": nullable,
                    "state": nullable, "country": {"type": "string", "minLength": 2, "maxLength": 2}
                }
            },
            "tax_exempt": {"type": "boolean"}, "locale": nullable, "invoice_prefix": text,
            "delinquent": {"type": "boolean"}
        }
    })
}

/// One vendor record, varied but deterministic.
fn record(i: usize) -> Value {
    const CITIES: [&str; 6] = ["Lyon", "Berlin", "Austin", "Osaka", "Porto", "Leeds"];
    const STATUS: [&str; 5] = ["active", "delinquent", "closed", "trial", "paused"];
    const COUNTRIES: [&str; 6] = ["FR", "DE", "US", "JP", "PT", "GB"];
    const CURRENCIES: [&str; 3] = ["usd", "eur", "gbp"];
    const PLANS: [&str; 3] = ["free", "pro", "team"];
    const REGIONS: [&str; 3] = ["eu", "us", "ap"];
    const TAX: [&str; 3] = ["none", "exempt", "reverse"];
    let h = (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 16;
    let pick = |n: usize, salt: u64| ((h ^ salt) % n as u64) as usize;
    json!({
        "id": format!("cus_{i:08}"),
        "object": "customer",
        "email": format!("User.{i}@Example.COM"),
        "name": format!("Customer {i}"),
        "phone": if i % 7 == 0 { Value::Null } else { json!(format!("+1555{:07}", i % 10_000_000)) },
        "created": 1_600_000_000 + (h % 100_000_000) as i64,
        "updated": 1_700_000_000 + (h % 10_000_000) as i64,
        "status": STATUS[pick(5, 1)],
        "currency": CURRENCIES[pick(3, 2)],
        "balance": (h % 1_000_000) as i64 - 500_000,
        "livemode": i % 3 != 0,
        "metadata": {"plan": PLANS[pick(3, 3)], "region": REGIONS[pick(3, 4)]},
        "address": {
            "line1": format!("{} Main Street", i % 999 + 1),
            "line2": if i % 4 == 0 { json!("Suite 5") } else { Value::Null },
            "city": CITIES[pick(6, 5)],
            "postal_code": format!("{:05}", h % 100_000),
            "state": Value::Null,
            "country": COUNTRIES[pick(6, 6)]
        },
        "tax_exempt": TAX[pick(3, 7)],
        "preferred_locales": ["en-US"],
        "discount": Value::Null,
        "invoice_prefix": format!("INV{:05}", i % 100_000),
        "delinquent": i % 11 == 0
    })
}

fn write_records(path: &Path, n: usize) -> Result<u64, String> {
    let f = std::fs::File::create(path).map_err(|e| e.to_string())?;
    let mut w = std::io::BufWriter::with_capacity(1 << 20, f);
    for i in 0..n {
        serde_json::to_writer(&mut w, &record(i)).map_err(|e| e.to_string())?;
        w.write_all(b"\n").map_err(|e| e.to_string())?;
    }
    w.flush().map_err(|e| e.to_string())?;
    Ok(std::fs::metadata(path).map(|m| m.len()).unwrap_or(0))
}

pub async fn run(args: &BenchArgs) -> Result<Value, String> {
    let n = args.records;
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let data = dir.path().join("customers.ndjson");
    let prog = dir.path().join("map.jq");
    std::fs::write(&prog, PROGRAM).map_err(|e| e.to_string())?;
    eprintln!("writing {n} records…");
    let bytes = write_records(&data, n)?;
    eprintln!("{n} records, {:.0} MB", bytes as f64 / 1e6);

    let mapping = Mapping::new(
        "vendor_to_customer",
        Program::compile(PROGRAM).map_err(|e| e.to_string())?,
        Limits::default(),
    );
    let model = Arc::new(
        Model::compile(ModelRef::parse("customer@1")?, &schema()).map_err(|e| e.to_string())?,
    );
    let threads = std::env::var("JUNCTION_BENCH_THREADS")
        .ok()
        .and_then(|t| t.parse().ok())
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()));
    let jaq_bin = which("jaq");
    let jq_bin = which("jq");
    let same = match &jaq_bin {
        Some(jaq) => Some(same_as_peer(jaq, &data, &prog, &mapping, 1000)?),
        None => None,
    };

    let mut runs = serde_json::Map::new();
    for (name, validate) in [("junction_map", false), ("junction_map_validate", true)] {
        eprintln!("{name}: {threads} thread(s)…");
        let model = validate.then(|| model.clone());
        let (took, peak, failures) = junction_path(&data, &mapping, model, threads)?;
        if failures > 0 {
            return Err(format!("{name}: {failures} record(s) failed"));
        }
        runs.insert(name.into(), figures(n, took, peak));
        eprintln!("{name}: {}", runs[name]);
    }
    for (name, bin) in [("jaq", &jaq_bin), ("jq", &jq_bin)] {
        match bin {
            Some(bin) => {
                eprintln!("{name}: 1 thread…");
                let (took, peak) = peer(bin, &data, &prog)?;
                runs.insert(name.into(), figures(n, took, peak));
                eprintln!("{name}: {}", runs[name]);
            }
            None => {
                eprintln!("{name}: not installed (bench/mapping.sh installs it); skipped");
                runs.insert(name.into(), Value::Null);
            }
        }
    }
    let rate = |k: &str| runs.get(k).and_then(|v| v["records_per_s"].as_f64());
    let ratio = |a: &str, b: &str| match (rate(a), rate(b)) {
        (Some(a), Some(b)) if b > 0.0 => json!((a / b * 100.0).round() / 100.0),
        _ => Value::Null,
    };
    Ok(json!({
        "scenario": "mapping",
        "records": n,
        "file_mb": (bytes as f64 / 1e6).round(),
        "junction_threads": threads,
        "outputs_equal_to_jaq": same,
        "runs": runs,
        "map_vs_jaq": ratio("junction_map", "jaq"),
        "map_vs_jq": ratio("junction_map", "jq"),
        "map_validate_vs_jaq": ratio("junction_map_validate", "jaq"),
        "targets": {"map_vs_jaq": 1.5, "map_vs_jq": 3.0, "map_validate_vs_jaq": 1.0},
        "machine": super::machine(),
    }))
}

fn figures(n: usize, took: Duration, peak_mib: f64) -> Value {
    json!({
        "seconds": (took.as_secs_f64() * 100.0).round() / 100.0,
        "records_per_s": (n as f64 / took.as_secs_f64()).round(),
        "peak_rss_mib": peak_mib.round(),
    })
}

fn which(bin: &str) -> Option<PathBuf> {
    let home = std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo/bin"));
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .chain(home)
        .map(|d| d.join(bin))
        .find(|p| p.is_file())
}

/// Block of input handed to one worker at a time.
const BLOCK: usize = 1 << 20;

/// Decode + map (+ validate) every line on `threads` mapping threads, output written to
/// /dev/null as the peers' is. Returns the time, the process's peak RSS during the run (MiB),
/// and how many records failed.
fn junction_path(
    data: &Path,
    mapping: &Mapping,
    model: Option<Arc<Model>>,
    threads: usize,
) -> Result<(Duration, f64, usize), String> {
    reset_peak_rss();
    let started = Instant::now();
    let (tx, rx) = mpsc::sync_channel::<Vec<u8>>(threads * 2);
    let rx = Arc::new(Mutex::new(rx));
    let mut workers = Vec::new();
    for i in 0..threads {
        let rx = rx.clone();
        let mapping = mapping.clone();
        let model = model.clone();
        let w = std::thread::Builder::new()
            .name(format!("bench-map-{i}"))
            .stack_size(1 << 30)
            .spawn(move || {
                let mut sink = std::fs::OpenOptions::new()
                    .write(true)
                    .open("/dev/null")
                    .expect("/dev/null");
                let mut out = Vec::with_capacity(1 << 20);
                let mut failures = 0usize;
                loop {
                    let block = match rx.lock().map(|r| r.recv()) {
                        Ok(Ok(b)) => b,
                        _ => break,
                    };
                    for line in block.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
                        let start = out.len();
                        if mapping.map_json(line, &mut out).is_err() {
                            failures += 1;
                            out.truncate(start);
                            continue;
                        }
                        if let Some(model) = &model {
                            if model.validate_json(&out[start..]).is_err() {
                                failures += 1;
                            }
                        }
                        out.push(b'\n');
                    }
                    let _ = sink.write_all(&out);
                    out.clear();
                }
                failures
            })
            .map_err(|e| e.to_string())?;
        workers.push(w);
    }
    let mut file = std::fs::File::open(data).map_err(|e| e.to_string())?;
    let mut carry: Vec<u8> = Vec::new();
    loop {
        let mut block = std::mem::take(&mut carry);
        let filled = block.len();
        block.resize(filled + BLOCK, 0);
        let read = file.read(&mut block[filled..]).map_err(|e| e.to_string())?;
        block.truncate(filled + read);
        if read == 0 {
            if !block.is_empty() {
                let _ = tx.send(block);
            }
            break;
        }
        match block.iter().rposition(|b| *b == b'\n') {
            Some(end) => {
                carry = block[end + 1..].to_vec();
                block.truncate(end + 1);
                if tx.send(block).is_err() {
                    break;
                }
            }
            None => carry = block,
        }
    }
    drop(tx);
    let mut failures = 0;
    for w in workers {
        failures += w
            .join()
            .map_err(|_| "a mapping thread panicked".to_string())?;
    }
    Ok((started.elapsed(), peak_rss_mib(), failures))
}

/// Runs a peer CLI on the file (`-c -f PROGRAM FILE > /dev/null`), sampling its peak RSS.
fn peer(bin: &Path, data: &Path, prog: &Path) -> Result<(Duration, f64), String> {
    let started = Instant::now();
    let mut child = std::process::Command::new(bin)
        .arg("-c")
        .arg("-f")
        .arg(prog)
        .arg(data)
        .stdout(std::process::Stdio::null())
        .spawn()
        .map_err(|e| format!("{}: {e}", bin.display()))?;
    let pid = child.id();
    let mut peak: f64 = 0.0;
    loop {
        peak = peak.max(status_kib(pid, "VmHWM:") / 1024.0);
        match child.try_wait().map_err(|e| e.to_string())? {
            Some(status) if status.success() => break,
            Some(status) => return Err(format!("{} failed: {status}", bin.display())),
            None => std::thread::sleep(Duration::from_millis(10)),
        }
    }
    Ok((started.elapsed(), peak))
}

/// Maps the first `n` records with Junction and with the peer; counts the equal outputs.
fn same_as_peer(
    bin: &Path,
    data: &Path,
    prog: &Path,
    mapping: &Mapping,
    n: usize,
) -> Result<Value, String> {
    let file = std::fs::File::open(data).map_err(|e| e.to_string())?;
    let lines: Vec<Vec<u8>> = std::io::BufReader::new(file)
        .split(b'\n')
        .take(n)
        .collect::<Result<_, _>>()
        .map_err(|e| e.to_string())?;
    let head = data.with_extension("head.ndjson");
    std::fs::write(&head, lines.join(&b'\n')).map_err(|e| e.to_string())?;
    let out = std::process::Command::new(bin)
        .arg("-c")
        .arg("-f")
        .arg(prog)
        .arg(&head)
        .output()
        .map_err(|e| e.to_string())?;
    let theirs: Vec<Value> = out
        .stdout
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .filter_map(|l| serde_json::from_slice(l).ok())
        .collect();
    let equal = lines
        .iter()
        .zip(&theirs)
        .filter(|(line, theirs)| {
            let mut out = Vec::new();
            mapping.map_json(line, &mut out).is_ok()
                && serde_json::from_slice::<Value>(&out).ok().as_ref() == Some(*theirs)
        })
        .count();
    if equal != lines.len() {
        return Err(format!(
            "only {equal} of the first {} outputs equal the peer's: the comparison would not be fair",
            lines.len()
        ));
    }
    Ok(json!(format!("{equal}/{}", lines.len())))
}

fn status_kib(pid: u32, field: &str) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .unwrap_or(0.0)
}

/// Resets this process's peak RSS (Linux: writing 5 to clear_refs), so the next run's peak is its own.
fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn peak_rss_mib() -> f64 {
    status_kib(std::process::id(), "VmHWM:") / 1024.0
}
