//! What a problem in the config file is and where it is: [`Problem`] and
//! [`ConfigError`] (printed as `file:line:col: `key`: message` with a
//! `help:` line), and the positions of the TOML parser's own errors, which
//! name a byte offset that is turned into a line, a column and the dotted
//! key it falls in.

use std::fmt;
use std::path::PathBuf;

/// One thing wrong in the config file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// 1-based column, when known.
    pub column: Option<usize>,
    /// The key, as a path such as `destinations[0].url`.
    pub key: String,
    /// What is wrong.
    pub message: String,
    /// How to fix it.
    pub hint: Option<String>,
}

/// Why a config could not be loaded: every problem found, with positions.
#[derive(Debug, thiserror::Error)]
pub struct ConfigError {
    /// The config file.
    pub file: PathBuf,
    /// Everything wrong with it.
    pub problems: Vec<Problem>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let file = self.file.display();
        for (i, p) in self.problems.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            match (p.line, p.column) {
                (Some(line), Some(col)) => write!(f, "{file}:{line}:{col}: ")?,
                _ => write!(f, "{file}: ")?,
            }
            write!(f, "`{}`: {}", p.key, p.message)?;
            if let Some(hint) = &p.hint {
                write!(f, "\n  help: {hint}")?;
            }
        }
        Ok(())
    }
}

/// Turns a TOML/serde error into a positioned problem.
pub(super) fn parse_problem(text: &str, e: &toml::de::Error) -> Problem {
    let (line, column, key) = match e.span() {
        Some(span) => {
            let (line, col) = line_col(text, span.start);
            (Some(line), Some(col), key_at(text, span.start))
        }
        None => (None, None, "(file)".to_owned()),
    };
    let message = e.message().trim().to_owned();
    let hint = if message.starts_with("unknown field") {
        Some("remove the key or fix its spelling; see docs/config.md for every key".into())
    } else if message.starts_with("missing field") {
        Some("add the key; see docs/config.md".into())
    } else if message.contains("unknown variant") {
        Some("use one of the values listed above".into())
    } else {
        Some("see docs/config.md for the expected form".into())
    };
    Problem {
        line,
        column,
        key,
        message,
        hint,
    }
}

/// 1-based line and column of a byte offset.
pub(super) fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}

/// Best-effort dotted key at `offset`: the enclosing `[table]` header plus the
/// key on the line, e.g. `sources[1].protocol`.
fn key_at(text: &str, offset: usize) -> String {
    let offset = offset.min(text.len());
    let line_start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
    let line_end = text[offset..].find('\n').map_or(text.len(), |i| offset + i);
    let line = text[line_start..line_end].trim();
    let mut table = String::new();
    let mut counts: std::collections::HashMap<String, usize> = Default::default();
    for l in text[..line_start].lines() {
        let l = l.trim();
        if let Some(name) = l.strip_prefix("[[").and_then(|r| r.split("]]").next()) {
            let name = name.trim().to_owned();
            let n = counts.entry(name.clone()).or_insert(0);
            table = format!("{name}[{n}]");
            *n += 1;
        } else if let Some(name) = l.strip_prefix('[').and_then(|r| r.split(']').next()) {
            table = name.trim().to_owned();
        }
    }
    let key = if line.starts_with('[') {
        String::new()
    } else {
        line.split('=').next().unwrap_or("").trim().to_owned()
    };
    match (table.is_empty(), key.is_empty()) {
        (true, _) => key,
        (false, true) => table,
        (false, false) => format!("{table}.{key}"),
    }
}
