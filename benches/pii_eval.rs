//! The PII detectors scored on the labeled corpus (`tests/data/pii/`,
//! issue #18): per type, context and encoding, the PII values leaked;
//! the PII-free lines changed; the look-alike tokens destroyed; and the
//! redaction throughput over the corpus lines. `redact_pii` runs as a
//! rule applies it to one string, with the default detectors.
//!
//!   cargo bench --bench pii_eval                # the dev split
//!   cargo bench --bench pii_eval -- holdout     # the holdout split (a final check)
//!   PII_EVAL_FILE=/path/x.jsonl cargo bench --bench pii_eval   # any corpus file
//!   PII_EVAL_SHOW=phone cargo bench --bench pii_eval   # failures matching "phone"
//!   PII_EVAL_SHOW= cargo bench --bench pii_eval        # every failure
//!
//! `PII_EVAL_FILE` scores a file in the corpus format (the README of
//! `tests/data/pii/`) instead of a split, for example an independent probe
//! (`tests/data/pii-probe/`); a relative path is read from the crate's
//! root. `PII_EVAL_SHOW` prints each failure whose description
//! (`leaked phone "…"`, `changed -> "…"`, `destroyed version "…"`)
//! contains its value, with the line and, for a leak or a destroyed
//! look-alike, the redactor's output. The corpora are synthetic: the
//! values printed are fake.

use privgate::pii_eval::{load, redact_pii, score};
use std::path::{Path, PathBuf};

/// The allocator the `privgate` binary ships with.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let (name, path) = match std::env::var_os("PII_EVAL_FILE").filter(|f| !f.is_empty()) {
        Some(file) => {
            let path = root.join(PathBuf::from(file));
            (format!("file {}", path.display()), path)
        }
        None => {
            let split = if std::env::args().any(|a| a == "holdout") {
                "holdout"
            } else {
                "dev"
            };
            let path = root.join("tests/data/pii").join(format!("{split}.jsonl"));
            (format!("split: {split}"), path)
        }
    };
    let lines = load(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let redact = redact_pii();
    // Warm up (the numbering plans compile when first needed), then the
    // best of three rounds for the throughput.
    let _ = score(&lines, &redact);
    let mut best = score(&lines, &redact);
    for _ in 0..2 {
        let again = score(&lines, &redact);
        if again.elapsed < best.elapsed {
            best = again;
        }
    }
    println!("{name} ({} lines)\n", lines.len());
    print!("{}", best.table());
    if let Ok(filter) = std::env::var("PII_EVAL_SHOW") {
        println!("\nfailures matching {filter:?}");
        let by_id: std::collections::HashMap<&str, &str> = lines
            .iter()
            .map(|l| (l.id.as_str(), l.text.as_str()))
            .collect();
        for (id, what) in best.failures.iter().filter(|(_, w)| w.contains(&filter)) {
            let text = by_id[id.as_str()];
            println!("  {id}: {what}\n      {text:?}");
            if !what.starts_with("changed") {
                println!("   -> {:?}", redact(text));
            }
        }
    }
}
