//! The opt-out registry: user and anonymous ids that consent to nothing,
//! read from a file (one id per line, `#` comments) and re-read when the
//! file changes.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::RwLock;
use std::time::SystemTime;

/// A set of opted-out ids, reloadable from its file.
#[derive(Debug)]
pub struct OptOutRegistry {
    path: Option<PathBuf>,
    state: RwLock<(HashSet<String>, Option<SystemTime>)>,
}

impl OptOutRegistry {
    /// Loads `path`.
    pub fn load(path: &Path) -> std::io::Result<OptOutRegistry> {
        let registry = OptOutRegistry {
            path: Some(path.to_owned()),
            state: RwLock::new((HashSet::new(), None)),
        };
        registry.reload()?;
        Ok(registry)
    }

    /// A fixed registry (tests).
    pub fn from_ids<'a>(ids: impl IntoIterator<Item = &'a str>) -> OptOutRegistry {
        OptOutRegistry {
            path: None,
            state: RwLock::new((ids.into_iter().map(str::to_owned).collect(), None)),
        }
    }

    /// Whether `id` is opted out.
    pub fn contains(&self, id: &str) -> bool {
        self.state.read().expect("registry lock").0.contains(id)
    }

    /// Number of ids.
    pub fn len(&self) -> usize {
        self.state.read().expect("registry lock").0.len()
    }

    /// Whether no id is listed.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Re-reads the file if it changed since the last read. Returns whether
    /// it was reloaded. On error the previous set stays in force.
    pub fn reload(&self) -> std::io::Result<bool> {
        let Some(path) = &self.path else {
            return Ok(false);
        };
        let modified = std::fs::metadata(path)?.modified().ok();
        if modified.is_some() && self.state.read().expect("registry lock").1 == modified {
            return Ok(false);
        }
        let text = std::fs::read_to_string(path)?;
        let ids = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(str::to_owned)
            .collect();
        *self.state.write().expect("registry lock") = (ids, modified);
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loads_and_reloads_on_change() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("optouts.txt");
        std::fs::write(&path, "# opted out\nuser-1\n\n  anon-2  \n").unwrap();
        let r = OptOutRegistry::load(&path).unwrap();
        assert!(r.contains("user-1") && r.contains("anon-2"));
        assert!(!r.contains("# opted out"));
        assert_eq!(r.len(), 2);
        assert!(!r.reload().unwrap(), "unchanged file is not re-read");
        std::thread::sleep(std::time::Duration::from_millis(20));
        std::fs::write(&path, "user-3\n").unwrap();
        // Force a different mtime even on coarse filesystems.
        let later = SystemTime::now() + std::time::Duration::from_secs(2);
        std::fs::File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_modified(later)
            .unwrap();
        assert!(r.reload().unwrap());
        assert!(r.contains("user-3") && !r.contains("user-1"));
        std::fs::remove_file(&path).unwrap();
        assert!(r.reload().is_err());
        assert!(
            r.contains("user-3"),
            "a failed reload keeps the previous set"
        );
    }
}
