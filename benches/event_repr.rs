//! Per-event cost of candidate event representations, on the real 1.47 KB
//! track event analytics.js sent (benches/data/segment-track.json, captured
//! from @segment/analytics-next).
//!
//! Candidates for the ingest path (validate, learn the top-level facts,
//! fill `receivedAt`, produce the bytes to forward):
//! - `serde_value_roundtrip`: parse into `serde_json::Value`, serialize back;
//! - `sonic_value_roundtrip`: the same with sonic-rs (SIMD);
//! - `validate_only`: serde_json into `IgnoredAny`, a floor for any validating parser;
//! - `privgate_ingest`: what privgate does (`segment::decode`: a borrowed
//!   top-level scan that validates everything, plus an in-place raw edit).
//!
//! And, to size the privacy rules to come, a typical edit on a tree
//! (replace `userId`, set `context.ip`, drop `context.userAgentData`, visit
//! every string): `serde_value_edit` vs `sonic_value_edit`.
//!
//! Machines here are noisy: compare the candidates with each other within
//! one run, not with absolute times from another run.

use bytes::Bytes;
use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use privgate::protocol::segment::{self, Route};
use privgate::protocol::Stamp;
use sonic_rs::{JsonContainerTrait, JsonValueMutTrait, JsonValueTrait};
use std::time::Duration;

const TRACK: &[u8] = include_bytes!("data/segment-track.json");
const STAMP: Stamp<'static> = Stamp {
    received_at: "2026-11-24T12:00:00.000Z",
};

fn batch_of(n: usize) -> Bytes {
    let text = std::str::from_utf8(TRACK).unwrap();
    let events: Vec<String> = (0..n)
        .map(|i| text.replacen("\"messageId\":\"", &format!("\"messageId\":\"{i}-"), 1))
        .collect();
    Bytes::from(format!(
        "{{\"batch\":[{}],\"writeKey\":\"k\"}}",
        events.join(",")
    ))
}

fn visit_serde(v: &mut serde_json::Value, hits: &mut usize) {
    match v {
        serde_json::Value::String(s) => *hits += s.contains('@') as usize,
        serde_json::Value::Array(a) => a.iter_mut().for_each(|v| visit_serde(v, hits)),
        serde_json::Value::Object(o) => o.values_mut().for_each(|v| visit_serde(v, hits)),
        _ => {}
    }
}

fn visit_sonic(v: &sonic_rs::Value, hits: &mut usize) {
    if let Some(s) = v.as_str() {
        *hits += s.contains('@') as usize;
    } else if let Some(a) = v.as_array() {
        a.iter().for_each(|v| visit_sonic(v, hits));
    } else if let Some(o) = v.as_object() {
        o.iter().for_each(|(_, v)| visit_sonic(v, hits));
    }
}

fn single_event(c: &mut Criterion) {
    let mut g = c.benchmark_group("single_event");
    g.throughput(Throughput::Bytes(TRACK.len() as u64))
        .measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_secs(1))
        .sample_size(30);
    let body = Bytes::from_static(TRACK);

    g.bench_function("serde_value_roundtrip", |b| {
        b.iter(|| {
            let mut v: serde_json::Value = serde_json::from_slice(black_box(TRACK)).unwrap();
            v["receivedAt"] = STAMP.received_at.into();
            serde_json::to_vec(&v).unwrap()
        })
    });
    g.bench_function("sonic_value_roundtrip", |b| {
        b.iter(|| {
            let mut v: sonic_rs::Value = sonic_rs::from_slice(black_box(TRACK)).unwrap();
            v.as_object_mut()
                .unwrap()
                .insert("receivedAt", STAMP.received_at);
            sonic_rs::to_vec(&v).unwrap()
        })
    });
    g.bench_function("validate_only", |b| {
        b.iter(|| serde_json::from_slice::<serde::de::IgnoredAny>(black_box(TRACK)).unwrap())
    });
    g.bench_function("privgate_ingest", |b| {
        b.iter(|| {
            segment::decode(
                Route::Single("track"),
                black_box(&body),
                &STAMP,
                privgate::json::Limits::default(),
                |_: &str| Ok(()),
            )
            .unwrap()
        })
    });
    g.bench_function("serde_value_edit", |b| {
        b.iter(|| {
            let mut v: serde_json::Value = serde_json::from_slice(black_box(TRACK)).unwrap();
            v["userId"] = "h1:Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV4".into();
            v["context"]["ip"] = "203.0.113.0".into();
            v["context"]
                .as_object_mut()
                .unwrap()
                .remove("userAgentData");
            let mut hits = 0;
            visit_serde(&mut v, &mut hits);
            (serde_json::to_vec(&v).unwrap(), hits)
        })
    });
    g.bench_function("sonic_value_edit", |b| {
        b.iter(|| {
            let mut v: sonic_rs::Value = sonic_rs::from_slice(black_box(TRACK)).unwrap();
            let o = v.as_object_mut().unwrap();
            o.insert(
                "userId",
                "h1:Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV4",
            );
            let ctx = o.get_mut(&"context").unwrap().as_object_mut().unwrap();
            ctx.insert("ip", "203.0.113.0");
            ctx.remove(&"userAgentData");
            let mut hits = 0;
            visit_sonic(&v, &mut hits);
            (sonic_rs::to_vec(&v).unwrap(), hits)
        })
    });
    g.finish();
}

fn batch_of_100(c: &mut Criterion) {
    let body = batch_of(100);
    let mut g = c.benchmark_group("batch_100");
    g.throughput(Throughput::Bytes(body.len() as u64))
        .measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_secs(1))
        .sample_size(20);
    g.bench_function("serde_value_split", |b| {
        b.iter(|| {
            let v: serde_json::Value = serde_json::from_slice(black_box(&body)).unwrap();
            v["batch"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| serde_json::to_vec(e).unwrap())
                .collect::<Vec<_>>()
        })
    });
    g.bench_function("privgate_ingest", |b| {
        b.iter(|| {
            segment::decode(
                Route::Batch,
                black_box(&body),
                &STAMP,
                privgate::json::Limits::default(),
                |_: &str| Ok(()),
            )
            .unwrap()
        })
    });
    // The key in the request's head, as analytics-node and the load test
    // send it: the batch is read in one pass.
    g.bench_function("privgate_ingest_head_key", |b| {
        b.iter(|| {
            segment::decode_keyed_by_head(
                Route::Batch,
                black_box(&body),
                &STAMP,
                privgate::json::Limits::default(),
            )
            .unwrap()
        })
    });
    g.finish();
}

criterion_group!(benches, single_event, batch_of_100);
criterion_main!(benches);
