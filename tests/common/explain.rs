//! Running `privgate explain` in process, as the explain tests do.

use serde_json::Value;
use std::path::Path;

/// Each JSON line of explain's output.
pub fn lines(stdout: &str) -> Vec<Value> {
    stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// `explain::run` with `options`: the lines, what went to stderr, and
/// how many lines were refused.
pub fn explain_with(
    config: &str,
    options: privgate::explain::Options,
    events: &str,
) -> Result<(Vec<Value>, String, usize), privgate::explain::ExplainError> {
    let parsed = privgate::config::Config::from_str(config, Path::new("test.toml")).unwrap();
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let summary = privgate::explain::run(&parsed, &options, events.as_bytes(), &mut out, &mut err)?;
    Ok((
        lines(std::str::from_utf8(&out).unwrap()),
        String::from_utf8(err).unwrap(),
        summary.invalid,
    ))
}
