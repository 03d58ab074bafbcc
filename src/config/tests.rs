//! The config as a whole: defaults, and problems reported with positions.

use super::*;
use std::path::Path;
use std::time::Duration;

pub(crate) fn load(text: &str) -> Result<Config, ConfigError> {
    Config::from_str(text, Path::new("proxy.toml"))
}

pub(crate) const MINIMAL: &str = r#"
[[sources]]
name = "web"
protocol = "segment"
write_keys = ["k"]
[[destinations]]
name = "out"
kind = "stdout"
"#;

#[test]
fn a_destination_that_ignores_opt_outs_is_a_check_warning() {
    let config = load(MINIMAL).unwrap();
    assert!(config.destinations[0].consent.honor_opt_out, "the default");
    assert!(!config.summary().contains("honor_opt_out"));
    let config = load(&format!("{MINIMAL}honor_opt_out = false\n")).unwrap();
    assert!(!config.destinations[0].consent.honor_opt_out);
    let summary = config.summary();
    assert!(
        summary.contains("warning: destination out has honor_opt_out = false"),
        "{summary}"
    );
}

#[test]
fn the_shipped_config_is_valid() {
    let text = include_str!("../../proxy.toml");
    let config = load(text).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(config.server.listen.to_string(), "127.0.0.1:8080");
    assert_eq!(config.admin_listen.to_string(), "127.0.0.1:9090");
    assert!(config.sources[0].write_keys[0].ct_eq(b"demo"));
}

#[test]
fn a_destination_speaks_its_sources_protocol_or_says_why_not() {
    let sources = |second: &str| {
        format!(
            "[[sources]]\nname = \"web\"\nprotocol = \"segment\"\nwrite_keys = [\"k\"]\ndestinations = [\"seg\"]\n[[sources]]\nname = \"amp\"\nprotocol = \"amplitude\"\nwrite_keys = [\"a\"]\ndestinations = [{second}]\n"
        )
    };
    let http = |name: &str, extra: &str| {
        format!("[[destinations]]\nname = \"{name}\"\nkind = \"http\"\nurl = \"http://127.0.0.1:1/\"\ndelivery = \"memory\"\n{extra}\n")
    };
    let ok = format!(
        "{}{}{}",
        sources("\"amp\""),
        http("seg", ""),
        http("amp", "api_key = \"env:PATH\"")
    );
    let config = load(&ok).unwrap_or_else(|e| panic!("{e}"));
    let format = |i: usize| match &config.destinations[i].sink {
        SinkConfig::Http(h) => (h.format, h.api_key.is_some()),
        _ => unreachable!(),
    };
    assert_eq!(format(0), (BatchFormat::Segment, false));
    assert_eq!(format(1), (BatchFormat::Amplitude, true));
    // Their urls named only a host: the vendors' batch paths follow.
    let url = |i: usize| match &config.destinations[i].sink {
        SinkConfig::Http(h) => h.url.to_string(),
        _ => unreachable!(),
    };
    assert_eq!(url(0), "http://127.0.0.1:1/v1/batch");
    assert_eq!(url(1), "http://127.0.0.1:1/2/httpapi");

    // Amplitude events in a Segment batch: refused, with the fix.
    let mixed = format!("{}{}", sources("\"seg\""), http("seg", ""));
    let err = load(&mixed).unwrap_err();
    assert_eq!(err.problems[0].key, "destinations[0].format");
    assert!(
        err.problems[0].message.contains("`amplitude` source"),
        "{err}"
    );
    // ... unless the destination takes any event.
    let ndjson = format!(
        "{}{}",
        sources("\"seg\""),
        http("seg", "format = \"ndjson\"")
    );
    load(&ndjson).unwrap_or_else(|e| panic!("{e}"));
    // An Amplitude batch names a project.
    let keyless = format!(
        "{}{}{}",
        sources("\"amp\""),
        http("seg", ""),
        http("amp", "")
    );
    let err = load(&keyless).unwrap_err();
    assert_eq!(err.problems[0].key, "destinations[1].api_key");

    // Snowplow sources: a snowplow payload by default; it carries no
    // other protocol's events, and no other format carries theirs.
    let snowplow = |web_to: &str, sp_to: &str, sp_extra: &str| {
        format!(
            "[[sources]]\nname = \"web\"\nprotocol = \"segment\"\nwrite_keys = [\"k\"]\ndestinations = [{web_to}]\n[[sources]]\nname = \"sp\"\nprotocol = \"snowplow\"\nwrite_keys = [\"app\"]\ndestinations = [{sp_to}]\n{}{}",
            http("seg", ""),
            http("sp", sp_extra)
        )
    };
    let config = load(&snowplow("\"seg\"", "\"sp\"", "")).unwrap_or_else(|e| panic!("{e}"));
    let format = |i: usize| match &config.destinations[i].sink {
        SinkConfig::Http(h) => h.format,
        _ => unreachable!(),
    };
    assert_eq!(
        (format(0), format(1)),
        (BatchFormat::Segment, BatchFormat::Snowplow)
    );
    for (web_to, sp_to, sp_extra, wrong) in [
        ("\"seg\"", "\"seg\"", "", "`snowplow` source"),
        (
            "\"seg\"",
            "\"sp\"",
            "format = \"segment\"",
            "`snowplow` source",
        ),
        (
            "\"sp\"",
            "\"sp\"",
            "format = \"snowplow\"",
            "`segment` source",
        ),
        ("\"sp\"", "\"sp\"", "", "`snowplow` source"),
    ] {
        let err = load(&snowplow(web_to, sp_to, sp_extra)).unwrap_err();
        assert!(err.problems[0].message.contains(wrong), "{err}");
    }
    load(&snowplow("\"sp\"", "\"sp\"", "format = \"ndjson\"")).unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn consent_signal_mappings_are_checked() {
    let ok = format!("{MINIMAL}[consent]\ntcf_purposes = {{ analytics = [1, 24] }}\nconsent_mode = {{ analytics_storage = \"analytics\" }}\n");
    let config = load(&ok).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(config.consent.tcf_purposes["analytics"], [1, 24]);
    assert_eq!(config.consent.consent_mode.len(), 1);
    for (bad, key) in [
        (
            "tcf_purposes = { analytics = [0] }",
            "consent.tcf_purposes.analytics",
        ),
        (
            "tcf_purposes = { analytics = [25] }",
            "consent.tcf_purposes.analytics",
        ),
        (
            "tcf_purposes = { analytics = [] }",
            "consent.tcf_purposes.analytics",
        ),
        (
            "consent_mode = { analytics = \"analytics\" }",
            "consent.consent_mode.analytics",
        ),
    ] {
        let err = load(&format!("{MINIMAL}[consent]\n{bad}\n")).unwrap_err();
        assert_eq!(err.problems[0].key, key, "{bad}");
        assert_eq!(err.problems[0].line, Some(10), "{bad}");
    }
}

#[test]
fn us_opt_outs_name_purposes_destinations_require() {
    let with = |consent: &str| {
        format!("{MINIMAL}require_consent = [\"advertising\"]\n[consent]\ngpc_denies = [\"sale\"]\n{consent}")
    };
    let ok = with("gpp_path = \"context.gpp\"\nus_privacy_path = \"usp\"\n[consent.us_opt_outs]\nsale = [\"advertising\", \"sale\"]\nknown_child = [\"advertising\"]\n");
    let config = load(&ok).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(config.consent.us_opt_outs.sale, ["advertising", "sale"]);
    assert_eq!(config.consent.us_opt_outs.known_child, ["advertising"]);
    assert_eq!(config.consent.gpp_path, ["context", "gpp"]);
    assert_eq!(config.consent.us_privacy_path, ["usp"]);
    for (bad, key, line) in [
        (
            "[consent.us_opt_outs]\nsale = [\"advertising\", \"advertsing\"]",
            "consent.us_opt_outs.sale",
            13,
        ),
        (
            "[consent.us_opt_outs]\nsharing = [\"analytics\"]",
            "consent.us_opt_outs.sharing",
            13,
        ),
        ("gpp_path = \"context..gpp\"", "consent.gpp_path", 12),
        ("us_privacy_path = \"\"", "consent.us_privacy_path", 12),
    ] {
        let err = load(&with(&format!("{bad}\n"))).unwrap_err();
        assert_eq!(err.problems[0].key, key, "{bad}");
        assert_eq!(err.problems[0].line, Some(line), "{bad}");
    }
    // An unknown opt-out is an unknown key.
    assert!(load(&with("[consent.us_opt_outs]\nsell = [\"advertising\"]\n")).is_err());
}

#[test]
fn ga4_destinations_speak_gtag_or_the_measurement_protocol_within_their_bounds() {
    let sources = r#"
[[sources]]
name = "gtag"
protocol = "ga4"
write_keys = ["G-1"]
destinations = ["hits"]
[[sources]]
name = "mp"
protocol = "ga4_mp"
write_keys = ["G-1"]
api_secrets = ["env:PATH"]
destinations = ["mp"]
"#;
    let http = |name: &str, url: &str, extra: &str| {
        format!("[[destinations]]\nname = \"{name}\"\nkind = \"http\"\nurl = \"{url}\"\ndelivery = \"memory\"\n{extra}\n")
    };
    let hits = |extra: &str| http("hits", "https://g.test/g/collect", extra);
    let mp = |url: &str, extra: &str| http("mp", url, extra);
    let mp_url = "https://g.test/mp/collect?measurement_id=G-1";
    let ok = format!(
        "{sources}{}{}",
        hits(""),
        mp(mp_url, "api_secret = \"env:PATH\"")
    );
    let config = load(&ok).unwrap_or_else(|e| panic!("{e}"));
    let sink = |i: usize| match &config.destinations[i].sink {
        SinkConfig::Http(h) => (h.format, config.destinations[i].batch.max_events),
        _ => unreachable!(),
    };
    // The format follows the sources; the batch bound is the vendor's.
    assert_eq!(sink(0), (BatchFormat::Ga4, 20));
    assert_eq!(sink(1), (BatchFormat::Ga4Mp, 1));
    assert_eq!(config.sources[1].api_secrets.len(), 1);

    let problems = |text: String| -> Vec<String> {
        load(&text)
            .unwrap_err()
            .problems
            .iter()
            .map(|p| format!("{}: {}", p.key, p.message))
            .collect()
    };
    // More than a request takes, written: refused, not lowered.
    let big = format!(
        "{sources}{}{}",
        hits("batch = { max_events = 21 }"),
        mp(
            mp_url,
            "api_secret = \"env:PATH\"\nbatch = { max_events = 2 }"
        )
    );
    assert_eq!(
        problems(big),
        [
            "destinations[0].batch.max_events: a `ga4` request takes at most 20 event(s)",
            "destinations[1].batch.max_events: a `ga4_mp` request takes at most 1 event(s)",
        ]
    );
    // The secret: required, never in the url, which names the stream.
    let bare = format!(
        "{sources}{}{}",
        hits(""),
        mp("https://g.test/mp/collect?api_secret=s", "")
    );
    let found = problems(bare);
    assert!(
        found
            .iter()
            .any(|p| p.starts_with("destinations[1].api_secret")),
        "{found:?}"
    );
    assert!(
        found.iter().any(|p| p.contains("names its stream")),
        "{found:?}"
    );
    assert!(
        found
            .iter()
            .any(|p| p.contains("cannot be written in the url")),
        "{found:?}"
    );
    // gtag hits cannot go out as Measurement Protocol bodies.
    let crossed = format!(
        "{sources}{}{}",
        hits("format = \"ga4_mp\""),
        mp(mp_url, "api_secret = \"env:PATH\"")
    );
    let found = problems(crossed);
    assert!(
        found[0].contains("a `ga4_mp` batch cannot carry the events of a `ga4` source"),
        "{found:?}"
    );
    // api_secrets: required for ga4_mp, references only, nowhere else.
    let no_secret = ok.replace("api_secrets = [\"env:PATH\"]\n", "");
    assert!(problems(no_secret)[0].starts_with("sources[1].api_secrets"));
    let literal = ok.replace("api_secret = \"env:PATH\"", "api_secret = \"s3cret\"");
    let found = problems(literal);
    assert!(
        found[0].starts_with("destinations[1].api_secret"),
        "{found:?}"
    );
    assert!(!found[0].contains("s3cret"), "never echoed");
    let literal = ok.replace("api_secrets = [\"env:PATH\"]", "api_secrets = [\"s3cret\"]");
    let found = problems(literal);
    assert!(found[0].contains("literally"), "{found:?}");
    assert!(!found[0].contains("s3cret"), "never echoed");
    let misplaced = ok.replace(
        "write_keys = [\"G-1\"]\ndestinations = [\"hits\"]",
        "write_keys = [\"G-1\"]\napi_secrets = [\"env:PATH\"]\ndestinations = [\"hits\"]",
    );
    assert!(problems(misplaced)[0].contains("takes no api_secrets"));
}

#[test]
fn a_minimal_config_gets_safe_defaults() {
    let config = load(MINIMAL).unwrap();
    assert_eq!(config.consent.default, ConsentDefault::Deny);
    assert_eq!(config.server.max_body_bytes, 512 * 1024);
    assert_eq!(config.sources[0].destinations, vec![0]);
}

#[test]
fn the_in_flight_budget_must_hold_one_largest_request() {
    let config = load(MINIMAL).unwrap();
    assert_eq!(config.server.max_inflight_bytes, 64 << 20);
    assert_eq!(config.server.max_concurrent_streams, 100);
    let largest = crate::ingest::inflight::largest_request(&config.server);
    assert!(largest < 64 << 20, "{largest}");
    let with = |server: &str| format!("[server]\n{server}\n{MINIMAL}");
    let err = load(&with("max_inflight_bytes = \"8MiB\"")).unwrap_err();
    let p = &err.problems[0];
    assert_eq!(
        (p.key.as_str(), p.line),
        ("server.max_inflight_bytes", Some(2))
    );
    let at_least = units::ByteSize((largest as u64).div_ceil(1 << 20) << 20);
    assert!(
        p.message.contains(&format!("use at least {at_least}")),
        "{}",
        p.message
    );
    // Smaller requests, a smaller budget.
    let small = "max_inflight_bytes = \"2MiB\"\nmax_body_bytes = \"64KiB\"\n\
                 max_decompressed_bytes = \"256KiB\"\nmax_batch_events = 1000";
    assert_eq!(
        load(&with(small)).unwrap().server.max_inflight_bytes,
        2 << 20
    );
    let err = load(&with("max_concurrent_streams = 0")).unwrap_err();
    assert_eq!(err.problems[0].key, "server.max_concurrent_streams");
    // The memory limit: none by default, at least 32MiB when set.
    assert_eq!(config.server.memory_limit, None);
    let set = load(&with("memory_limit = \"384MiB\"")).unwrap();
    assert_eq!(set.server.memory_limit, Some(384 << 20));
    let err = load(&with("memory_limit = \"16MiB\"")).unwrap_err();
    let p = &err.problems[0];
    assert_eq!((p.key.as_str(), p.line), ("server.memory_limit", Some(2)));
    assert!(p.message.contains("use at least 32MiB"), "{}", p.message);
}

#[test]
fn the_send_timeout_defaults_to_30s_and_must_be_positive() {
    let config = load(MINIMAL).unwrap();
    assert_eq!(config.server.send_timeout, Duration::from_secs(30));
    let with = |server: &str| format!("[server]\n{server}\n{MINIMAL}");
    let config = load(&with("send_timeout = \"2s\"")).unwrap();
    assert_eq!(config.server.send_timeout, Duration::from_secs(2));
    let err = load(&with("send_timeout = \"0s\"")).unwrap_err();
    let p = &err.problems[0];
    // Like every duration, its problem names the key (durations keep no
    // position).
    assert_eq!(
        (p.key.as_str(), p.message.as_str()),
        ("server.send_timeout", "must be longer than zero")
    );
}

#[test]
fn more_consent_purposes_than_supported_are_refused() {
    let many: Vec<String> = (0..=crate::consent::MAX_PURPOSES)
        .map(|i| format!("\"p{i}\""))
        .collect();
    let text = MINIMAL.replace(
        "kind = \"stdout\"",
        &format!("kind = \"stdout\"\nrequire_consent = [{}]", many.join(",")),
    );
    let err = load(&text).unwrap_err();
    assert_eq!(err.problems[0].key, "destinations[].require_consent");
    assert!(err.problems[0].message.contains("at most 64"));
    let text = MINIMAL.replace(
        "kind = \"stdout\"",
        &format!(
            "kind = \"stdout\"\nrequire_consent = [{}]",
            many[1..].join(",")
        ),
    );
    assert!(load(&text).is_ok());
}

#[test]
fn unknown_keys_are_errors_with_position_and_key() {
    let text = MINIMAL.replace("kind = \"stdout\"", "kind = \"stdout\"\nbatchh = 3");
    let err = load(&text).unwrap_err();
    let p = &err.problems[0];
    assert_eq!(p.line, Some(9));
    assert_eq!(p.column, Some(1));
    assert_eq!(p.key, "destinations[0].batchh");
    assert!(
        p.message.contains("unknown field `batchh`"),
        "{}",
        p.message
    );
    assert!(err
        .to_string()
        .starts_with("proxy.toml:9:1: `destinations[0].batchh`"));
}

#[test]
fn every_semantic_problem_is_reported_at_once() {
    let text = r#"
[server]
listen = "localhost:80"
[[sources]]
name = "web"
protocol = "segment"
write_keys = ["env:PRIVGATE_TEST_SURELY_UNSET_VAR"]
cors_origins = ["*"]
destinations = ["nope"]
[[destinations]]
name = "b"
kind = "http"
url = "ftp://x"
headers = { Authorization = "Bearer abc" }
"#;
    let err = load(text).unwrap_err();
    let keys: Vec<&str> = err.problems.iter().map(|p| p.key.as_str()).collect();
    assert_eq!(
        keys,
        [
            "server.listen",
            "destinations[0].url",
            "destinations[0].headers.Authorization",
            "destinations[0].delivery",
            "sources[0].write_keys",
            "sources[0].cors_origins",
            "sources[0].destinations"
        ]
    );
    assert_eq!(err.problems[0].line, Some(3));
    // The literal credential is never echoed back.
    assert!(!err.to_string().contains("Bearer abc"));
}

#[test]
fn http_destinations_are_durable_by_default_and_need_a_key_for_it() {
    let http = "[[destinations]]\nname = \"b\"\nkind = \"http\"\nurl = \"http://127.0.0.1:9/\"\n";
    let err = load(&format!("{MINIMAL}{http}")).unwrap_err();
    let p = &err.problems[0];
    assert_eq!(
        (p.key.as_str(), p.line),
        ("destinations[1].delivery", Some(11))
    );
    assert!(
        p.message.contains("the default for kind = \"http\""),
        "{}",
        p.message
    );
    assert!(p.hint.as_deref().unwrap().contains("privgate keygen"));

    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("k"), crate::crypto::generate_key().as_str()).unwrap();
    let key = format!(
        "[keys]\nencryption = [{{ id = \"e1\", key = \"file:{}/k\" }}]\n",
        dir.path().display()
    );
    let spool = "[spool]\ndir = \"spool-here\"\nfsync = \"always\"\nmax_bytes = \"64MiB\"\nmax_age = \"1h\"\n";
    let config = load(&format!("{MINIMAL}{http}{key}{spool}")).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(config.destinations[0].delivery, Delivery::Memory, "stdout");
    assert_eq!(config.destinations[1].delivery, Delivery::Durable, "http");
    assert_eq!(config.spool.dir, Path::new("spool-here"));
    assert_eq!(config.spool.fsync, Fsync::Always);
    assert_eq!(config.spool.max_bytes, 64 << 20);
    assert_eq!(config.spool.max_age, Duration::from_secs(3600));
    assert!(
        config
            .summary()
            .contains("durable (spool spool-here/b, up to 64MiB)"),
        "{}",
        config.summary()
    );

    let memory = format!("{MINIMAL}{http}delivery = \"memory\"\n");
    assert_eq!(
        load(&memory).unwrap().destinations[1].delivery,
        Delivery::Memory
    );

    let tiny =
        format!("{MINIMAL}{http}{key}[spool]\nmax_bytes = \"1MiB\"\nfsync = \"sometimes\"\n");
    let err = load(&tiny).unwrap_err();
    assert!(err.to_string().contains("fsync"), "{err}");
    let tiny = format!("{MINIMAL}{http}{key}[spool]\nmax_bytes = \"1MiB\"\n");
    let err = load(&tiny).unwrap_err();
    assert_eq!(err.problems[0].key, "spool.max_bytes");
    let huge =
        format!("{MINIMAL}{http}{key}[spool]\nsegment_bytes = \"2GiB\"\nmax_bytes = \"8GiB\"\n");
    let err = load(&huge).unwrap_err();
    assert_eq!(err.problems[0].key, "spool.segment_bytes");
    let largest =
        format!("{MINIMAL}{http}{key}[spool]\nsegment_bytes = \"1GiB\"\nmax_bytes = \"8GiB\"\n");
    assert_eq!(load(&largest).unwrap().spool.segment_bytes, 1 << 30);
}

#[test]
fn rules_compile_and_mistakes_point_at_their_line() {
    let ok = format!(
        "{MINIMAL}allow = [\"type\", \"properties.*\"]\n[[destinations.rules]]\nselect = \"context.ip\"\naction = \"truncate_ip\"\nipv4_prefix = 16\n[[rules]]\nname = \"scrub\"\nselect = [\"@url\", \"@referrer\"]\naction = \"scrub_url\"\nkeep_params = [\"utm_*\"]\n"
    );
    let config = load(&ok).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(config.policy.rules()[0].id, "scrub");
    assert_eq!(config.policy.rules()[0].selectors.len(), 12);
    assert_eq!(
        config.destinations[0].policy.rules()[0].id,
        "destinations[0].rules[0]"
    );
    assert_eq!(config.destinations[0].policy.allow().unwrap().len(), 2);

    let bad = format!("{MINIMAL}[[rules]]\nselect = \"@ip\"\naction = \"truncate\"\n");
    let err = load(&bad).unwrap_err();
    assert_eq!(err.problems[0].line, Some(11));
    assert!(err.problems[0]
        .message
        .contains("unknown variant `truncate`"));

    let bad = format!(
        "{MINIMAL}[[rules]]\nselect = \"a..b\"\naction = \"hash\"\nkeep_params = [\"x\"]\n[[rules]]\nselect = \"**\"\naction = \"redact_pii\"\ndetectors = [\"passport\"]\n"
    );
    let err = load(&bad).unwrap_err();
    let keys: Vec<&str> = err.problems.iter().map(|p| p.key.as_str()).collect();
    assert_eq!(
        keys,
        [
            "rules[0].keep_params",
            "rules[0].select",
            "rules[0].action",
            "rules[1].detectors"
        ]
    );
    assert_eq!(err.problems[1].line, Some(10));
}

#[test]
fn phone_regions_are_known_regions_on_detector_rules() {
    let ok = format!(
        "{MINIMAL}[[rules]]\nselect = \"**\"\naction = \"redact_pii\"\nphone_regions = [\"ES\", \"GB\"]\n"
    );
    let config = load(&ok).unwrap_or_else(|e| panic!("{e}"));
    let crate::policy::rules::Action::RedactPii(scanner) = &config.policy.rules()[0].action else {
        panic!("a redact_pii rule");
    };
    assert_eq!(scanner.regions().len(), 2);
    let bad = format!(
        "{MINIMAL}[[rules]]\nselect = \"**\"\naction = \"redact_pii\"\nphone_regions = [\"XX\"]\n[[rules]]\nselect = \"@ip\"\naction = \"truncate_ip\"\nphone_regions = [\"GB\"]\n[[rules]]\nselect = \"**\"\naction = \"redact_pii\"\nphone_regions = []\n"
    );
    let err = load(&bad).unwrap_err();
    let keys: Vec<&str> = err.problems.iter().map(|p| p.key.as_str()).collect();
    assert_eq!(
        keys,
        [
            "rules[0].phone_regions",
            "rules[1].phone_regions",
            "rules[2].phone_regions"
        ]
    );
    assert!(err.to_string().contains("unknown region `XX`"), "{err}");
}

#[test]
fn keys_are_checked_by_reference_id_and_activity() {
    let dir = tempfile::tempdir().unwrap();
    let key = crate::crypto::generate_key();
    std::fs::write(dir.path().join("k"), key.as_str()).unwrap();
    let d = dir.path().display();
    let ok = format!(
        "{MINIMAL}[keys]\nencryption = [{{ id = \"e1\", key = \"file:{d}/k\", active = false }}, {{ id = \"e2\", key = \"file:{d}/k\", active = true }}]\nhmac = [{{ id = \"h1\", secret = \"file:{d}/k\" }}]\n"
    );
    let config = load(&ok).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(config.keyring.active_encryption().unwrap().id(), "e2");
    assert_eq!(config.keyring.active_hmac().unwrap().id(), "h1");
    assert!(config
        .summary()
        .contains("keys: 1 hmac (active h1), 2 encryption (active e2)"));
    assert!(!config.summary().contains(key.as_str()));

    let bad = format!(
        "{MINIMAL}[keys]\nencryption = [{{ id = \"e1\", key = \"file:{d}/k\", active = true }}, {{ id = \"e1\", key = \"file:{d}/k\", active = true }}]\nhmac = [{{ id = \"h1\", secret = \"{key}\" }}]\n",
        key = key.as_str()
    );
    let err = load(&bad).unwrap_err();
    let keys: Vec<&str> = err.problems.iter().map(|p| p.key.as_str()).collect();
    assert_eq!(
        keys,
        [
            "keys.hmac[0].secret",
            "keys.encryption[1].id",
            "keys.encryption"
        ]
    );
    assert!(
        !err.to_string().contains(key.as_str()),
        "a literal key is never echoed"
    );
}

#[test]
fn secret_headers_must_be_references() {
    let text = MINIMAL.replace(
        "kind = \"stdout\"",
        "kind = \"http\"\nurl = \"http://127.0.0.1:1/\"\nsecret_headers = { Authorization = \"Bearer abc\" }",
    );
    let err = load(&text).unwrap_err();
    assert!(err.to_string().contains("cannot be written literally"));
    assert!(!err.to_string().contains("Bearer abc"));
}

#[test]
fn check_prints_how_long_each_place_keeps_data() {
    let text = r#"
[[sources]]
name = "web"
protocol = "segment"
write_keys = ["k"]
[[destinations]]
name = "archive"
kind = "file"
path = "out/events.ndjson"
rotate_every = "1d"
retain = "7d"
[[destinations]]
name = "raw"
kind = "file"
path = "out/raw.ndjson"
[[destinations]]
name = "vendor"
kind = "http"
url = "https://vendor.test/v1/batch"
[spool]
max_age = "3d"
[audit]
log = "audit.jsonl"
"#;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("k"), crate::crypto::generate_key().as_str()).unwrap();
    let text = &format!(
        "{text}[keys]\nencryption = [{{ id = \"e1\", key = \"file:{}/k\" }}]\n",
        dir.path().display()
    );
    let config = load(text).unwrap();
    let retention = config.retention().join("\n");
    assert!(retention.contains("archive: file out/events.ndjson rotated every 1day; rotated files deleted 7days after rotation"), "{retention}");
    assert!(
        retention.contains("raw: file out/raw.ndjson grows until you remove it"),
        "{retention}"
    );
    assert!(
        retention.contains("vendor: undelivered events wait in the spool at most 3days"),
        "{retention}"
    );
    assert!(
        retention.contains("audit log audit.jsonl: kept"),
        "{retention}"
    );
    assert!(config.summary().contains("retention:"));
    // `retain` without rotation deletes nothing: a problem at its key.
    let err = load(&text.replace("rotate_every = \"1d\"\n", "")).unwrap_err();
    assert!(err.to_string().contains("destinations[0].retain"), "{err}");
    // Rotation keys belong to file destinations only.
    let err = load(&text.replace(
        "url = \"https://vendor.test/v1/batch\"",
        "url = \"https://vendor.test/v1/batch\"\nretain = \"1d\"",
    ))
    .unwrap_err();
    assert!(err.to_string().contains("does not apply"), "{err}");
}

#[test]
fn concurrency_is_adaptive_by_default_a_number_pins_it_and_mistakes_name_the_key() {
    use crate::forward::settings::{Concurrency, SinkConfig};
    let http = |extra: &str| {
        format!("{MINIMAL}[[destinations]]\nname = \"b\"\nkind = \"http\"\nurl = \"http://127.0.0.1:9/\"\ndelivery = \"memory\"\n{extra}")
    };
    let concurrency =
        |text: &str| match &load(text).unwrap_or_else(|e| panic!("{e}")).destinations[1].sink {
            SinkConfig::Http(h) => h.concurrency,
            _ => unreachable!(),
        };
    assert_eq!(concurrency(&http("")), Concurrency::Adaptive { max: 32 });
    assert_eq!(
        concurrency(&http("max_concurrency = 100\n")),
        Concurrency::Adaptive { max: 100 }
    );
    assert_eq!(
        concurrency(&http("concurrency = \"adaptive\"\nmax_concurrency = 1\n")),
        Concurrency::Adaptive { max: 1 }
    );
    assert_eq!(
        concurrency(&http("concurrency = 4\n")),
        Concurrency::Fixed(4)
    );

    for (extra, key, line, says) in [
        (
            "concurrency = true\n",
            "concurrency",
            14,
            "expected an integer",
        ),
        (
            "concurrency = \"fast\"\n",
            "concurrency",
            14,
            "or \"adaptive\"",
        ),
        ("concurrency = 0\n", "concurrency", 14, "0 is out of range"),
        (
            "concurrency = 300\n",
            "concurrency",
            14,
            "300 is out of range",
        ),
        (
            "max_concurrency = 0\n",
            "max_concurrency",
            14,
            "0 is out of range",
        ),
        (
            "max_concurrency = 1025\n",
            "max_concurrency",
            14,
            "1025 is out of range",
        ),
        (
            "concurrency = 4\nmax_concurrency = 8\n",
            "max_concurrency",
            15,
            "only with concurrency = \"adaptive\"",
        ),
    ] {
        let err = load(&http(extra)).unwrap_err();
        let p = &err.problems[0];
        assert_eq!(
            (p.key.as_str(), p.line),
            (format!("destinations[1].{key}").as_str(), Some(line)),
            "{extra}: {err}"
        );
        assert!(p.message.contains(says), "{extra}: {}", p.message);
    }
    let err = load(&http("concurrency = [1]\n")).unwrap_err().to_string();
    assert!(
        err.contains("destinations[1].concurrency")
            && err.contains("an integer")
            && err.contains("\"adaptive\""),
        "{err}"
    );
}
