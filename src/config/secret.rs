//! Secret references (`env:NAME`, `file:PATH`) and the [`Secret`] type that
//! holds what they resolve to.
//!
//! A secret is resolved once, at config load, zeroized on drop, compared in
//! constant time and never printed: its `Debug` and `Display` say
//! `[redacted]`. Nothing in this module logs.

use std::path::{Path, PathBuf};

pub use crate::crypto::secret::{matches_any, Secret};

/// Where a secret's value comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SecretRef {
    /// `env:NAME`: the environment variable `NAME`.
    Env(String),
    /// `file:PATH`: the file's contents without the trailing newline.
    /// Relative paths are relative to the config file's directory.
    File(PathBuf),
    /// A literal value; allowed only where the value is public by nature
    /// (write keys are embedded in every web page that sends events).
    Literal(String),
}

/// Why a secret reference could not be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SecretError {
    /// The value is a literal where only a reference is allowed.
    #[error("secrets cannot be written literally; use \"env:NAME\" or \"file:/path/to/secret\"")]
    LiteralNotAllowed,
    /// `env:` or `file:` with nothing after it.
    #[error("`{0}` names nothing; write \"env:NAME\" or \"file:/path/to/secret\"")]
    Empty(&'static str),
    /// The environment variable is not set (or not UTF-8).
    #[error("environment variable `{0}` is not set; export it or use \"file:PATH\"")]
    EnvMissing(String),
    /// The file could not be read.
    #[error("cannot read secret file `{path}`: {reason}")]
    FileUnreadable {
        /// The path as resolved.
        path: String,
        /// The I/O error, without the file's contents.
        reason: String,
    },
    /// The reference resolved to an empty value.
    #[error("the secret resolved to an empty value")]
    EmptyValue,
}

impl SecretRef {
    /// Parses a reference. Anything without an `env:`/`file:` prefix is a
    /// literal; callers decide whether literals are acceptable.
    pub fn parse(text: &str) -> Result<SecretRef, SecretError> {
        if let Some(name) = text.strip_prefix("env:") {
            if name.is_empty() {
                return Err(SecretError::Empty("env:"));
            }
            Ok(SecretRef::Env(name.to_owned()))
        } else if let Some(path) = text.strip_prefix("file:") {
            if path.is_empty() {
                return Err(SecretError::Empty("file:"));
            }
            Ok(SecretRef::File(PathBuf::from(path)))
        } else {
            Ok(SecretRef::Literal(text.to_owned()))
        }
    }

    /// Reads the value. `base` is the directory of the config file.
    pub fn resolve(&self, base: &Path) -> Result<Secret, SecretError> {
        let value = match self {
            SecretRef::Env(name) => {
                std::env::var(name).map_err(|_| SecretError::EnvMissing(name.clone()))?
            }
            SecretRef::File(path) => {
                let path = base.join(path);
                let mut text =
                    std::fs::read_to_string(&path).map_err(|e| SecretError::FileUnreadable {
                        path: path.display().to_string(),
                        reason: e.kind().to_string(),
                    })?;
                let trimmed = text.trim_end_matches(['\n', '\r']).len();
                text.truncate(trimmed);
                text
            }
            SecretRef::Literal(value) => value.clone(),
        };
        if value.is_empty() {
            return Err(SecretError::EmptyValue);
        }
        Ok(Secret::new(value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_references() {
        assert_eq!(SecretRef::parse("env:X"), Ok(SecretRef::Env("X".into())));
        assert_eq!(
            SecretRef::parse("file:/k"),
            Ok(SecretRef::File(PathBuf::from("/k")))
        );
        assert_eq!(
            SecretRef::parse("demo"),
            Ok(SecretRef::Literal("demo".into()))
        );
        assert_eq!(SecretRef::parse("env:"), Err(SecretError::Empty("env:")));
    }

    #[test]
    fn file_secrets_drop_the_trailing_newline_and_resolve_relative_to_config() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("k"), "s3cret\n").unwrap();
        let secret = SecretRef::parse("file:k")
            .unwrap()
            .resolve(dir.path())
            .unwrap();
        assert_eq!(secret.expose(), "s3cret");
        assert!(matches!(
            SecretRef::parse("file:missing")
                .unwrap()
                .resolve(dir.path()),
            Err(SecretError::FileUnreadable { .. })
        ));
    }
}
