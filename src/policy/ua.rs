//! `generalize_ua`: a user agent string becomes browser family, major
//! version and OS family (`Chrome 120 (Windows)`), which is what analytics
//! needs and far too coarse to fingerprint a device. Parsing is woothee's;
//! this module owns only the coarsening, and a small cache: a site's
//! traffic comes from few distinct user agents, and parsing one costs far
//! more than looking it up.

use std::collections::HashMap;
use std::sync::Mutex;

/// The cache's map. foldhash, not SipHash: a user agent is long (hashing
/// one with SipHash cost more than the rest of a lookup), and the map is
/// bounded and randomly seeded, so a client choosing colliding keys gains
/// little.
type Cache = HashMap<Box<str>, Box<str>, foldhash::fast::RandomState>;

/// Generalizes user agents, remembering recent answers (bounded).
#[derive(Debug, Default)]
pub struct Generalizer {
    cache: Mutex<Cache>,
}

impl Generalizer {
    /// Most user agents remembered; the cache starts over when full.
    pub const CAPACITY: usize = 2048;
    /// Longer user agents are not remembered.
    const MAX_LEN: usize = 512;

    /// The generalized form of `ua`.
    pub fn generalize(&self, ua: &str) -> String {
        let mut out = String::new();
        self.generalize_into(ua, &mut out);
        out
    }

    /// Appends the generalized form of `ua` to `out`, as the value actions
    /// write (copied under the lock: no shared string to count references
    /// to).
    pub fn generalize_into(&self, ua: &str, out: &mut String) {
        if ua.len() > Self::MAX_LEN {
            out.push_str(&generalize(ua));
            return;
        }
        if let Some(hit) = self.lock().get(ua) {
            out.push_str(hit);
            return;
        }
        let general = generalize(ua);
        out.push_str(&general);
        let mut cache = self.lock();
        if cache.len() >= Self::CAPACITY {
            cache.clear();
        }
        cache.insert(ua.into(), general.into());
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Cache> {
        // A panic elsewhere cannot leave a half-written map behind: recover it.
        self.cache.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Longest major version kept: real ones have at most four digits, and a
/// longer one could carry a number that is not a version.
pub const MAX_MAJOR_DIGITS: usize = 4;

/// The generalized form of `ua`; `Other` for what woothee does not know.
/// Browser and OS are names from woothee's dataset (never text of `ua`),
/// and the major version has at most [`MAX_MAJOR_DIGITS`] digits (a
/// longer one is left out): a `redact_pii` after it has nothing to find
/// (`Action::output_is_clean_for`).
pub fn generalize(ua: &str) -> String {
    let Some(parsed) = woothee::parser::Parser::new().parse(ua) else {
        return "Other (Other)".to_owned();
    };
    let browser = known(parsed.name);
    let major = parsed.version.split(['.', ' ']).next().filter(|v| {
        (1..=MAX_MAJOR_DIGITS).contains(&v.len()) && v.bytes().all(|b| b.is_ascii_digit())
    });
    let os = match parsed.os {
        os if os.starts_with("Windows") => "Windows",
        "Mac OSX" => "macOS",
        "iPhone" | "iPad" | "iPod" => "iOS",
        os => known(os),
    };
    written(browser, major, os)
}

/// How a generalized user agent is written. A browser whose name ends in
/// a digit (`Xbox 360`) gets no major: its digits and the major's would
/// read as one number.
pub(crate) fn written(browser: &str, major: Option<&str>, os: &str) -> String {
    match major.filter(|_| !browser.ends_with(|c: char| c.is_ascii_digit())) {
        Some(major) => format!("{browser} {major} ({os})"),
        None => format!("{browser} ({os})"),
    }
}

/// `name` if it is one of woothee's dataset names, else `Other`
/// (woothee's `UNKNOWN` included).
fn known(name: &str) -> &'static str {
    static NAMES: std::sync::LazyLock<std::collections::HashSet<&'static str>> =
        std::sync::LazyLock::new(|| dataset_names().collect());
    NAMES.get(name).copied().unwrap_or("Other")
}

/// Every browser and OS name in woothee's dataset.
pub(crate) fn dataset_names() -> impl Iterator<Item = &'static str> {
    woothee::dataset::DATASET
        .values()
        .flat_map(|d| [d.name, d.os])
        .filter(|n| !n.is_empty() && *n != "UNKNOWN")
}

#[cfg(test)]
mod tests {
    use super::generalize;

    #[test]
    fn real_user_agents_lose_everything_but_family_and_major() {
        let cases = [
            ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36", "Chrome 120 (macOS)"),
            ("Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Gecko/20100101 Firefox/121.0", "Firefox 121 (Windows)"),
            ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_1_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1.2 Mobile/15E148 Safari/604.1", "Safari 17 (iOS)"),
            ("Mozilla/5.0 (Linux; Android 14; Pixel 8 Pro) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.6099.43 Mobile Safari/537.36", "Chrome 120 (Android)"),
            ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/120.0.0.0 Safari/537.36", "Chrome 120 (Linux)"),
            ("curl/8.4.0", "HTTP Library (Other)"),
            ("", "Other (Other)"),
        ];
        for (ua, want) in cases {
            assert_eq!(generalize(ua), want, "{ua}");
        }
        // Device model and build (Pixel 8 Pro) never survive.
        assert!(!generalize(cases[3].0).contains("Pixel"));
    }

    #[test]
    fn the_cache_answers_alike_and_stays_bounded() {
        let g = super::Generalizer::default();
        let ua = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Gecko/20100101 Firefox/121.0";
        assert_eq!(&*g.generalize(ua), generalize(ua));
        assert_eq!(&*g.generalize(ua), "Firefox 121 (Windows)");
        for i in 0..super::Generalizer::CAPACITY + 10 {
            g.generalize(&format!("agent/{i}"));
        }
        assert!(g.lock().len() <= super::Generalizer::CAPACITY);
    }
}
