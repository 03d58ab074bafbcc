//! kustomize renders every overlay and component, the result validates
//! against Kubernetes' schemas, and a changed `proxy.toml` rolls the pods.

use super::*;

fn kustomize(kubectl: &Path, dir: &Path) -> Vec<Value> {
    let out = Command::new(kubectl)
        .arg("kustomize")
        .arg(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "kubectl kustomize {}:\n{}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    yaml_documents(&String::from_utf8(out.stdout).unwrap())
}

/// An overlay `overlays/<name>` in `k8s` (a copy of deploy/kubernetes:
/// kustomize takes only relative paths) of the base and these components.
fn overlay(k8s: &Path, name: &str, components: &[&str]) -> PathBuf {
    let mut text = String::from(
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - ../../base\n",
    );
    if !components.is_empty() {
        text.push_str("components:\n");
        for c in components {
            text.push_str(&format!("  - ../../{c}\n"));
        }
    }
    let dir = k8s.join("overlays").join(name);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("kustomization.yaml"), text).unwrap();
    dir
}

/// The name of the ConfigMap a rendered workload mounts its config from.
fn mounted_config(docs: &[Value], kind: &str) -> String {
    let workload = find(docs, kind, "privgate");
    let volumes = workload["spec"]["template"]["spec"]["volumes"]
        .as_array()
        .unwrap();
    let config = volumes.iter().find(|v| v["name"] == "config").unwrap();
    config["configMap"]["name"].as_str().unwrap().to_owned()
}

#[test]
fn kustomize_renders_every_overlay_and_the_result_validates() {
    let (Some(kubectl), Some(validate)) = (
        tool(
            "kubectl",
            "your distribution's kubectl package (kubectl kustomize renders offline)",
        ),
        tool(
            "kubernetes-validate",
            "python3 -m pip install kubernetes-validate",
        ),
    ) else {
        return;
    };
    let scratch = tempfile::tempdir().unwrap();
    let k8s = scratch.path().join("kubernetes");
    copy_dir(&repo("deploy/kubernetes"), &k8s);
    let mut renders = vec![
        (
            "overlays/production".to_owned(),
            repo("deploy/kubernetes/overlays/production"),
        ),
        (
            "overlays/memory-only".to_owned(),
            repo("deploy/kubernetes/overlays/memory-only"),
        ),
    ];
    for (n, components) in [
        &["components/hpa-events-rate"][..],
        &["components/memory-only", "components/hpa-events-rate"],
    ]
    .into_iter()
    .enumerate()
    {
        let dir = overlay(&k8s, &format!("test-{n}"), components);
        renders.push((format!("base + {}", components.join(" + ")), dir));
    }
    for (name, dir) in &renders {
        let docs = kustomize(&kubectl, dir);
        let memory = name.contains("memory-only");
        let kind = if memory { "Deployment" } else { "StatefulSet" };
        let workload = find(&docs, kind, "privgate");
        assert!(
            !docs
                .iter()
                .any(|d| d["kind"] == if memory { "StatefulSet" } else { "Deployment" }),
            "{name}: one workload"
        );
        // The pods mount the generated, hash-named ConfigMap.
        let config = mounted_config(&docs, kind);
        assert!(config.starts_with("privgate-config-"), "{name}: {config}");
        let map = find(&docs, "ConfigMap", &config);
        let toml = map["data"]["proxy.toml"].as_str().unwrap();
        assert_eq!(toml.contains("delivery = \"durable\""), !memory, "{name}");
        let hpa = find(&docs, "HorizontalPodAutoscaler", "privgate");
        assert_eq!(hpa["spec"]["scaleTargetRef"]["kind"], kind, "{name}");
        if name.contains("hpa-events-rate") {
            let metrics = hpa["spec"]["metrics"].as_array().unwrap();
            assert_eq!(metrics.len(), 2, "{name}: CPU and events/s");
            assert_eq!(
                metrics[1]["pods"]["metric"]["name"],
                "privgate_events_received_per_second"
            );
        }
        if name.starts_with("overlays/") {
            assert!(
                docs.iter()
                    .all(|d| d["metadata"]["namespace"] == "privgate"),
                "{name}"
            );
            let image = workload["spec"]["template"]["spec"]["containers"][0]["image"]
                .as_str()
                .unwrap();
            assert_eq!(image, "registry.example.com/privgate:0.1.0", "{name}");
            assert!(docs.iter().any(|d| d["kind"] == "ServiceMonitor"), "{name}");
            assert!(docs.iter().any(|d| d["kind"] == "PrometheusRule"), "{name}");
        }

        // Kubernetes' own schemas, strictly (unknown fields are errors),
        // for the oldest version the manifests need (preStop sleep: 1.30)
        // and the newest the validator knows.
        let file = scratch
            .path()
            .join(format!("{}.yaml", name.replace(['/', ' ', '+'], "_")));
        let out = Command::new(kubectl.as_path())
            .arg("kustomize")
            .arg(dir)
            .output()
            .unwrap();
        std::fs::write(&file, &out.stdout).unwrap();
        for version in ["1.30.0", "1.37.0"] {
            let out = Command::new(&validate)
                .args(["--strict", "--kubernetes-version", version])
                .arg(&file)
                .output()
                .unwrap();
            let text = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            assert!(out.status.success(), "{name} against {version}:\n{text}");
            let passed = text
                .lines()
                .filter(|l| l.starts_with("INFO") && l.contains("passed"))
                .count();
            let crds = docs
                .iter()
                .filter(|d| {
                    d["apiVersion"]
                        .as_str()
                        .unwrap()
                        .starts_with("monitoring.coreos.com/")
                })
                .count();
            assert_eq!(
                passed + crds,
                docs.len(),
                "{name}: every object validated but the CRDs:\n{text}"
            );
            // The only objects without a schema are the Prometheus
            // Operator's (checked by hand in kubernetes_manifests_agree_with_the_config).
            for line in text.lines().filter(|l| l.starts_with("WARN")) {
                assert!(
                    line.contains("kind ServiceMonitor") || line.contains("kind PrometheusRule"),
                    "{name}: {line}"
                );
            }
        }
    }

    // A changed proxy.toml is a new ConfigMap name in the pod template:
    // applying it rolls the pods.
    let copy = k8s;
    let before = mounted_config(
        &kustomize(&kubectl, &copy.join("overlays/production")),
        "StatefulSet",
    );
    let config = copy.join("base/proxy.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        text.replace("max_age = \"7d\"", "max_age = \"3d\""),
    )
    .unwrap();
    let after = mounted_config(
        &kustomize(&kubectl, &copy.join("overlays/production")),
        "StatefulSet",
    );
    assert_ne!(
        before, after,
        "a config change must change the pod template"
    );
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}
