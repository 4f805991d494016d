//! Every command in `docs/`: each page's ```sh blocks run in order, as one bash script with
//! `set -euo pipefail`, the way a reader would type them — from a copy of the repository's
//! `examples/` with `junction` on the `PATH`. The pages' addresses (`127.0.0.1:8080` for the
//! hub, `127.0.0.1:9090` for the mock) are moved to free ports, so pages run beside other tests.
//! A page fails the test when any command fails; background jobs are stopped when it ends.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The ```sh blocks of a Markdown page, in order.
fn sh_blocks(markdown: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in markdown.lines() {
        match (&mut current, line.trim_end()) {
            (None, "```sh") => current = Some(String::new()),
            (Some(_), "```") => blocks.push(current.take().unwrap()),
            (Some(block), _) => {
                block.push_str(line);
                block.push('\n');
            }
            (None, _) => {}
        }
    }
    blocks
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            if entry.file_name() != "data" {
                copy_dir(&entry.path(), &target);
            }
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// Runs one page; returns its output for the failure message.
fn run_page(page: &Path) -> Result<(), String> {
    let text = std::fs::read_to_string(page).unwrap();
    let blocks = sh_blocks(&text);
    if blocks.is_empty() {
        return Ok(());
    }
    let (hub, mock) = (support::free_port(), support::free_port());
    let script = blocks
        .join("\n")
        .replace("127.0.0.1:8080", &format!("127.0.0.1:{hub}"))
        .replace("127.0.0.1:9090", &format!("127.0.0.1:{mock}"));
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&repo().join("examples"), &dir.path().join("examples"));
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_junction"));
    let path = format!(
        "{}:{}",
        bin.parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let full = format!(
        "set -euo pipefail\ntrap 'kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true' EXIT\n{script}"
    );
    let mut child = Command::new("bash")
        .arg("-c")
        .arg(&full)
        .current_dir(dir.path())
        .env("PATH", path)
        .env("JUNCTION_LISTEN", format!("127.0.0.1:{hub}"))
        .env("JUNCTION_MOCK_LISTEN", format!("127.0.0.1:{mock}"))
        .env("JUNCTION_SERVER", format!("http://127.0.0.1:{hub}"))
        .env("JUNCTION_LOG", "warn")
        .env_remove("JUNCTION_DATABASE_URL")
        .env_remove("JUNCTION_ADMIN_TOKEN")
        .env_remove("JUNCTION_MASTER_KEY")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let out = child.wait_with_output().unwrap();
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{} failed ({:?}):\n--- stdout\n{}\n--- stderr\n{}",
            page.display(),
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

#[test]
fn every_command_in_the_docs_runs() {
    let mut pages: Vec<PathBuf> = std::fs::read_dir(repo().join("docs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    pages.sort();
    assert!(!pages.is_empty());
    let mut ran = 0;
    for page in &pages {
        let blocks = sh_blocks(&std::fs::read_to_string(page).unwrap());
        ran += blocks.len();
        if let Err(e) = run_page(page) {
            panic!("{e}");
        }
    }
    assert!(ran >= 5, "only {ran} command blocks found in docs/");
}

#[test]
fn sh_blocks_are_found_in_order_and_other_blocks_are_not() {
    let md =
        "intro\n```sh\necho one\n```\n```yaml\nkey: v\n```\n```sh\necho two\necho three\n```\n";
    assert_eq!(sh_blocks(md), ["echo one\n", "echo two\necho three\n"]);
}
