//! PII scanning throughput (MB/s) over the string values of the captured
//! analytics.js track event plus a mix of strings with and without PII, next
//! to a baseline measured in the same run: parsing the same event into
//! `serde_json::Value` (what any value-walking policy pays anyway).

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use privgate::policy::pii::Scanner;
use std::time::Duration;

/// The allocator the `privgate` binary ships with.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const TRACK: &[u8] = include_bytes!("data/segment-track.json");

fn strings(v: &serde_json::Value, out: &mut Vec<String>) {
    match v {
        serde_json::Value::String(s) => out.push(s.clone()),
        serde_json::Value::Array(a) => a.iter().for_each(|v| strings(v, out)),
        serde_json::Value::Object(o) => o.iter().for_each(|(k, v)| {
            out.push(k.clone());
            strings(v, out)
        }),
        _ => {}
    }
}

fn corpus() -> Vec<String> {
    let event: serde_json::Value = serde_json::from_slice(TRACK).unwrap();
    let mut out = Vec::new();
    strings(&event, &mut out);
    out.extend(
        [
            "Contact me at jane.doe@example.com or +44 20 7946 0958 after 5pm",
            "https://shop.example.com/checkout?email=jane%40example.com&utm_source=news",
            "order ord-184467 shipped 2026-11-23T21:26:48.096Z, total 1,299.99 EUR",
            "card 4111 1111 1111 1111 exp 12/29, IBAN DE89 3704 0044 0532 0130 00",
            "client 203.0.113.7 via 2001:db8::1, session 0fe1459d-fefa-44de-9052-4765f994ce7c",
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0",
        ]
        .map(str::to_owned),
    );
    out
}

fn bench(c: &mut Criterion) {
    let corpus = corpus();
    let bytes: usize = corpus.iter().map(String::len).sum();
    let scanner = Scanner::default();
    let mut g = c.benchmark_group("pii");
    g.measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_secs(1))
        .sample_size(30)
        .throughput(Throughput::Bytes(bytes as u64));
    g.bench_function("redact_mixed_strings", |b| {
        b.iter(|| {
            let mut n = 0;
            for s in &corpus {
                n += scanner.redact(black_box(s), |_| {}).len();
            }
            n
        })
    });
    g.throughput(Throughput::Bytes(TRACK.len() as u64));
    g.bench_function("baseline_parse_event_into_value", |b| {
        b.iter(|| serde_json::from_slice::<serde_json::Value>(black_box(TRACK)).unwrap())
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
