//! The decision: whether a destination that needs some purposes may
//! receive an event with the signals it carries.

use super::{Consent, ConsentDefault, Denial, Match, Need, Purposes, Signals};

impl Consent {
    /// Decides whether a destination that needs `need` may receive an
    /// event with `signals`; the reason is that of the first required
    /// purpose that fails.
    pub fn decide(&self, signals: &Signals, need: &Need) -> Result<(), Denial> {
        // An opted-out person is out everywhere, unless the destination
        // says it must see them anyway (`honor_opt_out = false`).
        if signals.opted_out && need.honor_opt_out {
            return Err(Denial::OptedOut);
        }
        if need.purposes.is_empty() {
            return Ok(());
        }
        if signals.ambiguous {
            return Err(Denial::Denied);
        }
        // Under TCF, the destination's vendor needs consent in every string
        // as well, and the publisher's restrictions on it apply.
        let mut restricted: Purposes = 0;
        if let Some(vendor) = need.tcf_vendor {
            for tc in &signals.tcf {
                let Ok(tc) = tc else {
                    return Err(Denial::Denied);
                };
                if !tc.vendor_consent(vendor) {
                    return Err(Denial::Denied);
                }
                let blocked = tc.restricted_purposes(vendor);
                for &(bit, mask) in &self.tcf {
                    if mask & blocked != 0 {
                        restricted |= bit;
                    }
                }
            }
        }
        let mut why = Denial::Denied;
        let allowed = |&purpose: &Purposes, why: &mut Denial| {
            if signals.gpc && self.gpc_denies & purpose != 0 {
                *why = Denial::Gpc;
                return false;
            }
            if restricted & purpose != 0 {
                *why = Denial::Denied;
                return false;
            }
            if !signals.present {
                if signals.default == ConsentDefault::Deny {
                    *why = Denial::NoConsent;
                    return false;
                }
                return true;
            }
            signals.granted & purpose != 0 && signals.denied & purpose == 0
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
