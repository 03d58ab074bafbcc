//! The PII detectors scored on the labeled corpus (`tests/data/pii/`,
//! issue #18): per type, context and encoding, the PII values leaked;
//! the PII-free lines changed; the look-alike tokens destroyed; and the
//! redaction throughput over the corpus lines. `redact_pii` runs as a
//! rule applies it to one string, with the default detectors.
//!
//!   cargo bench --bench pii_eval                # the dev split
//!   cargo bench --bench pii_eval -- holdout     # the holdout split (a final check)
//!   PII_EVAL_SHOW=phone cargo bench --bench pii_eval   # failures matching "phone"

use privgate::pii_eval::{load, redact_pii, score};
use std::path::Path;

/// The allocator the `privgate` binary ships with.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let split = if std::env::args().any(|a| a == "holdout") {
        "holdout"
    } else {
        "dev"
    };
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/pii")
        .join(format!("{split}.jsonl"));
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
    println!("split: {split} ({} lines)\n", lines.len());
    print!("{}", best.table());
    if let Ok(filter) = std::env::var("PII_EVAL_SHOW") {
        println!("\nfailures matching {filter:?}");
        let by_id: std::collections::HashMap<&str, &str> = lines
            .iter()
            .map(|l| (l.id.as_str(), l.text.as_str()))
            .collect();
        for (id, what) in best.failures.iter().filter(|(_, w)| w.contains(&filter)) {
            println!("  {id}: {what}\n      {:?}", by_id[id.as_str()]);
        }
    }
}
