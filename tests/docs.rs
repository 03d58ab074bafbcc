//! The documentation's examples work as written.
//!
//! - Every `toml` block in README.md, SECURITY.md, docs/ and deploy/
//!   parses; one that is a whole config (sources and destinations) passes
//!   `privgate check`, with the environment variables it names set.
//! - Every `sh` block is valid shell (`bash -n`).
//! - The README's quick start runs: the shipped `proxy.toml` is served from
//!   a copy (listeners on ephemeral ports), each `sh` block of the section
//!   runs against it, and what a block documents as its output (comment
//!   lines after a command, `…` standing for what varies, or the `json`
//!   block that follows it) is what it prints.

mod common;

use common::*;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// A fenced block of a Markdown file.
#[derive(Debug)]
struct Block {
    file: String,
    /// 1-based line of the opening fence.
    line: usize,
    lang: String,
    text: String,
}

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// Every fenced block of `file` (relative to the repository).
fn blocks(file: &str) -> Vec<Block> {
    let text = std::fs::read_to_string(repo(file)).unwrap();
    let mut out = Vec::new();
    let mut open: Option<Block> = None;
    for (i, line) in text.lines().enumerate() {
        let fence = line.trim_start();
        match &mut open {
            None if fence.starts_with("```") => {
                open = Some(Block {
                    file: file.to_owned(),
                    line: i + 1,
                    lang: fence.trim_start_matches('`').trim().to_owned(),
                    text: String::new(),
                })
            }
            Some(_) if fence.starts_with("```") => out.push(open.take().unwrap()),
            Some(block) => {
                block.text.push_str(line);
                block.text.push('\n');
            }
            None => {}
        }
    }
    assert!(open.is_none(), "{file}: an unclosed code block");
    out
}

/// The Markdown files whose examples users copy.
fn documents() -> Vec<String> {
    let mut files = vec![
        "README.md".to_owned(),
        "SECURITY.md".to_owned(),
        "deploy/README.md".to_owned(),
    ];
    for entry in std::fs::read_dir(repo("docs")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "md") {
            files.push(format!(
                "docs/{}",
                path.file_name().unwrap().to_str().unwrap()
            ));
        }
    }
    files.sort();
    files
}

/// The `env:NAME` references in `text`.
fn env_refs(text: &str) -> Vec<String> {
    text.split("\"env:")
        .skip(1)
        .map(|rest| rest[..rest.find('"').unwrap()].to_owned())
        .collect()
}

#[test]
fn every_toml_example_parses_and_whole_configs_pass_check() {
    let key = Command::new(BIN).arg("keygen").output().unwrap();
    let key = String::from_utf8(key.stdout).unwrap().trim().to_owned();
    let dir = tempfile::tempdir().unwrap();
    let mut configs = 0;
    for file in documents() {
        for block in blocks(&file).into_iter().filter(|b| b.lang == "toml") {
            let at = format!("{}:{}", block.file, block.line);
            if let Err(e) = block.text.parse::<toml::Table>() {
                panic!("{at}: the example is not TOML: {e}");
            }
            if !(block.text.contains("[[sources]]") && block.text.contains("[[destinations]]")) {
                continue;
            }
            configs += 1;
            let path = dir.path().join(format!("example-{configs}.toml"));
            std::fs::write(&path, &block.text).unwrap();
            let mut check = Command::new(BIN);
            check.args(["check", "--config"]).arg(&path);
            for name in env_refs(&block.text) {
                check.env(name, &key);
            }
            let out = check.output().unwrap();
            assert!(
                out.status.success(),
                "{at}: privgate check refuses the example:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
    assert!(
        configs >= 1,
        "the README's multi-tracker example is a whole config"
    );
}

#[test]
fn every_shell_example_is_valid_shell() {
    for file in documents() {
        for block in blocks(&file).into_iter().filter(|b| b.lang == "sh") {
            let out = Command::new("bash")
                .args(["-n", "-c", &block.text])
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}:{}: not valid shell: {}",
                block.file,
                block.line,
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}

/// `documented` (with `…` for what varies) matches `actual`, whitespace
/// aside: the pieces between the ellipses appear in order.
fn matches_documented(documented: &str, actual: &str) -> bool {
    let squeeze = |s: &str| s.split_whitespace().collect::<String>();
    let actual = squeeze(actual);
    let mut at = 0;
    for piece in squeeze(documented).split('…') {
        match actual[at..].find(piece) {
            Some(found) => at += found + piece.len(),
            None => return false,
        }
    }
    true
}

/// A shell block as steps: each command with the output the comment lines
/// right after it document (empty when none).
fn steps(script: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    let mut command = String::new();
    for line in script.lines() {
        if let Some(comment) = line.strip_prefix('#') {
            if command.is_empty() {
                if let Some(last) = out.last_mut() {
                    last.1.push_str(comment);
                    last.1.push('\n');
                }
            } else {
                out.push((std::mem::take(&mut command), format!("{comment}\n")));
            }
            continue;
        }
        if line.trim().is_empty() {
            if !command.is_empty() {
                out.push((std::mem::take(&mut command), String::new()));
            }
            continue;
        }
        command.push_str(line);
        command.push('\n');
        // A command continues while its quotes are open or its line ends in `\`.
        if command.matches('\'').count().is_multiple_of(2) && !line.ends_with('\\') {
            out.push((std::mem::take(&mut command), String::new()));
        }
    }
    if !command.is_empty() {
        out.push((command, String::new()));
    }
    out
}

#[test]
fn the_quick_start_runs_as_documented() {
    let readme = std::fs::read_to_string(repo("README.md")).unwrap();
    let start = readme.find("## Quick start").expect("a quick start");
    let end = start + 1 + readme[start + 1..].find("\n## ").unwrap();
    let section_start_line = readme[..start].lines().count() + 1;
    let section_end_line = readme[..end].lines().count() + 1;

    // The shipped config, served from a copy whose listeners take free ports.
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let shipped = std::fs::read_to_string(repo("proxy.toml")).unwrap();
    for (from, what) in [("127.0.0.1:8080", "server"), ("127.0.0.1:9090", "admin")] {
        let line = format!("listen = \"{from}\"");
        assert!(
            shipped.contains(&line),
            "proxy.toml's {what} listens on {from}"
        );
    }
    let config = shipped
        .replace("listen = \"127.0.0.1:8080\"", "listen = \"127.0.0.1:0\"")
        .replace("listen = \"127.0.0.1:9090\"", "listen = \"127.0.0.1:0\"");
    std::fs::write(d.join("proxy.toml"), config).unwrap();
    std::fs::create_dir_all(d.join("keys")).unwrap();
    std::fs::copy(
        repo("keys/DEMO-ONLY-hmac.key"),
        d.join("keys/DEMO-ONLY-hmac.key"),
    )
    .unwrap();
    std::fs::create_dir_all(d.join("docs/examples")).unwrap();
    std::fs::copy(
        repo("docs/examples/events.ndjson"),
        d.join("docs/examples/events.ndjson"),
    )
    .unwrap();
    let mut command = Command::new(BIN);
    command
        .args(["run", "--config", "proxy.toml"])
        .current_dir(d);
    let pg = spawn_command(command);
    let bin = BIN;
    let localize = |text: &str| {
        text.replace("cargo run --release --", bin)
            .replace("127.0.0.1:8080", &pg.ingest.to_string())
            .replace("127.0.0.1:9090", &pg.admin.to_string())
    };

    let all = blocks("README.md");
    let section: Vec<&Block> = all
        .iter()
        .filter(|b| b.line > section_start_line && b.line < section_end_line)
        .collect();
    let mut ran = 0;
    for (i, block) in section.iter().enumerate() {
        if block.lang != "sh" {
            continue;
        }
        // A json block right after a shell block is that block's output.
        let json_output = section
            .get(i + 1)
            .filter(|next| next.lang == "json")
            .map(|next| next.text.clone());
        let steps = steps(&block.text);
        for (n, (command, documented)) in steps.iter().enumerate() {
            let documented = match (&json_output, n + 1 == steps.len()) {
                (Some(json), true) => json.clone(),
                _ => documented.clone(),
            };
            let run = || {
                Command::new("bash")
                    .args(["-c", &format!("set -eo pipefail\n{}", localize(command))])
                    .current_dir(d)
                    .stdin(Stdio::null())
                    .output()
                    .unwrap()
            };
            // Events reach the file destination a batch later: a command
            // that only reads (sends no body) may look again, for a while.
            let reads_only = !command.contains(" -d ");
            let mut out = run();
            for _ in 0..30 {
                let done = out.status.success()
                    && matches_documented(&documented, &String::from_utf8_lossy(&out.stdout));
                if done || !reads_only {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(100));
                out = run();
            }
            let at = format!("README.md:{}: {}", block.line, command.trim());
            let stdout = String::from_utf8_lossy(&out.stdout);
            // `privgate check` exits 0 on a valid config; `grep` finds its lines.
            assert!(
                out.status.success(),
                "{at}: exit {:?}\n{}{}\nprivgate: {}",
                out.status.code(),
                stdout,
                String::from_utf8_lossy(&out.stderr),
                pg.log_tail()
            );
            assert!(
                matches_documented(&documented, &stdout),
                "{at}: prints\n{stdout}\nnot what the README says:\n{documented}"
            );
            ran += 1;
        }
    }
    assert!(ran >= 5, "the quick start's commands ran ({ran})");
}

#[test]
fn documented_output_matching_is_strict_where_it_should_be() {
    assert!(matches_documented(
        "{\"a\":1,…\"c\":3}",
        "{\"a\":1,\"b\":2,\"c\":3}"
    ));
    assert!(matches_documented("{\"a\":\n  1}", "{\"a\": 1}"));
    assert!(!matches_documented("{\"a\":2}", "{\"a\":1}"));
    assert!(!matches_documented("x…y", "y x"));
    let steps = steps("curl -d '{\n\"a\":1}'\n# {\"ok\":true}\n\ncat f\n# line 1\n#  line 2\nls\n");
    assert_eq!(steps.len(), 3);
    assert_eq!(steps[0].1, " {\"ok\":true}\n");
    assert_eq!(steps[1].1, " line 1\n  line 2\n");
    assert_eq!(steps[2].1, "");
}
