//! The real `privgate` binary as a child process: started on a config file,
//! its addresses read from its log, and killed when dropped, so a failing
//! test never leaks a server.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_privgate");

/// Log lines kept for a failure message.
const LOG_LINES: usize = 50;

/// A running binary and the addresses it logged. Dropping it kills it.
pub struct Proc {
    pub child: Child,
    pub ingest: SocketAddr,
    pub admin: SocketAddr,
    log: Arc<Mutex<Vec<String>>>,
}

impl Proc {
    /// The last lines it wrote to stderr.
    pub fn log_tail(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Writes `text` to `dir/name` and returns the path.
pub fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

/// `privgate run --config <config>`, its stdout discarded.
pub fn spawn(config: &str) -> Proc {
    spawn_with_stdout(config, Stdio::null())
}

/// `privgate run --config <config>`; returns once it logged its addresses.
pub fn spawn_with_stdout(config: &str, stdout: Stdio) -> Proc {
    let mut command = Command::new(BIN);
    command.args(["run", "--config", config]).stdout(stdout);
    spawn_command(command)
}

/// Starts `command` (a privgate that serves: its user, directory and
/// arguments set by the caller), its stderr read for the addresses it
/// logs; returns once it logged them.
pub fn spawn_command(mut command: Command) -> Proc {
    let mut child = command.stderr(Stdio::piped()).spawn().unwrap();
    let stderr = child.stderr.take().unwrap();
    let log = Arc::new(Mutex::new(Vec::new()));
    let (tx, rx) = std::sync::mpsc::channel();
    let kept = log.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if line.contains("privgate listening") {
                let field = |name: &str| {
                    line.split_whitespace()
                        .find_map(|w| w.strip_prefix(name))
                        .and_then(|a| a.parse::<SocketAddr>().ok())
                };
                let _ = tx.send((field("ingest="), field("admin=")));
            }
            let mut kept = kept.lock().unwrap();
            if kept.len() == LOG_LINES {
                kept.remove(0);
            }
            kept.push(line);
        }
    });
    let proc_log = log.clone();
    let mut proc = Proc {
        child,
        ingest: SocketAddr::from(([127, 0, 0, 1], 0)),
        admin: SocketAddr::from(([127, 0, 0, 1], 0)),
        log,
    };
    // The guard exists before the wait, so a server that never logs is killed too.
    let (ingest, admin) = rx
        .recv_timeout(Duration::from_secs(10))
        .unwrap_or_else(|_| {
            panic!(
                "privgate did not log its addresses:\n{}",
                proc_log.lock().unwrap().join("\n")
            )
        });
    proc.ingest = ingest.unwrap();
    proc.admin = admin.unwrap();
    proc
}

/// `privgate run --config <config>` exec'd by `sh -c` after `script`
/// (e.g. `trap "" XFSZ`: an ignored signal stays ignored across exec). The
/// process keeps the shell's pid.
pub fn spawn_after_shell(script: &str, config: &str) -> Proc {
    let mut command = Command::new("sh");
    command
        .arg("-c")
        .arg(format!("{script}\nexec \"$0\" run --config \"$1\""))
        .arg(BIN)
        .arg(config)
        .stdout(Stdio::null());
    spawn_command(command)
}
