//! The audit log's archive (`server.audit`): entries past their retention are written to
//! JSON-lines files — `audit-{first}-{last}.jsonl`, numbers zero-padded so the names sort in
//! order, one entry per line exactly as stored (hashes included) — and only then deleted from the
//! database, which records the last archived entry as where its chain starts. The chain can
//! still be checked from the first entry ever written: [`walk`] the files, then the store
//! (`ops::verify_audit_from`).

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

use crate::ops::{ChainBreak, Verifier};
use crate::AuditRecord;

/// Writes `entries` (ascending, contiguous) to a new file in `dir`, durably: a temporary file
/// synced, renamed, and the folder synced. The folder is created (0700) and the file is 0600.
pub fn write(dir: &Path, entries: &[AuditRecord]) -> std::io::Result<PathBuf> {
    let (Some(first), Some(last)) = (entries.first(), entries.last()) else {
        return Err(std::io::Error::other("no entries to archive"));
    };
    create_private_dir(dir)?;
    let name = format!("audit-{:012}-{:012}.jsonl", first.seq, last.seq);
    let path = dir.join(&name);
    let tmp = dir.join(format!(".{name}.tmp"));
    {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let file = options.open(&tmp)?;
        let mut out = std::io::BufWriter::new(file);
        for e in entries {
            serde_json::to_writer(&mut out, e)?;
            out.write_all(b"\n")?;
        }
        out.into_inner().map_err(|e| e.into_error())?.sync_all()?;
    }
    std::fs::rename(&tmp, &path)?;
    std::fs::File::open(dir)?.sync_all()?;
    Ok(path)
}

fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

/// The archive's files in order.
pub fn files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("audit-") && n.ends_with(".jsonl"))
        })
        .collect();
    out.sort();
    Ok(out)
}

/// Feeds every archived entry, in order, to `v`: the first break, or `v` to go on with the
/// store's entries. The outer error: a file that cannot be read or a line that is not an entry.
pub fn walk(dir: &Path, v: Verifier) -> Result<Result<Verifier, ChainBreak>, String> {
    let mut v = v.archive_walked();
    for path in files(dir).map_err(|e| format!("{}: {e}", dir.display()))? {
        let file = std::fs::File::open(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        for (i, line) in std::io::BufReader::new(file).lines().enumerate() {
            let line = line.map_err(|e| format!("{}: {e}", path.display()))?;
            let entry: AuditRecord = serde_json::from_str(&line).map_err(|e| {
                format!("{} line {}: not an audit entry: {e}", path.display(), i + 1)
            })?;
            // An entry in two files (an archive written twice after a crash) is walked once.
            if entry.seq <= v.last() {
                continue;
            }
            if let Err(b) = v.next(&entry) {
                return Ok(Err(b));
            }
        }
    }
    Ok(Ok(v))
}
