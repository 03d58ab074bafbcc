//! The Prometheus rules: `promtool` checks and unit tests, a runbook section
//! and a unit test per alert, and the PrometheusRule carrying `alerts.yml`.

use super::*;

/// Every rule of alerts.yml: (alert or record name, rule).
fn rules() -> Vec<(String, Value)> {
    let doc = &yaml_file(&repo("deploy/prometheus/alerts.yml"))[0];
    let mut out = Vec::new();
    for group in doc["groups"].as_array().unwrap() {
        for rule in group["rules"].as_array().unwrap() {
            let name = rule["alert"].as_str().or(rule["record"].as_str()).unwrap();
            out.push((name.to_owned(), rule.clone()));
        }
    }
    out
}

/// GitHub's anchor of a Markdown heading.
fn anchor(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || *c == ' ' || *c == '-' || *c == '_')
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

#[test]
fn every_alert_has_a_runbook_section_and_a_unit_test() {
    let runbook = read("deploy/RUNBOOK.md");
    let anchors: BTreeSet<String> = runbook
        .lines()
        .filter_map(|l| l.strip_prefix("## ").or_else(|| l.strip_prefix("### ")))
        .map(anchor)
        .collect();
    let tests = &yaml_file(&repo("deploy/prometheus/alerts_test.yml"))[0];
    let mut firing = BTreeSet::new();
    let mut silent = BTreeSet::new();
    for test in tests["tests"].as_array().unwrap() {
        for case in test["alert_rule_test"].as_array().unwrap_or(&Vec::new()) {
            let name = case["alertname"].as_str().unwrap().to_owned();
            if case["exp_alerts"].as_array().is_some_and(|a| a.is_empty()) {
                silent.insert(name);
            } else {
                firing.insert(name);
            }
        }
    }
    let metrics_src = format!(
        "{}{}",
        read("src/metrics.rs"),
        read("src/metrics/process.rs")
    );
    let mut alerts = BTreeSet::new();
    for (name, rule) in rules() {
        // Every privgate metric an expression reads is one privgate exports.
        let expr = rule["expr"].as_str().unwrap();
        for metric in privgate_names(expr) {
            let base = ["_bucket", "_count", "_sum"]
                .iter()
                .find_map(|s| metric.strip_suffix(s))
                .unwrap_or(&metric);
            assert!(
                metrics_src.contains(&format!("\"{base}\"")),
                "{name} reads {metric}, which src/metrics.rs does not export"
            );
        }
        if rule.get("alert").is_none() {
            continue;
        }
        alerts.insert(name.clone());
        let runbook_ref = rule["annotations"]["runbook"]
            .as_str()
            .unwrap_or_else(|| panic!("{name}: no runbook"));
        let section = runbook_ref
            .strip_prefix("deploy/RUNBOOK.md#")
            .unwrap_or_else(|| panic!("{name}: runbook {runbook_ref} is not a RUNBOOK.md section"));
        assert!(
            anchors.contains(section),
            "{name}: RUNBOOK.md has no section #{section}"
        );
        assert_eq!(
            section,
            anchor(&name),
            "{name}: its section is named after it"
        );
        for key in ["summary", "description"] {
            assert!(rule["annotations"][key].is_string(), "{name}: no {key}");
        }
        assert!(
            rule["labels"]["severity"].is_string(),
            "{name}: no severity"
        );
        assert!(
            firing.contains(&name),
            "{name}: no unit test where it fires"
        );
        assert!(
            silent.contains(&name),
            "{name}: no unit test where it stays silent"
        );
    }
    // What issue 16 asks a team to be paged on, at least.
    for required in [
        "PrivgateInstanceDown",
        "PrivgateEventsDropped",
        "PrivgateBackpressure",
        "PrivgateSpoolGrowing",
        "PrivgateSpoolNearlyFull",
        "PrivgateCircuitOpen",
        "PrivgateUpstreamErrors",
        "PrivgateConfigReloadFailed",
        "PrivgateIngest5xx",
        "PrivgateIngestLatencyHigh",
    ] {
        assert!(alerts.contains(required), "no alert {required}");
    }
}

/// Metric names (`privgate_...` and `process_...`) in a PromQL expression;
/// recording rules (`privgate:...`) are not metrics.
fn privgate_names(expr: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let bytes = expr.as_bytes();
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b == b':';
    let mut i = 0;
    while i < bytes.len() {
        if word(bytes[i]) && (i == 0 || !word(bytes[i - 1])) {
            let start = i;
            while i < bytes.len() && word(bytes[i]) {
                i += 1;
            }
            let w = &expr[start..i];
            if (w.starts_with("privgate_") || w.starts_with("process_")) && !w.contains(':') {
                out.insert(w.to_owned());
            }
        } else {
            i += 1;
        }
    }
    out
}

/// The PrometheusRule of components/prometheus-operator: alerts.yml's
/// groups under `spec`, generated from it.
fn prometheusrule_text() -> String {
    let alerts = read("deploy/prometheus/alerts.yml");
    let body = &alerts[alerts.find("\ngroups:").expect("groups:") + 1..];
    let mut out = String::from(
        "# Generated from deploy/prometheus/alerts.yml by tests/deploy/prometheus.rs: edit\n\
         # that file, then PRIVGATE_BLESS=1 cargo test --test deploy prometheusrule\n\
         apiVersion: monitoring.coreos.com/v1\n\
         kind: PrometheusRule\n\
         metadata:\n  name: privgate\n  labels:\n    app.kubernetes.io/name: privgate\n\
         spec:\n",
    );
    for line in body.lines() {
        if !line.is_empty() {
            out.push_str("  ");
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

#[test]
fn the_prometheusrule_carries_alerts_yml() {
    let path = repo("deploy/kubernetes/components/prometheus-operator/prometheusrule.yaml");
    let want = prometheusrule_text();
    if std::env::var("PRIVGATE_BLESS").as_deref() == Ok("1") {
        std::fs::write(&path, &want).unwrap();
    }
    let got = std::fs::read_to_string(&path).unwrap();
    assert!(
        got == want,
        "{} is not alerts.yml's rules: run PRIVGATE_BLESS=1 cargo test --test deploy prometheusrule",
        path.display()
    );
    // And it is the same data, not only the same text.
    let rule = &yaml_documents(&got)[0];
    let alerts = &yaml_file(&repo("deploy/prometheus/alerts.yml"))[0];
    assert_eq!(rule["spec"]["groups"], alerts["groups"]);
}

#[test]
fn promtool_checks_the_rules_and_runs_their_unit_tests() {
    let Some(promtool) = tool(
        "promtool",
        "apt-get install prometheus (Debian ships promtool in it)",
    ) else {
        return;
    };
    let dir = repo("deploy/prometheus");
    for args in [
        ["check", "rules", "alerts.yml"],
        ["test", "rules", "alerts_test.yml"],
    ] {
        let out = Command::new(&promtool)
            .args(args)
            .current_dir(&dir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "promtool {}:\n{}{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
