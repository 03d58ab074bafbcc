//! The notice in plain words: fields, treatments, signals and retention
//! as a person reads them on the HTML page.

use super::{NoSignal, Retention, Signal, Treatment};

/// A selector in words: a semantic field by what it is (`@email` →
/// "email address"), `**` as every field, a path as it is.
pub(crate) fn field_label(selector: &str) -> String {
    let semantic = |name: &str| -> Option<&'static str> {
        Some(match name {
            "user_id" => "user id",
            "anonymous_id" => "anonymous (device) id",
            "ip" => "IP address",
            "user_agent" => "browser user agent",
            "url" => "page URL",
            "referrer" => "referring page URL",
            "email" => "email address",
            "phone" => "phone number",
            "traits" => "user traits (profile attributes)",
            "properties" => "event properties",
            "consent" => "consent choices",
            "name" => "name",
            "first_name" => "first name",
            "last_name" => "last name",
            "address" => "postal address",
            "birthday" => "birthday",
            _ => return None,
        })
    };
    match selector {
        "**" => "every field".to_owned(),
        "*" => "every top-level field".to_owned(),
        _ => match selector.strip_prefix('@').and_then(semantic) {
            Some(words) => words.to_owned(),
            None => format!("the field {selector}"),
        },
    }
}

impl Treatment {
    /// What it does, as a sentence fragment after "is/are".
    pub fn words(&self) -> String {
        match self {
            Treatment::Removed => "removed".to_owned(),
            Treatment::Hashed => {
                "replaced by a pseudonym (a keyed HMAC-SHA256 hash: the same value always gives \
                 the same pseudonym, which cannot be turned back without the operator's key)"
                    .to_owned()
            }
            Treatment::PiiRedacted { detectors } => format!(
                "searched for personal data ({}), which is replaced by a placeholder",
                list(detectors)
            ),
            Treatment::IpTruncated {
                ipv4_prefix,
                ipv6_prefix,
            } => format!(
                "cut to the network: IPv4 addresses keep their first {ipv4_prefix} bits, IPv6 \
                 addresses their first {ipv6_prefix}"
            ),
            Treatment::UrlScrubbed {
                kept_query_parameters,
                detectors,
            } => {
                let kept = match kept_query_parameters.is_empty() {
                    true => "every query parameter removed".to_owned(),
                    false => format!(
                        "query parameters removed except {}",
                        list(kept_query_parameters)
                    ),
                };
                format!(
                    "cleaned: {kept}, no user name, password or fragment, and personal data \
                     ({}) in the path replaced by a placeholder",
                    list(detectors)
                )
            }
            Treatment::UserAgentGeneralized => {
                "reduced to the browser's name, major version and operating system".to_owned()
            }
            Treatment::Encrypted => {
                "encrypted (JWE, AES-256-GCM): only the holder of the operator's key can read it"
                    .to_owned()
            }
        }
    }
}

impl Signal {
    /// The signal's name and what it does, in words.
    pub fn words(&self) -> (String, String) {
        match self {
            Signal::InEvent {
                objects,
                categories,
            } => {
                let mapped: Vec<String> = categories
                    .iter()
                    .map(|(id, purpose)| format!("{id} → {purpose}"))
                    .collect();
                (
                    "Consent choices sent with the event".to_owned(),
                    format!(
                        "read from {}; categories: {}. A choice that cannot be read grants \
                         nothing.",
                        list(objects),
                        match mapped.is_empty() {
                            true => "as the consent tool names them".to_owned(),
                            false => mapped.join(", "),
                        }
                    ),
                )
            }
            Signal::Gpc { denies } => (
                "Global Privacy Control".to_owned(),
                format!(
                    "a browser sending Sec-GPC: 1 withdraws consent for {}",
                    list(denies)
                ),
            ),
            Signal::Tcf {
                places,
                purposes,
                max_age_seconds,
            } => {
                let mapped: Vec<String> = purposes
                    .iter()
                    .map(|(purpose, tcf)| {
                        let numbers: Vec<String> = tcf.iter().map(u8::to_string).collect();
                        format!("{purpose} needs TCF purposes {}", numbers.join(", "))
                    })
                    .collect();
                let age = max_age_seconds.map_or(String::new(), |s| {
                    format!(" Strings older than {} grant nothing.", duration(s))
                });
                (
                    "IAB TCF consent string".to_owned(),
                    format!(
                        "read from {}; {}. A string that cannot be read grants nothing.{age}",
                        list(places),
                        mapped.join("; ")
                    ),
                )
            }
            Signal::ConsentMode { signals } => {
                let mapped: Vec<String> = signals
                    .iter()
                    .map(|(signal, purpose)| format!("{signal} → {purpose}"))
                    .collect();
                (
                    "Google consent mode".to_owned(),
                    format!("granted or denied per signal: {}", mapped.join(", ")),
                )
            }
            Signal::UsOptOuts { places, opt_outs } => {
                let mapped: Vec<String> = opt_outs
                    .iter()
                    .map(|(opt_out, purposes)| {
                        format!("{} withdraws {}", opt_out.replace('_', " "), list(purposes))
                    })
                    .collect();
                (
                    "US privacy opt-outs (IAB GPP, US Privacy)".to_owned(),
                    format!(
                        "read from {}; opting out of {}. A string that cannot be read grants \
                         nothing.",
                        list(places),
                        mapped.join("; ")
                    ),
                )
            }
            Signal::OptOutRegistry => (
                "Opt-out list".to_owned(),
                "events of people on the operator's opt-out list are kept from the destinations \
                 that honour it"
                    .to_owned(),
            ),
        }
    }
}

impl NoSignal {
    /// What no signal means, in words.
    pub fn words(&self) -> String {
        let decision = |d: &str| match d {
            "allow" => "counts as consent",
            _ => "counts as no consent: nothing that needs consent is sent",
        };
        match &self.by_jurisdiction {
            None => format!(
                "An event without any consent signal {}.",
                decision(&self.default)
            ),
            Some(j) => {
                let places: Vec<String> = j
                    .places
                    .iter()
                    .map(|(place, d)| format!("{place}: {d}"))
                    .collect();
                format!(
                    "Without any consent signal, it depends on where the visitor is ({}); \
                     elsewhere an event {}; where the place is unknown, {}.",
                    places.join(", "),
                    decision(&self.default),
                    decision(&j.unknown)
                )
            }
        }
    }
}

impl Retention {
    /// How long undelivered data may wait, in words.
    pub fn words(&self) -> String {
        let waiting = self.waiting();
        match self.file_kept_seconds {
            Some(kept) => format!(
                "{waiting} Written files are deleted {} after they are closed.",
                duration(kept)
            ),
            None => waiting,
        }
    }

    fn waiting(&self) -> String {
        match self.max_age_seconds {
            Some(age) if self.delivery == "durable" => format!(
                "Until delivered, events wait on disk, encrypted, for at most {}; older ones are \
                 deleted.",
                duration(age)
            ),
            _ => "Until delivered, events wait in memory only (never on disk); a restart loses \
                  them."
                .to_owned(),
        }
    }
}

/// `["a", "b", "c"]` as "a, b and c" (empty: "nothing").
pub(super) fn list(items: &[String]) -> String {
    match items {
        [] => "nothing".to_owned(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

/// Seconds in the largest whole unit: "7 days", "90 minutes".
pub(super) fn duration(seconds: u64) -> String {
    let units = [
        (86_400, "day"),
        (3_600, "hour"),
        (60, "minute"),
        (1, "second"),
    ];
    for (size, unit) in units {
        if seconds >= size && seconds.is_multiple_of(size) {
            let n = seconds / size;
            return format!("{n} {unit}{}", if n == 1 { "" } else { "s" });
        }
    }
    "0 seconds".to_owned()
}
