use super::*;
use std::io::BufReader;

fn config(path: &Path, every: u64, signed: bool) -> AuditConfig {
    AuditConfig {
        path: path.to_owned(),
        checkpoint_every: every,
        signing_seed: signed.then(|| zeroize::Zeroizing::new([7u8; 32])),
    }
}

fn check(path: &Path) -> Result<Verified, VerifyError> {
    verify(BufReader::new(File::open(path).unwrap()), None)
}

fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn a_written_log_verifies_and_continues_its_chain_across_opens() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit").join("log.jsonl");
    {
        let log = AuditLog::open(&config(&path, 3, true)).unwrap();
        for i in 0..7 {
            log.record("suppress", json!({ "count": i })).unwrap();
        }
    }
    let first = check(&path).unwrap();
    // 7 records and a checkpoint after every 3.
    assert_eq!(first.records, 9);
    assert_eq!(first.signed_checkpoints, 2);
    assert_eq!(first.unsigned_tail, 1);
    // Reopened: a checkpoint of what was there, then more.
    let log = AuditLog::open(&config(&path, 3, true)).unwrap();
    log.record("config_reload", json!({ "outcome": "success" }))
        .unwrap();
    drop(log);
    let second = check(&path).unwrap();
    assert_eq!(second.records, 11);
    assert_eq!(second.public_key, first.public_key);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0);
    }
}

#[test]
fn verify_names_the_record_that_was_tampered_with() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("log.jsonl");
    {
        let log = AuditLog::open(&config(&path, 4, true)).unwrap();
        for i in 0..10 {
            log.record("suppress", json!({ "count": i })).unwrap();
        }
    }
    let original = lines(&path);
    let write = |lines: &[String]| std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    // Every record but the last: changing it breaks the chain at it.
    for k in 0..original.len() - 1 {
        let mut tampered = original.clone();
        tampered[k] = tampered[k].replacen("\"at\":\"", "\"at\":\"1", 1);
        write(&tampered);
        assert_eq!(
            check(&path),
            Err(VerifyError::Chain {
                record: k as u64,
                line: k as u64 + 1
            }),
            "record {k}"
        );
    }
    // A record removed: the next one's seq says so.
    let mut removed = original.clone();
    removed.remove(3);
    write(&removed);
    assert!(matches!(
        check(&path),
        Err(VerifyError::Sequence { record: 3, .. })
    ));
    // A checkpoint re-signed with another key, or its signature changed.
    let checkpoint = original
        .iter()
        .position(|l| l.contains("\"checkpoint\""))
        .unwrap();
    let mut forged = original.clone();
    let record: Value = serde_json::from_str(&forged[checkpoint]).unwrap();
    let other = Ed25519KeyPair::from_seed_unchecked(&[9u8; 32]).unwrap();
    let signature = other.sign(record["prev"].as_str().unwrap().as_bytes());
    let mut record = record;
    record["public_key"] = URL_SAFE_NO_PAD.encode(other.public_key().as_ref()).into();
    record["signature"] = URL_SAFE_NO_PAD.encode(signature.as_ref()).into();
    forged[checkpoint] = serde_json::to_string(&record).unwrap();
    write(&forged[..=checkpoint]);
    let expected = check_with_key(&path, &original);
    assert!(
        matches!(expected, Err(VerifyError::OtherKey { .. })),
        "{expected:?}"
    );
    let mut bad_signature = original.clone();
    let mut record: Value = serde_json::from_str(&bad_signature[checkpoint]).unwrap();
    let mut sig = URL_SAFE_NO_PAD
        .decode(record["signature"].as_str().unwrap())
        .unwrap();
    sig[0] ^= 1;
    record["signature"] = URL_SAFE_NO_PAD.encode(&sig).into();
    bad_signature[checkpoint] = serde_json::to_string(&record).unwrap();
    write(&bad_signature[..=checkpoint]);
    assert!(matches!(check(&path), Err(VerifyError::Signature { .. })));
    write(&original);
    assert!(check(&path).is_ok());
}

/// Verifies against the public key of the untampered log's checkpoints.
fn check_with_key(path: &Path, original: &[String]) -> Result<Verified, VerifyError> {
    let key = original
        .iter()
        .find_map(|l| {
            let r: Value = serde_json::from_str(l).ok()?;
            r["public_key"].as_str().map(str::to_owned)
        })
        .unwrap();
    verify(BufReader::new(File::open(path).unwrap()), Some(&key))
}

#[test]
fn a_line_cut_short_by_a_crash_is_dropped_at_open() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("log.jsonl");
    {
        let log = AuditLog::open(&config(&path, 100, false)).unwrap();
        log.record("config_load", json!({ "outcome": "success" }))
            .unwrap();
    }
    let mut file = OpenOptions::new().append(true).open(&path).unwrap();
    file.write_all(br#"{"seq":1,"at":"2026-"#).unwrap();
    drop(file);
    assert!(matches!(check(&path), Err(VerifyError::Torn { line: 2 })));
    let log = AuditLog::open(&config(&path, 100, false)).unwrap();
    log.record("config_reload", json!({ "outcome": "failure" }))
        .unwrap();
    drop(log);
    let verified = check(&path).unwrap();
    // The first record, the checkpoint at open, the new one.
    assert_eq!(verified.records, 3);
    assert_eq!(verified.signed_checkpoints, 0);
}
