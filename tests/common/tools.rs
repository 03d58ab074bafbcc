//! System tools a few tests drive (promtool, prometheus, kubectl,
//! kubernetes-validate). `cargo test` passes on a machine with only a Rust
//! toolchain: a test whose tool is missing says it skipped and returns —
//! unless `PRIVGATE_REQUIRE_TOOLS=1` (CI sets it), where a missing tool
//! fails the test.

use std::io::Write;
use std::path::PathBuf;

/// The tool's path on `PATH`, or `None` after saying the test is skipped
/// (and how to install it). Panics instead when tools are required.
pub fn tool(name: &str, install: &str) -> Option<PathBuf> {
    if let Some(path) = on_path(name) {
        return Some(path);
    }
    let message = format!("skipped: {name} not found; install with {install}");
    if std::env::var("PRIVGATE_REQUIRE_TOOLS").as_deref() == Ok("1") {
        panic!("{message} (PRIVGATE_REQUIRE_TOOLS=1 makes a missing tool a failure)");
    }
    note(&message);
    None
}

/// Writes a line to the real stderr, which the test harness does not
/// capture: a skip is seen in a plain `cargo test` run.
pub fn note(message: &str) {
    let _ = writeln!(std::io::stderr().lock(), "{message}");
}

/// `name` in one of `PATH`'s directories, as an executable file.
pub fn on_path(name: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| {
            p.metadata()
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}
