//! The process's own resource use, read from `/proc/self` at each scrape,
//! under the names every Prometheus client library uses
//! (`process_resident_memory_bytes`, `process_cpu_seconds_total`, ...), so
//! that dashboards and alerts written for any exporter read it.
//!
//! Linux only: elsewhere the collector reports nothing. A file that cannot
//! be read or parsed leaves its metrics out of that scrape; it never fails
//! the scrape.

use prometheus::core::{Collector, Desc};
use prometheus::proto::MetricFamily;
use prometheus::{Counter, Gauge, Opts};

/// Clock ticks per second of `/proc/<pid>/stat`'s times: `USER_HZ`, which
/// Linux fixes at 100 for user space on every architecture it supports.
const USER_HZ: f64 = 100.0;

/// Reads `/proc/self` when gathered.
pub(super) struct ProcessCollector {
    descs: Vec<Desc>,
    cpu: Counter,
    rss: Gauge,
    vsize: Gauge,
    open_fds: Gauge,
    max_fds: Gauge,
    start_time: Gauge,
    threads: Gauge,
    /// One scrape at a time: the CPU counter is brought up to date by
    /// reading it and adding the difference.
    scrape: std::sync::Mutex<()>,
}

impl ProcessCollector {
    pub(super) fn new() -> ProcessCollector {
        let cpu = Counter::with_opts(Opts::new(
            "process_cpu_seconds_total",
            "User and system CPU time spent, in seconds.",
        ))
        .expect("valid metric");
        let gauge =
            |name: &str, help: &str| Gauge::with_opts(Opts::new(name, help)).expect("valid metric");
        let rss = gauge(
            "process_resident_memory_bytes",
            "Resident memory size, in bytes.",
        );
        let vsize = gauge(
            "process_virtual_memory_bytes",
            "Virtual memory size, in bytes.",
        );
        let open_fds = gauge("process_open_fds", "Open file descriptors.");
        let max_fds = gauge("process_max_fds", "The limit on open file descriptors.");
        let start_time = gauge(
            "process_start_time_seconds",
            "Start time of the process since the Unix epoch, in seconds.",
        );
        let threads = gauge(
            "process_threads",
            "Operating system threads of the process.",
        );
        let mut descs = Vec::new();
        for c in [
            &cpu as &dyn Collector,
            &rss,
            &vsize,
            &open_fds,
            &max_fds,
            &start_time,
            &threads,
        ] {
            descs.extend(c.desc().into_iter().cloned());
        }
        ProcessCollector {
            descs,
            cpu,
            rss,
            vsize,
            open_fds,
            max_fds,
            start_time,
            threads,
            scrape: std::sync::Mutex::new(()),
        }
    }
}

impl Default for ProcessCollector {
    fn default() -> Self {
        ProcessCollector::new()
    }
}

impl Collector for ProcessCollector {
    fn desc(&self) -> Vec<&Desc> {
        self.descs.iter().collect()
    }

    fn collect(&self) -> Vec<MetricFamily> {
        let _one_at_a_time = self.scrape.lock().unwrap_or_else(|e| e.into_inner());
        let mut out = Vec::new();
        let Some(stat) = read("/proc/self/stat").and_then(|s| Stat::parse(&s)) else {
            return out;
        };
        // A counter only goes up: add what was spent since the last scrape.
        let cpu = (stat.utime + stat.stime) as f64 / USER_HZ;
        let before = self.cpu.get();
        if cpu > before {
            self.cpu.inc_by(cpu - before);
        }
        out.extend(self.cpu.collect());
        self.vsize.set(stat.vsize as f64);
        out.extend(self.vsize.collect());
        self.threads.set(stat.threads as f64);
        out.extend(self.threads.collect());
        if let Some(kib) = read("/proc/self/status").and_then(|s| status_kib(&s, "VmRSS:")) {
            self.rss.set((kib * 1024) as f64);
            out.extend(self.rss.collect());
        }
        if let Ok(dir) = std::fs::read_dir("/proc/self/fd") {
            self.open_fds.set(dir.count() as f64);
            out.extend(self.open_fds.collect());
        }
        if let Some(max) = read("/proc/self/limits").and_then(|s| max_open_files(&s)) {
            self.max_fds.set(max as f64);
            out.extend(self.max_fds.collect());
        }
        if let Some(boot) = read("/proc/stat").and_then(|s| boot_time(&s)) {
            self.start_time
                .set(boot as f64 + stat.starttime as f64 / USER_HZ);
            out.extend(self.start_time.collect());
        }
        out
    }
}

fn read(path: &str) -> Option<String> {
    std::fs::read_to_string(path).ok()
}

/// The fields of `/proc/self/stat` used here (proc(5)).
#[derive(Debug, PartialEq)]
struct Stat {
    utime: u64,
    stime: u64,
    threads: u64,
    starttime: u64,
    vsize: u64,
}

impl Stat {
    /// The command name (field 2) is in parentheses and may itself hold
    /// spaces and parentheses: fields are counted from the last `)`.
    fn parse(text: &str) -> Option<Stat> {
        let rest = &text[text.rfind(')')? + 1..];
        // rest's first field is field 3 (state).
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let field = |n: usize| fields.get(n - 3)?.parse::<u64>().ok();
        Some(Stat {
            utime: field(14)?,
            stime: field(15)?,
            threads: field(20)?,
            starttime: field(22)?,
            vsize: field(23)?,
        })
    }
}

/// A `kB` line of `/proc/self/status`, e.g. `VmRSS: 1234 kB`.
pub(crate) fn status_kib(text: &str, key: &str) -> Option<u64> {
    let line = text.lines().find(|l| l.starts_with(key))?;
    line[key.len()..].split_whitespace().next()?.parse().ok()
}

/// The soft limit of `Max open files` in `/proc/self/limits`.
fn max_open_files(text: &str) -> Option<u64> {
    let line = text.lines().find(|l| l.starts_with("Max open files"))?;
    line["Max open files".len()..]
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// `btime` of `/proc/stat`: boot time in seconds since the epoch.
fn boot_time(text: &str) -> Option<u64> {
    text.lines()
        .find_map(|l| l.strip_prefix("btime "))?
        .trim()
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_are_counted_after_the_last_parenthesis() {
        // A command name with a space and a ")" in it.
        let line = "4242 (priv gate) x) S 1 4242 4242 0 -1 4194560 1500 0 0 0 \
                    250 75 0 0 20 0 9 0 123456 104857600 2048 18446744073709551615";
        assert_eq!(
            Stat::parse(line),
            Some(Stat {
                utime: 250,
                stime: 75,
                threads: 9,
                starttime: 123456,
                vsize: 104857600,
            })
        );
        assert_eq!(Stat::parse("4242 (cut short) S 1"), None);
    }

    #[test]
    fn status_limits_and_boot_time_lines() {
        let status = "Name:\tprivgate\nVmPeak:\t  9000 kB\nVmRSS:\t   31744 kB\n";
        assert_eq!(status_kib(status, "VmRSS:"), Some(31744));
        assert_eq!(status_kib(status, "VmSwap:"), None);
        let limits = "Limit                     Soft Limit           Hard Limit           Units     \n\
                      Max open files            65536                524288               files     \n";
        assert_eq!(max_open_files(limits), Some(65536));
        assert_eq!(
            boot_time("cpu  1 2 3\nbtime 1733300000\nprocesses 7\n"),
            Some(1733300000)
        );
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn this_process_is_measured() {
        let families = ProcessCollector::new().collect();
        let value = |name: &str| {
            let family = families
                .iter()
                .find(|f| f.name() == name)
                .unwrap_or_else(|| panic!("{name} missing"));
            let m = &family.get_metric()[0];
            if name.ends_with("_total") {
                m.get_counter().get_value()
            } else {
                m.get_gauge().get_value()
            }
        };
        assert!(value("process_resident_memory_bytes") > 1024.0 * 1024.0);
        assert!(value("process_open_fds") >= 3.0);
        assert!(value("process_max_fds") >= value("process_open_fds"));
        assert!(value("process_threads") >= 1.0);
        assert!(value("process_cpu_seconds_total") >= 0.0);
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64();
        let started = value("process_start_time_seconds");
        assert!(
            started > now - 86_400.0 && started <= now + 1.0,
            "{started} vs {now}"
        );
    }
}
