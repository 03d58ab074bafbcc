//! The Dockerfile and the Kubernetes manifests against the config they
//! deploy: ports, probes, mounts, secrets, the spool, the grace period, the
//! security context.

use super::*;

/// `[server] listen` and `[admin] listen` ports, and the shutdown budget.
struct Listeners {
    server: u16,
    admin: u16,
    shutdown: Duration,
    spool_dir: Option<String>,
}

fn listeners(config: &str) -> Listeners {
    let toml: toml::Value = toml::from_str(&read(config)).unwrap();
    let port = |table: &str| {
        let listen = toml[table]["listen"].as_str().unwrap();
        listen.rsplit(':').next().unwrap().parse().unwrap()
    };
    Listeners {
        server: port("server"),
        admin: port("admin"),
        shutdown: humantime::parse_duration(toml["server"]["shutdown_timeout"].as_str().unwrap())
            .unwrap(),
        spool_dir: toml
            .get("spool")
            .map(|s| s["dir"].as_str().unwrap().to_owned()),
    }
}

#[test]
fn the_dockerfile_builds_and_runs_what_the_config_needs() {
    let dockerfile = read("deploy/Dockerfile");
    let lines: Vec<&str> = dockerfile
        .lines()
        .map(str::trim)
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .collect();
    let stages: Vec<usize> = (0..lines.len())
        .filter(|&i| lines[i].starts_with("FROM "))
        .collect();
    assert!(stages.len() >= 3, "multi-stage: {stages:?}");
    let runtime = &lines[*stages.last().unwrap()..];
    assert!(
        runtime[0].starts_with("FROM gcr.io/distroless/cc-debian12:nonroot"),
        "{}",
        runtime[0]
    );
    // The dependency layer comes before the sources.
    let builder = &lines[..*stages.last().unwrap()];
    let cook = builder
        .iter()
        .position(|l| l.contains("cargo chef cook"))
        .expect("cargo chef cook");
    let sources = builder
        .iter()
        .rposition(|l| *l == "COPY . .")
        .expect("COPY . .");
    assert!(
        cook < sources,
        "the dependencies are built before the sources are copied"
    );
    assert!(builder
        .iter()
        .any(|l| l.contains("cargo build --release --locked --bin privgate")));

    let has = |line: &str| runtime.contains(&line);
    assert!(has("USER 65532:65532"));
    assert!(
        has("RUN [\"/usr/local/bin/privgate\", \"--version\"]"),
        "the smoke step"
    );
    assert!(has(
        "COPY deploy/kubernetes/base/proxy.toml /etc/privgate/config/proxy.toml"
    ));
    assert!(has("ENTRYPOINT [\"/usr/local/bin/privgate\"]"));
    assert!(has(
        "CMD [\"run\", \"--config\", \"/etc/privgate/config/proxy.toml\"]"
    ));
    assert!(has("VOLUME [\"/var/lib/privgate\"]"));
    let config = listeners("deploy/kubernetes/base/proxy.toml");
    assert!(
        config.spool_dir.unwrap().starts_with("/var/lib/privgate/"),
        "the spool is on the volume"
    );
    assert!(has(&format!("EXPOSE {} {}", config.server, config.admin)));
    // Only the binary, the config and the volume's mount point go in.
    let copies: Vec<&&str> = runtime.iter().filter(|l| l.starts_with("COPY ")).collect();
    assert_eq!(copies.len(), 3, "{copies:?}");
    for label in [
        "title",
        "description",
        "version",
        "revision",
        "created",
        "licenses",
        "source",
    ] {
        assert!(
            dockerfile.contains(&format!("org.opencontainers.image.{label}=")),
            "OCI label {label}"
        );
    }
    // The build context holds what the build reads.
    let ignore = read("deploy/Dockerfile.dockerignore");
    for kept in ignore.lines().filter_map(|l| l.strip_prefix('!')) {
        assert!(
            repo(kept.trim_end_matches('/')).exists(),
            "{kept} is not in the repository"
        );
    }
    for needed in [
        "Cargo.toml",
        "Cargo.lock",
        "src/",
        "benches/",
        "deploy/kubernetes/base/proxy.toml",
    ] {
        assert!(
            ignore.lines().any(|l| l == format!("!{needed}")),
            "{needed} is not in the build context"
        );
    }
}

/// The documents of a manifest file in deploy/kubernetes.
fn manifest(path: &str) -> Vec<Value> {
    yaml_file(&repo(&format!("deploy/kubernetes/{path}")))
}

fn str_list(v: &Value) -> Vec<&str> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect()
}

/// A container port's number by name.
fn named_port(container: &Value, name: &str) -> u16 {
    container["ports"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == name)
        .unwrap_or_else(|| panic!("no container port {name}"))["containerPort"]
        .as_u64()
        .unwrap() as u16
}

/// Checks one workload (StatefulSet or Deployment) against its config.
fn check_workload(workload: &Value, config_path: &str) {
    let config = listeners(config_path);
    let pod = &workload["spec"]["template"]["spec"];
    let containers = pod["containers"].as_array().unwrap();
    assert_eq!(containers.len(), 1);
    let c = &containers[0];
    assert_eq!(
        str_list(&c["args"]),
        ["run", "--config", "/etc/privgate/config/proxy.toml"]
    );
    assert_eq!(
        named_port(c, "http"),
        config.server,
        "the tracker port is [server] listen's"
    );
    assert_eq!(
        named_port(c, "admin"),
        config.admin,
        "the admin port is [admin] listen's"
    );
    for (probe, path) in [
        ("readinessProbe", "/readyz"),
        ("livenessProbe", "/healthz"),
        ("startupProbe", "/healthz"),
    ] {
        let get = &c[probe]["httpGet"];
        assert_eq!(get["path"], path, "{probe}");
        let port = get["port"].as_str().map_or_else(
            || get["port"].as_u64().unwrap() as u16,
            |n| named_port(c, n),
        );
        assert_eq!(port, config.admin, "{probe} asks the admin listener");
    }
    // The drain fits in the grace period, after the preStop pause.
    let pause = c["lifecycle"]["preStop"]["sleep"]["seconds"]
        .as_u64()
        .expect("a preStop sleep");
    assert!(pause >= 1);
    let grace = pod["terminationGracePeriodSeconds"].as_u64().unwrap();
    assert!(
        Duration::from_secs(grace) > Duration::from_secs(pause) + config.shutdown,
        "terminationGracePeriodSeconds {grace} must exceed preStop {pause}s + shutdown_timeout {:?}",
        config.shutdown
    );
    // Locked down.
    let psc = &pod["securityContext"];
    assert_eq!(psc["runAsNonRoot"], true);
    assert_eq!(psc["runAsUser"], NONROOT);
    assert_eq!(psc["seccompProfile"]["type"], "RuntimeDefault");
    let csc = &c["securityContext"];
    assert_eq!(csc["readOnlyRootFilesystem"], true);
    assert_eq!(csc["allowPrivilegeEscalation"], false);
    assert_eq!(csc["runAsNonRoot"], true);
    assert_eq!(str_list(&csc["capabilities"]["drop"]), ["ALL"]);
    assert_eq!(pod["automountServiceAccountToken"], false);
    for kind in ["requests", "limits"] {
        for resource in ["cpu", "memory"] {
            assert!(
                c["resources"][kind][resource].is_string(),
                "resources.{kind}.{resource}"
            );
        }
    }
    // Mounts: the config (read-only, from the generated ConfigMap), the
    // secrets its file: references read (read-only), and the spool's
    // volume, the only writable one.
    let mounts: BTreeMap<&str, &Value> = c["volumeMounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["mountPath"].as_str().unwrap(), m))
        .collect();
    let volumes: BTreeMap<&str, &Value> = pod["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| (v["name"].as_str().unwrap(), v))
        .collect();
    let config_mount = mounts["/etc/privgate/config"];
    assert_eq!(config_mount["readOnly"], true);
    assert_eq!(
        volumes[config_mount["name"].as_str().unwrap()]["configMap"]["name"],
        "privgate-config"
    );
    let secrets_mount = mounts["/etc/privgate/secrets"];
    assert_eq!(secrets_mount["readOnly"], true);
    let secret = &volumes[secrets_mount["name"].as_str().unwrap()]["secret"];
    assert_eq!(secret["secretName"], "privgate-secrets");
    assert!(!secret_files(&read(config_path)).is_empty());
    let writable: Vec<&&str> = mounts
        .iter()
        .filter(|(_, m)| m["readOnly"] != true)
        .map(|(p, _)| p)
        .collect();
    match (&config.spool_dir, workload["kind"].as_str().unwrap()) {
        (Some(dir), "StatefulSet") => {
            assert_eq!(writable, [&"/var/lib/privgate"]);
            assert!(
                dir.starts_with("/var/lib/privgate/"),
                "the spool {dir} is on the volume"
            );
            let claim = mounts["/var/lib/privgate"]["name"].as_str().unwrap();
            let templates = workload["spec"]["volumeClaimTemplates"].as_array().unwrap();
            assert!(
                templates.iter().any(|t| t["metadata"]["name"] == claim),
                "the spool is a volume claim per pod, not an emptyDir"
            );
            assert!(
                !volumes.contains_key(claim),
                "the spool volume comes from the claim template"
            );
        }
        (None, "Deployment") => assert!(writable.is_empty(), "nothing is writable: {writable:?}"),
        (spool, kind) => panic!("a {kind} with spool {spool:?}"),
    }
}

#[test]
fn kubernetes_manifests_agree_with_the_config() {
    let kustomization = &manifest("base/kustomization.yaml")[0];
    let generator = &kustomization["configMapGenerator"][0];
    assert_eq!(generator["name"], "privgate-config");
    assert_eq!(str_list(&generator["files"]), ["proxy.toml"]);
    assert!(
        generator.get("options").is_none(),
        "the name hash is what rolls the pods"
    );
    let mut base = Vec::new();
    for file in str_list(&kustomization["resources"]) {
        base.extend(manifest(&format!("base/{file}")));
    }

    let statefulset = find(&base, "StatefulSet", "privgate");
    check_workload(statefulset, "deploy/kubernetes/base/proxy.toml");
    let deployment = &manifest("components/memory-only/deployment.yaml")[0];
    check_workload(
        deployment,
        "deploy/kubernetes/components/memory-only/proxy.toml",
    );
    // The two run the same pod, but for the spool.
    let mut stateful_pod = statefulset["spec"]["template"].clone();
    let mounts = stateful_pod["spec"]["containers"][0]["volumeMounts"]
        .as_array_mut()
        .unwrap();
    mounts.retain(|m| m["mountPath"] != "/var/lib/privgate");
    assert_eq!(
        stateful_pod, deployment["spec"]["template"],
        "the Deployment's pod drifted"
    );

    // Selectors reach the pods; each Service port targets a container port.
    let pod_labels = &statefulset["spec"]["template"]["metadata"]["labels"];
    let selects = |selector: &Value| {
        selector
            .as_object()
            .unwrap()
            .iter()
            .all(|(k, v)| &pod_labels[k] == v)
    };
    assert!(selects(&statefulset["spec"]["selector"]["matchLabels"]));
    let container = &statefulset["spec"]["template"]["spec"]["containers"][0];
    let config = listeners("deploy/kubernetes/base/proxy.toml");
    let services: Vec<&Value> = base.iter().filter(|d| d["kind"] == "Service").collect();
    for service in &services {
        assert!(
            selects(&service["spec"]["selector"]),
            "{}",
            service["metadata"]["name"]
        );
        for port in service["spec"]["ports"].as_array().unwrap() {
            named_port(container, port["targetPort"].as_str().unwrap());
        }
    }
    let ingest = find(&base, "Service", "privgate");
    assert_eq!(ingest["spec"]["ports"][0]["targetPort"], "http");
    let admin = find(&base, "Service", "privgate-admin");
    assert_eq!(
        admin["spec"]["type"], "ClusterIP",
        "the admin listener stays in the cluster"
    );
    assert_eq!(admin["spec"]["ports"][0]["targetPort"], "admin");
    assert_eq!(admin["spec"]["ports"][0]["port"], config.admin);
    let headless = find(&base, "Service", "privgate-headless");
    assert_eq!(headless["spec"]["clusterIP"], "None");
    assert_eq!(statefulset["spec"]["serviceName"], "privgate-headless");
    for service in &services {
        let t = service["spec"]["type"].as_str().unwrap_or("ClusterIP");
        assert_eq!(
            t, "ClusterIP",
            "no listener is exposed outside the cluster by default"
        );
    }

    // The ServiceMonitor scrapes the admin Service's port at /metrics.
    let monitor = &manifest("components/prometheus-operator/servicemonitor.yaml")[0];
    let wanted = &monitor["spec"]["selector"]["matchLabels"];
    let scraped: Vec<&&Value> = services
        .iter()
        .filter(|s| {
            wanted
                .as_object()
                .unwrap()
                .iter()
                .all(|(k, v)| &s["metadata"]["labels"][k] == v)
        })
        .collect();
    assert_eq!(scraped.len(), 1, "the ServiceMonitor selects one Service");
    assert_eq!(scraped[0]["metadata"]["name"], "privgate-admin");
    let endpoint = &monitor["spec"]["endpoints"][0];
    assert_eq!(endpoint["port"], scraped[0]["spec"]["ports"][0]["name"]);
    assert_eq!(endpoint["path"], "/metrics");
    // job="privgate", which the rules and the dashboard select.
    assert_eq!(monitor["spec"]["jobLabel"], "app.kubernetes.io/name");
    assert_eq!(
        scraped[0]["metadata"]["labels"]["app.kubernetes.io/name"],
        "privgate"
    );

    // The autoscaler scales this workload; the budget covers its pods.
    let hpa = find(&base, "HorizontalPodAutoscaler", "privgate");
    assert_eq!(hpa["spec"]["scaleTargetRef"]["kind"], "StatefulSet");
    assert_eq!(hpa["spec"]["scaleTargetRef"]["name"], "privgate");
    assert_eq!(hpa["spec"]["metrics"][0]["resource"]["name"], "cpu");
    assert!(hpa["spec"]["minReplicas"].as_u64().unwrap() >= 2);
    let pdb = find(&base, "PodDisruptionBudget", "privgate");
    assert!(selects(&pdb["spec"]["selector"]["matchLabels"]));
}
