//! The decision: whether a destination that needs some purposes may
//! receive an event with the signals it carries, and (for `explain
//! --trace`) which signal and which rule decided a drop.

use super::jurisdiction::Jurisdiction;
use super::{Consent, ConsentDefault, Denial, Match, Need, Purposes, Signals, Source};

/// What decided a drop, in terms of the config and the signals' kinds:
/// never a value the event or the request carried.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cause {
    /// The user or anonymous id is in the opt-out registry.
    Registry,
    /// A consent signal or an id was given twice with different values.
    Ambiguous,
    /// The `n`-th TC string of [`Signals::tcf`] is unreadable or too old.
    TcfUnreadable(usize),
    /// A TC string gives the destination's `tcf_vendor` no consent.
    TcfVendor(u16),
    /// A publisher restriction in a TC string covers a needed purpose for
    /// the destination's `tcf_vendor`.
    TcfRestriction(u16, Purposes),
    /// `Sec-GPC: 1` denies the purpose (`consent.gpc_denies`).
    Gpc(Purposes),
    /// This signal denies the purpose.
    DeniedBy(Source, Purposes),
    /// Signals were given, and none grants the purpose.
    NotGranted(Purposes),
    /// No signal at all, and the default applying to the request denies.
    NoSignal,
}

impl Consent {
    /// Decides whether a destination that needs `need` may receive an
    /// event with `signals`; the reason is that of the first required
    /// purpose that fails.
    pub fn decide(&self, signals: &Signals, need: &Need) -> Result<(), Denial> {
        self.decide_why(signals, need).map_err(|(denial, _)| denial)
    }

    /// [`Consent::decide`], with what decided a drop.
    pub fn decide_why(&self, signals: &Signals, need: &Need) -> Result<(), (Denial, Cause)> {
        // An opted-out person is out everywhere, unless the destination
        // says it must see them anyway (`honor_opt_out = false`).
        if signals.opted_out && need.honor_opt_out {
            return Err((Denial::OptedOut, Cause::Registry));
        }
        if need.purposes.is_empty() {
            return Ok(());
        }
        if signals.ambiguous {
            return Err((Denial::Denied, Cause::Ambiguous));
        }
        // Under TCF, the destination's vendor needs consent in every string
        // as well, and the publisher's restrictions on it apply.
        let mut restricted: Purposes = 0;
        if let Some(vendor) = need.tcf_vendor {
            for (n, tc) in signals.tcf.iter().enumerate() {
                let Ok(tc) = tc else {
                    return Err((Denial::Denied, Cause::TcfUnreadable(n)));
                };
                if !tc.vendor_consent(vendor) {
                    return Err((Denial::Denied, Cause::TcfVendor(vendor)));
                }
                let blocked = tc.restricted_purposes(vendor);
                for &(bit, mask) in &self.tcf {
                    if mask & blocked != 0 {
                        restricted |= bit;
                    }
                }
            }
        }
        let vendor = need.tcf_vendor.unwrap_or(0);
        let mut why = (Denial::Denied, Cause::NotGranted(0));
        let allowed = |&purpose: &Purposes, why: &mut (Denial, Cause)| {
            if signals.gpc && self.gpc_denies & purpose != 0 {
                *why = (Denial::Gpc, Cause::Gpc(purpose));
                return false;
            }
            if restricted & purpose != 0 {
                *why = (Denial::Denied, Cause::TcfRestriction(vendor, purpose));
                return false;
            }
            if !signals.present && signals.opt_out_only & purpose == 0 {
                if signals.default == ConsentDefault::Deny {
                    *why = (Denial::NoConsent, Cause::NoSignal);
                    return false;
                }
                return true;
            }
            if signals.granted & purpose != 0 && signals.denied & purpose == 0 {
                return true;
            }
            *why = (
                Denial::Denied,
                signals.denier(purpose, &self.tcf_errors(signals)),
            );
            false
        };
        let ok = match need.mode {
            Match::All => need.purposes.iter().all(|p| allowed(p, &mut why)),
            Match::Any => need.purposes.iter().any(|p| allowed(p, &mut why)),
        };
        if ok {
            Ok(())
        } else {
            Err(why)
        }
    }

    /// The first unreadable TC string, if any (it denies every purpose
    /// `tcf_purposes` lists).
    fn tcf_errors(&self, signals: &Signals) -> Option<usize> {
        signals.tcf.iter().position(Result::is_err)
    }

    /// `cause` in words for `explain --trace`: the signal and the rule,
    /// named by config (purposes, vendor ids, table entries) and by kind,
    /// never by a value the event or request carried. `at` is the
    /// request's jurisdiction.
    pub fn describe(&self, cause: Cause, signals: &Signals, at: Option<&Jurisdiction>) -> String {
        let name = |bits: Purposes| {
            self.purposes
                .iter()
                .enumerate()
                .filter(|(i, _)| bits & (1 << i) != 0)
                .map(|(_, p)| p.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        match cause {
            Cause::Registry => "opt-out registry: the event's user or anonymous id is listed".into(),
            Cause::Ambiguous => {
                "a consent signal or an id is given twice with different values: unreadable".into()
            }
            Cause::TcfUnreadable(n) => match signals.tcf.get(n) {
                Some(Err(super::tcf::TcfError::TooOld)) => {
                    "TC string: last updated longer ago than consent.max_age (string age)".into()
                }
                Some(Err(e)) => format!("TC string unreadable: {e}"),
                _ => "TC string unreadable".into(),
            },
            Cause::TcfVendor(vendor) => {
                format!("TC string: no consent for the destination's tcf_vendor {vendor}")
            }
            Cause::TcfRestriction(vendor, purpose) => format!(
                "TC string: a publisher restriction for tcf_vendor {vendor} covers a TCF purpose that {} needs",
                name(purpose)
            ),
            Cause::Gpc(purpose) => {
                format!("Sec-GPC: 1 denies {} (consent.gpc_denies)", name(purpose))
            }
            Cause::DeniedBy(source, purpose) => {
                format!("{} denies {}", source.describe(), name(purpose))
            }
            Cause::NotGranted(purpose) => {
                format!("no signal the event carries grants {}", name(purpose))
            }
            Cause::NoSignal => match &self.jurisdictions {
                None => "no consent signal, and consent.default is deny".into(),
                Some(table) => format!(
                    "no consent signal, and {} is deny (jurisdiction)",
                    table.rule_for(at)
                ),
            },
        }
    }
}

impl Signals {
    /// What denies `purpose`: the first source that denies it, else an
    /// unreadable TC string (which denies all it could grant), else none
    /// grants it.
    fn denier(&self, purpose: Purposes, unreadable_tcf: &Option<usize>) -> Cause {
        let source = Source::ALL
            .into_iter()
            .find(|s| self.by[*s as usize].1 & purpose != 0);
        match (source, unreadable_tcf) {
            // An unreadable string denies all it could grant: say why.
            (Some(Source::Tcf) | None, Some(n)) => Cause::TcfUnreadable(*n),
            (Some(source), _) => Cause::DeniedBy(source, purpose),
            (None, None) => Cause::NotGranted(purpose),
        }
    }
}

impl Need {
    /// Whether any purpose is required.
    pub fn requires_any(&self) -> bool {
        !self.purposes.is_empty()
    }

    /// Whether deciding needs the event's signals: it requires a purpose,
    /// or keeps opted-out ids out (otherwise every event may go).
    pub fn reads_signals(&self) -> bool {
        self.requires_any() || self.honor_opt_out
    }
}
