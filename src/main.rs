//! The `privgate` command: parse the command line, load the config, run.
//! All logic lives in the library.

use anyhow::Context;
use clap::{Parser, Subcommand};
use privgate::config::Config;
use std::path::PathBuf;
use std::process::ExitCode;

/// mimalloc, not the system allocator: every event's output body is a
/// fresh allocation of about its size, which glibc serves from its slower
/// bins (over 1 KiB); measured in benches/policy.rs, ~4% of the per-event
/// pipeline. The price is memory, which [`allocator`]'s pacer keeps down.
/// Built without transparent huge pages (`no_thp`): with them, batches
/// peaked at ~95 MiB, at the same speed.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's options privgate sets, and the pacer that decides when the
/// memory privgate freed goes back to the OS. It owns mimalloc's purge
/// delay and its forced collections; it never allocates per event, logs,
/// or touches anything of mimalloc but its option table, `mi_collect` and
/// its own thread's heap.
///
/// **Why a pacer.** What mimalloc gives back and privgate then uses again
/// costs a page fault per 4 KiB page (~1.9 us on the load test's machine),
/// plus the `madvise` that gave it back. Given back 5 ms after it was freed
/// (the delay before the pacer), that was 0.3 to 0.4 faults per event:
/// an event lives longer than 5 ms, waiting for its batch. Kept for
/// mimalloc's own second, the batch load test peaked at 58 to 96 MiB. So
/// freed memory is kept for [`PURGE_DELAY_MS`] while the process holds
/// little, and given back every [`EVERY`] while its anonymous resident
/// memory is over [`HIGH_ANONYMOUS`] (load-tests/README.md, section Memory,
/// has the measurements). Far below it, or over it with nothing to give
/// back (a large heap at rest), the pacer looks less often.
mod allocator {
    use std::ffi::{c_int, c_long};
    use std::fs::File;
    use std::os::unix::fs::FileExt;
    use std::time::Duration;

    /// `mi_option_purge_delay` in mimalloc.h (the same in v2 and v3).
    const PURGE_DELAY: c_int = 15;

    /// Milliseconds mimalloc keeps memory freed before it gives it back to
    /// the OS, while the pacer runs. Its own default (1000 in v3) kept
    /// what a second of traffic churned through (~300 MB/s each of request
    /// bodies, events and batch bodies under the batch load test). At 100,
    /// single events fault 0.06 to 0.07 times each instead of 0.3 to 0.4,
    /// and durable ones cost ~3% less CPU; alone, 100 took durable batches
    /// to 67 to 69 MiB, which the pacer brings back to ~62.
    pub(super) const PURGE_DELAY_MS: c_long = 100;

    /// The purge delay without a pacer (no `/proc`, or the environment
    /// set none): the 5 ms the load tests were held to 64 MiB with before
    /// it (issue #21, load-tests/README.md).
    pub(super) const UNPACED_DELAY_MS: c_long = 5;

    /// Anonymous resident memory (the heap, not the binary's mapped file)
    /// over which the pacer gives what is freed back at once. Above what
    /// single-event load holds (10 to 11 MiB with the shipped policy, of
    /// 23 to 24 MiB resident), below what batches do (43 to 46 MiB), so
    /// that batches are paced as tightly as the 5 ms delay did. Anonymous,
    /// so that a larger binary or policy tables mapped from it do not
    /// move the bound.
    pub(super) const HIGH_ANONYMOUS: u64 = 16 << 20;

    /// How often the pacer looks once anonymous memory is over three
    /// quarters of [`HIGH_ANONYMOUS`]: one `pread` of `/proc/self/statm`
    /// and the wakeup, ~40 µs here (the wakeup, mostly).
    const EVERY: Duration = Duration::from_millis(10);

    /// How often below that: an idle process is not woken 100 times a
    /// second (0.3% of a core here), and memory freed meanwhile would be
    /// kept that long by the purge delay anyway.
    const IDLE_EVERY: Duration = Duration::from_millis(PURGE_DELAY_MS as u64);

    /// What a forced purge must give back, or anonymous memory grow by
    /// since the last one, to count as work for the pacer.
    pub(super) const PRODUCTIVE: u64 = 1 << 20;

    /// Purges in a row that gave back less than [`PRODUCTIVE`], with
    /// memory not growing, after which the pacer looks every
    /// [`IDLE_EVERY`] even over the bound: a heap that stays over
    /// [`HIGH_ANONYMOUS`] at rest (a large opt-out registry) has nothing
    /// to give back, and each look costs ~40 µs here (the wakeup, mostly):
    /// 0.4% of a core at 100 a second. Eight (80 ms of nothing) is more
    /// than a busy process shows: under the batch load test nearly every
    /// purge gives back megabytes.
    const SLOW_AFTER: u32 = 8;

    /// What the pacer's purges have given back lately.
    #[derive(Debug, Default)]
    pub(super) struct Purges {
        /// Anonymous memory just after the last purge.
        after: u64,
        /// Purges in a row that gave back less than [`PRODUCTIVE`].
        idle: u32,
    }

    impl Purges {
        /// Records a purge that took anonymous memory from `before` to `after`.
        pub(super) fn done(&mut self, before: u64, after: u64) {
            self.idle = if before.saturating_sub(after) < PRODUCTIVE {
                self.idle.saturating_add(1)
            } else {
                0
            };
            self.after = after;
        }

        /// How long the pacer waits after a reading of `anonymous`.
        pub(super) fn next_look(&self, anonymous: u64) -> Duration {
            let growing = anonymous > self.after.saturating_add(PRODUCTIVE);
            if anonymous > HIGH_ANONYMOUS / 4 * 3 && (self.idle < SLOW_AFTER || growing) {
                EVERY
            } else {
                IDLE_EVERY
            }
        }
    }

    extern "C" {
        fn mi_option_get(option: c_int) -> c_long;
        fn mi_option_set_default(option: c_int, value: c_long);
        fn mi_option_set(option: c_int, value: c_long);
        fn mi_collect(force: bool);
        fn mi_thread_init();
    }

    /// Sets privgate's purge delay for a process no pacer watches (one
    /// the environment set is kept). Called before any thread starts.
    pub(super) fn tune() {
        // SAFETY: a plain setter of mimalloc's option table, linked in with
        // the allocator; no pointer is passed, and no other thread runs yet.
        unsafe { mi_option_set_default(PURGE_DELAY, UNPACED_DELAY_MS) }
    }

    /// Why the pacer does not run.
    #[derive(Debug, PartialEq)]
    pub(super) enum Unpaced {
        /// The environment set the purge delay (`MIMALLOC_PURGE_DELAY`, in
        /// any case, or its old name `MIMALLOC_RESET_DELAY`): it alone
        /// decides.
        Configured,
        /// `/proc/self/statm` cannot be read.
        NoStatm,
        /// The thread did not start.
        NoThread,
    }

    /// Starts the pacer, for `privgate run`, after [`tune`] and before any
    /// other thread starts. Without it the delay stays [`UNPACED_DELAY_MS`]
    /// (or the environment's).
    pub(super) fn pace() -> Result<(), Unpaced> {
        // Asked of mimalloc, which reads its environment as it does (any
        // case, old names): a delay other than the one `tune` set came from
        // there. The name itself is checked too, for an operator who set
        // exactly that delay.
        // SAFETY: a plain getter of mimalloc's option table; no pointer.
        if unsafe { mi_option_get(PURGE_DELAY) } != UNPACED_DELAY_MS
            || std::env::var_os("MIMALLOC_PURGE_DELAY").is_some()
        {
            return Err(Unpaced::Configured);
        }
        let statm = Statm::open().ok_or(Unpaced::NoStatm)?;
        // Set while no other thread runs: mimalloc reads the option at
        // each purge decision, with no lock.
        // SAFETY: a plain setter of mimalloc's option table; no pointer.
        unsafe { mi_option_set(PURGE_DELAY, PURGE_DELAY_MS) };
        let spawned = std::thread::Builder::new()
            .name("mem-pacer".into())
            .spawn(move || {
                // `mi_collect` does nothing on a thread whose heap mimalloc
                // has not set up (theap.c: `!mi_theap_is_initialized`), and
                // the pacer allocates nothing that would set it up.
                // SAFETY: mimalloc's own thread setup; no pointer.
                unsafe { mi_thread_init() };
                let mut wait = EVERY;
                let mut purges = Purges::default();
                loop {
                    std::thread::sleep(wait);
                    // A reading that fails counts as over: never keep more.
                    let anonymous = statm.anonymous().unwrap_or(u64::MAX);
                    if over(anonymous) {
                        // SAFETY: `mi_collect` takes no pointer; mimalloc
                        // lets any thread force the purge of what its
                        // threads freed (one at a time, never blocking).
                        unsafe { mi_collect(true) }
                        purges.done(anonymous, statm.anonymous().unwrap_or(0));
                    }
                    wait = purges.next_look(anonymous);
                }
            });
        if spawned.is_err() {
            // SAFETY: as above; the thread did not start.
            unsafe { mi_option_set(PURGE_DELAY, UNPACED_DELAY_MS) };
            return Err(Unpaced::NoThread);
        }
        Ok(())
    }

    /// Whether `bytes` of anonymous resident memory call for giving what
    /// is freed back now.
    pub(super) fn over(bytes: u64) -> bool {
        bytes > HIGH_ANONYMOUS
    }

    /// `/proc/self/statm`, kept open and read again from its start (which
    /// makes the kernel write it anew).
    pub(super) struct Statm {
        file: File,
        page: u64,
    }

    impl Statm {
        pub(super) fn open() -> Option<Statm> {
            // SAFETY: sysconf reads a constant of the system; no pointer.
            let page = u64::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) }).ok()?;
            let statm = Statm {
                file: File::open("/proc/self/statm").ok()?,
                page,
            };
            statm.anonymous().map(|_| statm)
        }

        /// The process's anonymous resident bytes now.
        pub(super) fn anonymous(&self) -> Option<u64> {
            // At most 109 bytes: seven numbers, five of up to 20 digits.
            let mut buf = [0u8; 128];
            let n = self.file.read_at(&mut buf, 0).ok()?;
            anonymous_pages(&buf[..n]).map(|pages| pages.saturating_mul(self.page))
        }
    }

    /// The anonymous resident pages in a `statm` line: resident (its second
    /// field) less shared (its third: pages mapped from files).
    pub(super) fn anonymous_pages(line: &[u8]) -> Option<u64> {
        let mut fields = std::str::from_utf8(line).ok()?.split_ascii_whitespace();
        let mut number = || fields.next()?.parse::<u64>().ok();
        let (_size, resident, shared) = (number()?, number()?, number()?);
        Some(resident.saturating_sub(shared))
    }

    /// The purge delay in force.
    #[cfg(test)]
    pub(super) fn purge_delay() -> c_long {
        // SAFETY: as in `tune`.
        unsafe { mi_option_get(PURGE_DELAY) }
    }
}

#[derive(Parser)]
#[command(
    name = "privgate",
    version,
    about = "Privacy edge collector: a reverse proxy between analytics trackers and their backends.",
    after_help = "Examples:\n  \
        privgate check --config proxy.toml     validate the config and print a summary\n  \
        privgate run --config proxy.toml       serve trackers on the configured listener\n  \
        privgate explain --trace < events.ndjson   what each destination would receive, and why\n  \
        PRIVGATE_LOG=debug privgate run        more logs (never field values)\n\n\
        Config reference: docs/config.md"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve: accept tracker traffic and forward it to the destinations.
    #[command(after_help = "Example:\n  privgate run --config proxy.toml\n\n\
        Stops gracefully on SIGTERM or SIGINT: finishes in-flight requests and\n\
        flushes queued batches within server.shutdown_timeout.")]
    Run {
        /// The config file.
        #[arg(short, long, default_value = "proxy.toml")]
        config: PathBuf,
    },
    /// Print a new random 256-bit key (base64url) for [keys].
    #[command(after_help = "Example:\n  privgate keygen > keys/e1.key && chmod 600 keys/e1.key")]
    Keygen,
    /// Decrypt JWE compact strings read from stdin (one per line) with a key.
    #[command(after_help = "Example:\n  privgate decrypt --key file:keys/e1.key < batch.jwe")]
    Decrypt {
        /// The key, as "env:NAME" or "file:PATH" (never literally).
        #[arg(short, long)]
        key: String,
    },
    /// Show what each destination would receive for events read from stdin (NDJSON).
    #[command(after_help = "Examples:\n  \
        privgate explain --config proxy.toml < events.ndjson\n  \
        privgate explain --trace --destination local-file < events.ndjson\n  \
        privgate explain --source posthog --client-ip 203.0.113.7 < events.ndjson\n\n\
        One JSON line per event and destination: decision (forward or drop), the reason,\n\
        and the event as it would be sent (before payload encryption). --trace adds the\n\
        rules that changed it: rule, selector, action and path, never a value.\n\
        Events are read as the source's (protocol, destinations, client_ip) within the\n\
        [server] limits, as the server reads them.")]
    Explain {
        /// The config file.
        #[arg(short, long, default_value = "proxy.toml")]
        config: PathBuf,
        /// Only this destination.
        #[arg(short, long)]
        destination: Option<String>,
        /// List the rules that fired for each event and destination.
        #[arg(long)]
        trace: bool,
        /// As if the request carried `Sec-GPC: 1` (Global Privacy Control).
        #[arg(long)]
        gpc: bool,
        /// Read events as this source's: its protocol, its destinations and
        /// its client_ip (default: the first source).
        #[arg(short, long)]
        source: Option<String>,
        /// The client's address, written into each event as the source's
        /// client_ip says (truncated, full or none); none added without it.
        #[arg(long, value_name = "ADDR")]
        client_ip: Option<std::net::IpAddr>,
        /// The jurisdiction the CDN would state (e.g. DE, US-CA), for
        /// [consent.jurisdiction]; unknown without it.
        #[arg(long, value_name = "PLACE")]
        jurisdiction: Option<String>,
    },
    /// Validate the config (secrets included) and print a summary; exit 2 on errors.
    #[command(after_help = "Example:\n  privgate check --config proxy.toml")]
    Check {
        /// The config file.
        #[arg(short, long, default_value = "proxy.toml")]
        config: PathBuf,
    },
    /// The audit log ([audit]).
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Check an audit log's sequence, hash chain and signed checkpoints;
    /// exit 1 naming the first broken record.
    #[command(
        after_help = "Example:\n  privgate audit verify --log audit.jsonl --public-key <base64url>\n\n\
        Without --public-key, every checkpoint must be signed with the key of the first one\n\
        (printed on success: compare it with the one you keep)."
    )]
    Verify {
        /// The log file.
        #[arg(long)]
        log: PathBuf,
        /// The public key checkpoints must be signed with (base64url).
        #[arg(long)]
        public_key: Option<String>,
    },
}

fn main() -> ExitCode {
    allocator::tune();
    let cli = Cli::parse();
    match cli.command {
        Command::Keygen => {
            println!("{}", privgate::crypto::generate_key().as_str());
            ExitCode::SUCCESS
        }
        Command::Decrypt { key } => match decrypt(&key) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("privgate decrypt: {e:#}");
                ExitCode::from(2)
            }
        },
        Command::Audit {
            command: AuditCommand::Verify { log, public_key },
        } => {
            let file = match std::fs::File::open(&log) {
                Ok(file) => file,
                Err(e) => {
                    eprintln!("privgate audit verify: cannot open {}: {e}", log.display());
                    return ExitCode::from(2);
                }
            };
            let reader = std::io::BufReader::new(file);
            match privgate::audit::verify(reader, public_key.as_deref()) {
                Ok(v) => {
                    println!(
                        "{}: ok: {} records, {} signed checkpoints (key {}), {} records after the last one",
                        log.display(),
                        v.records,
                        v.signed_checkpoints,
                        v.public_key.as_deref().unwrap_or("none"),
                        v.unsigned_tail
                    );
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("privgate audit verify: {}: {e}", log.display());
                    ExitCode::from(1)
                }
            }
        }
        Command::Check { config } => match Config::load(&config) {
            Ok(config) => {
                print!("{}", config.summary());
                for warning in config.warnings() {
                    eprintln!("warning: {warning}");
                }
                println!("{}: ok", config.path.display());
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("{e}");
                ExitCode::from(2)
            }
        },
        Command::Explain {
            config,
            destination,
            trace,
            gpc,
            source,
            client_ip,
            jurisdiction,
        } => {
            let config = match Config::load(&config) {
                Ok(config) => config,
                Err(e) => {
                    eprintln!("{e}");
                    return ExitCode::from(2);
                }
            };
            let options = privgate::explain::Options {
                destination,
                trace,
                gpc,
                source,
                client_ip,
                jurisdiction,
            };
            let stdin = std::io::stdin();
            let stdout = std::io::stdout();
            match privgate::explain::run(
                &config,
                &options,
                stdin.lock(),
                stdout.lock(),
                std::io::stderr(),
            ) {
                Ok(summary) if summary.invalid == 0 => ExitCode::SUCCESS,
                Ok(_) => ExitCode::from(1),
                Err(e) => {
                    eprintln!("privgate explain: {e}");
                    ExitCode::from(2)
                }
            }
        }
        Command::Run { config } => {
            init_logging();
            let config = match Config::load(&config) {
                Ok(config) => config,
                Err(e) => {
                    eprintln!("{e}");
                    return ExitCode::from(2);
                }
            };
            match run(config) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    tracing::error!("{e:#}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}

fn decrypt(key: &str) -> anyhow::Result<()> {
    use privgate::config::{SecretError, SecretRef};
    use std::io::{BufRead, Write};
    let secret = SecretRef::parse(key)
        .and_then(|r| match r {
            SecretRef::Literal(_) => Err(SecretError::LiteralNotAllowed),
            r => r.resolve(std::path::Path::new("")),
        })
        .context("--key")?;
    // One key is given: use it whatever kid the JWE names; AES-GCM's
    // authentication tells whether it is the right one.
    let stdin = std::io::stdin();
    let mut out = std::io::stdout().lock();
    for (n, line) in stdin.lock().lines().enumerate() {
        let line = line.context("reading stdin")?;
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let kid = privgate::crypto::jwe_kid(line).unwrap_or_default();
        let key =
            privgate::crypto::EncryptionKey::from_text(&kid, secret.expose()).context("--key")?;
        let plaintext = privgate::crypto::jwe_decrypt(std::slice::from_ref(&key), line)
            .with_context(|| format!("line {}", n + 1))?;
        out.write_all(&plaintext)?;
        if !plaintext.ends_with(b"\n") {
            out.write_all(b"\n")?;
        }
    }
    Ok(())
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("PRIVGATE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .init();
}

fn run(config: Config) -> anyhow::Result<()> {
    match allocator::pace() {
        Ok(()) => tracing::debug!("allocator pacer on"),
        Err(why) => tracing::debug!(?why, "allocator pacer off"),
    }
    let runtime = privgate::app::runtime(&config).context("cannot start the async runtime")?;
    runtime.block_on(async {
        // Watched before anything listens: SIGHUP's default action ends the
        // process, and a reload may come as soon as the addresses are logged.
        let signals = Signals::new()?;
        let running = privgate::app::start(config).await?;
        signals.serve_until_stopped(&running).await;
        tracing::info!("shutting down");
        running.shutdown().await;
        Ok(())
    })
}

/// The signals privgate acts on.
struct Signals {
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
    hup: tokio::signal::unix::Signal,
}

impl Signals {
    fn new() -> anyhow::Result<Signals> {
        use tokio::signal::unix::{signal, SignalKind};
        Ok(Signals {
            term: signal(SignalKind::terminate()).context("cannot watch SIGTERM")?,
            int: signal(SignalKind::interrupt()).context("cannot watch SIGINT")?,
            hup: signal(SignalKind::hangup()).context("cannot watch SIGHUP")?,
        })
    }

    /// Reloads the config on SIGHUP (its outcome is logged and counted);
    /// returns on SIGTERM or SIGINT.
    async fn serve_until_stopped(mut self, running: &privgate::app::Running) {
        loop {
            tokio::select! {
                _ = self.term.recv() => return,
                _ = self.int.recv() => return,
                _ = self.hup.recv() => {
                    let _ = running.reload().await;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::allocator;

    /// The option set is mimalloc's purge delay: still at mimalloc's own
    /// default (v3's one second) before, privgate's after. An upgrade that
    /// renumbers the options fails here rather than tuning another one.
    /// Then the pacer: the long delay while it runs.
    /// One test, in this order: a test alongside that frees memory would
    /// make mimalloc read the option first.
    #[test]
    fn the_purge_delay_is_the_option_tuned_and_paced() {
        // mimalloc reads its options' names in any case, and an old one.
        let configured = std::env::vars_os().any(|(name, _)| {
            let name = name.to_string_lossy().to_ascii_uppercase();
            name == "MIMALLOC_PURGE_DELAY" || name == "MIMALLOC_RESET_DELAY"
        });
        if configured {
            return;
        }
        assert_eq!(allocator::purge_delay(), 1000);
        allocator::tune();
        assert_eq!(allocator::purge_delay(), allocator::UNPACED_DELAY_MS);
        assert_eq!(allocator::pace(), Ok(()), "this test runs where /proc is");
        assert_eq!(allocator::purge_delay(), allocator::PURGE_DELAY_MS);

        // The anonymous resident size is read from the process itself,
        // and follows it: 64 MiB touched show as at least 60 MiB more.
        let statm = allocator::Statm::open().expect("/proc/self/statm");
        let before = statm.anonymous().expect("a reading");
        assert!(before > 0);
        let touched = std::hint::black_box(vec![1u8; 64 << 20]);
        let after = statm.anonymous().expect("a reading");
        assert!(after >= before + (60 << 20), "{before} -> {after}");
        assert!(allocator::over(after));
        assert!(!allocator::over(allocator::HIGH_ANONYMOUS));
        let fresh = allocator::Purges::default();
        let (high, idle) = (
            fresh.next_look(allocator::HIGH_ANONYMOUS),
            fresh.next_look(allocator::HIGH_ANONYMOUS / 2),
        );
        assert!(high < idle, "{high:?} {idle:?}");
        assert_eq!(fresh.next_look(u64::MAX), high);
        drop(touched);

        // Over the bound with nothing to give back (a large heap at rest):
        // after eight purges that gave back nothing, the looks slow down;
        // one that gives back, or memory growing, brings them back.
        let heap = allocator::HIGH_ANONYMOUS * 4;
        let mut purges = allocator::Purges::default();
        let looks: Vec<_> = (0..10)
            .map(|_| {
                purges.done(heap, heap);
                purges.next_look(heap)
            })
            .collect();
        assert!(looks[..7].iter().all(|&l| l == high), "{looks:?}");
        assert!(looks[7..].iter().all(|&l| l == idle), "{looks:?}");
        assert_eq!(purges.next_look(heap + allocator::PRODUCTIVE + 1), high);
        purges.done(heap + (8 << 20), heap);
        assert_eq!(purges.next_look(heap), high);

        // Freed in event-sized blocks while over the bound, memory goes
        // back at the pacer's next looks.
        let events: Vec<Vec<u8>> = (0..40_000).map(|_| vec![7u8; 1600]).collect();
        let held = statm.anonymous().expect("a reading");
        assert!(held >= before + (55 << 20), "{before} -> {held}");
        drop(std::hint::black_box(events));
        // Nothing here allocates any more, so nothing but the pacer makes
        // mimalloc purge: without it, the memory stays resident for good.
        // It takes the purge delay and a look or two (~120 ms); the bound
        // only ends the wait, generous for a pacer thread a busy machine
        // leaves unscheduled for seconds.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        let given_back = loop {
            std::thread::sleep(std::time::Duration::from_millis(10));
            if statm.anonymous().expect("a reading") + (40 << 20) <= held {
                break true;
            }
            if std::time::Instant::now() > deadline {
                break false;
            }
        };
        assert!(given_back, "{held} stayed resident for 20 s");
    }

    #[test]
    fn statm_lines_are_read_for_their_anonymous_pages() {
        let read = allocator::anonymous_pages;
        assert_eq!(read(b"5025 1234 800 200 0 3000 0\n"), Some(434));
        assert_eq!(read(b"5025 800 1234 200 0 3000 0\n"), Some(0));
        assert_eq!(read(b"5025 1234"), None);
        assert_eq!(read(b"5025 x 1"), None);
        assert_eq!(read(b""), None);
    }
}
