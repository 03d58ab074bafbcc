//! US privacy signals: IAB GPP strings (their US National and state
//! sections, their US Privacy section, and their TCF EU v2 section, which
//! goes where a bare TC string goes) and bare US Privacy strings, read
//! from the request's query (`gpp`, `gpp_sid`, `us_privacy`), from the
//! values ingest marked (GA4's `gpp`, `gpp_sid`, `us_privacy`) and from
//! `consent.gpp_path` / `consent.us_privacy_path` in the event.
//!
//! What they say, per purpose of `[consent.us_opt_outs]`: a US section
//! denies the purposes of `sale`, `sharing` and `targeted_advertising`
//! when its opt-out is 1 (opted out) or its notice is 2 (not provided),
//! and grants them otherwise (a section without the field says nothing of
//! it); `sensitive_data`'s when any `SensitiveDataProcessing` entry is 1,
//! `known_child`'s when any `KnownChildSensitiveDataConsents` entry is 1
//! (both "no consent" or "opted out" in every section), granting them
//! otherwise. A US Privacy string's opt-out of sale `Y` denies `sale`'s
//! purposes, `N` grants them, `-` says nothing. A section's GPC subsection
//! set to 1 counts as `Sec-GPC: 1`. Every string and section counts, and a
//! purpose one denies is denied: the strictest wins.
//!
//! Unreadable (a string [`gpp::decode`] refuses, a `gpp_sid` that is not a
//! list of ids or names a section the string does not have, a US section
//! privgate cannot read, a malformed US Privacy string) denies every
//! purpose the mapping could govern: all of `us_opt_outs`, and for a GPP
//! string whose header or `gpp_sid` claims a TCF EU v2 section, every
//! `tcf_purposes` purpose and every `tcf_vendor` destination, as an
//! unreadable TC string does.

use super::gpp::{self, GppError, Section, UsSection};
use super::signals::Said;
use super::{tcf, Consent, Purposes, Signals, Source, UsOptOuts};

/// The request's US privacy parameters: `gpp`, `gpp_sid`, `us_privacy`,
/// each as given, or [`GppError::Repeated`] when the query gives it twice
/// with different values.
#[derive(Debug, Default)]
pub struct UsRequest {
    /// `gpp`.
    pub gpp: Option<Result<Box<str>, GppError>>,
    /// `gpp_sid`.
    pub gpp_sid: Option<Result<Box<str>, GppError>>,
    /// `us_privacy`.
    pub us_privacy: Option<Result<Box<str>, GppError>>,
}

/// Reads `gpp`, `gpp_sid` and `us_privacy` from a request's query.
pub fn request_us(query: Option<&str>) -> UsRequest {
    let mut request = UsRequest::default();
    let Some(query) = query else {
        return request;
    };
    for (key, value) in form_urlencoded::parse(query.as_bytes()) {
        let slot = match &*key {
            "gpp" => &mut request.gpp,
            "gpp_sid" => &mut request.gpp_sid,
            "us_privacy" => &mut request.us_privacy,
            _ => continue,
        };
        *slot = Some(match slot.take() {
            None => Ok(value.into()),
            Some(Ok(first)) if *first == *value => Ok(first),
            Some(_) => Err(GppError::Repeated),
        });
    }
    request
}

/// `[consent.us_opt_outs]` compiled to the engine's purpose bits.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct UsBits {
    sale: Purposes,
    sharing: Purposes,
    targeted_advertising: Purposes,
    sensitive_data: Purposes,
    known_child: Purposes,
}

impl UsBits {
    pub(super) fn new(opt_outs: &UsOptOuts, bit: impl Fn(&str) -> Purposes) -> UsBits {
        let set = |list: &[String]| list.iter().fold(0, |set, p| set | bit(p));
        UsBits {
            sale: set(&opt_outs.sale),
            sharing: set(&opt_outs.sharing),
            targeted_advertising: set(&opt_outs.targeted_advertising),
            sensitive_data: set(&opt_outs.sensitive_data),
            known_child: set(&opt_outs.known_child),
        }
    }

    /// Every purpose some opt-out governs.
    pub(super) fn all(&self) -> Purposes {
        self.sale
            | self.sharing
            | self.targeted_advertising
            | self.sensitive_data
            | self.known_child
    }
}

/// A string found in the event: `Some(text)`, or `None` when the value
/// there is not a string (as unreadable as a bad one).
type Found = Option<String>;

impl Consent {
    /// Whether GPP strings are read: for their US sections, or for their
    /// TCF EU v2 section.
    fn reads_gpp(&self) -> bool {
        self.us.all() != 0 || !self.tcf.is_empty()
    }

    /// Adds what the event's and its request's GPP and US Privacy strings
    /// say to `signals`.
    pub(super) fn hear_us(
        &self,
        body: &[u8],
        own: [Option<Found>; 3],
        request: Option<&UsRequest>,
        signals: &mut Signals,
    ) {
        let [own_gpp, own_sid, own_usp] = own;
        if self.reads_gpp() {
            // The event's own (GA4's gpp with its gpp_sid), the one at
            // gpp_path, the request's (with its gpp_sid).
            let text = |found: Found| found.ok_or(GppError::Empty);
            let sid_of = |found: Option<Found>| found.map(text);
            let own_sid = sid_of(own_sid);
            if let Some(gpp) = own_gpp {
                self.hear_gpp(text(gpp), own_sid, signals);
            } else if let Some(sid) = own_sid {
                self.hear_lone_sid(sid, signals);
            }
            if let Some(gpp) = self.string_at(body, &self.gpp_path) {
                self.hear_gpp(text(gpp), None, signals);
            }
            if let Some(request) = request {
                let sid = request
                    .gpp_sid
                    .as_ref()
                    .map(|s| s.as_ref().map(|s| s.to_string()).map_err(|e| *e));
                match &request.gpp {
                    Some(gpp) => {
                        let gpp = gpp.as_ref().map(|g| g.to_string()).map_err(|e| *e);
                        self.hear_gpp(gpp, sid, signals);
                    }
                    None => {
                        if let Some(sid) = sid {
                            self.hear_lone_sid(sid, signals);
                        }
                    }
                }
            }
        }
        if self.us.sale != 0 {
            let request = request.and_then(|r| r.us_privacy.as_ref());
            let strings = [own_usp, self.string_at(body, &self.us_privacy_path)]
                .into_iter()
                .flatten()
                .map(|found| found.ok_or(GppError::Empty))
                .chain(request.map(|r| r.as_ref().map(|s| s.to_string()).map_err(|e| *e)));
            for usp in strings {
                let read = usp.and_then(|usp| gpp::decode_us_privacy(&usp));
                signals.hear_opt_out(Source::UsPrivacy, self.usp_says(read.ok()));
            }
        }
    }

    /// A `gpp_sid` without a GPP string: `-1` (no section applies) says
    /// nothing; sections that apply but are not there are unreadable.
    fn hear_lone_sid(&self, sid: Result<String, GppError>, signals: &mut Signals) {
        let sid = sid.and_then(|s| gpp::decode_sid(&s));
        if sid != Ok(0) {
            let claims_tcf = sid.is_ok_and(|set| set & 1 << gpp::TCF_EU_V2 != 0);
            self.unreadable(claims_tcf, GppError::Sid, signals);
        }
    }

    /// What one GPP string (with the `gpp_sid` sent with it) says.
    fn hear_gpp(
        &self,
        gpp: Result<String, GppError>,
        sid: Option<Result<String, GppError>>,
        signals: &mut Signals,
    ) {
        let sid = sid.map(|s| s.and_then(|s| gpp::decode_sid(&s)));
        let sid_claims_tcf = matches!(sid, Some(Ok(set)) if set & 1 << gpp::TCF_EU_V2 != 0);
        let text = match gpp {
            Ok(text) => text,
            Err(e) => return self.unreadable(sid_claims_tcf, e, signals),
        };
        let header_claims_tcf =
            gpp::header_ids(&text).is_ok_and(|ids| ids.contains(&gpp::TCF_EU_V2));
        let claims_tcf = sid_claims_tcf || header_claims_tcf;
        let decoded = match gpp::decode(&text) {
            Ok(decoded) => decoded,
            Err(e) => return self.unreadable(claims_tcf, e, signals),
        };
        // The sections gpp_sid says apply must all be there.
        let present = decoded.ids().fold(0u64, |set, id| set | 1 << id);
        match sid {
            Some(Err(e)) => return self.unreadable(claims_tcf, e, signals),
            Some(Ok(set)) if set & !present != 0 => {
                return self.unreadable(claims_tcf, GppError::Sid, signals)
            }
            _ => {}
        }
        // Every section counts, whether gpp_sid names it or not: the
        // strictest wins.
        for section in decoded.sections() {
            match section {
                Section::TcfEuV2(tc) => {
                    if !self.tcf.is_empty() {
                        // As a bare TC string: too old (consent.max_age)
                        // grants nothing.
                        let checked = self.fresh((**tc).clone()).map(Box::new);
                        signals.hear(Source::Gpp, self.tcf_says(checked.as_deref().ok()));
                        signals.tcf.push(checked);
                    }
                }
                Section::UspV1(usp) => {
                    if self.us.sale != 0 {
                        signals.hear_opt_out(Source::Gpp, self.usp_says(Some(*usp)));
                    }
                }
                Section::Us(us) => {
                    signals.hear_opt_out(Source::Gpp, self.us_says(us));
                    if us.gpc == Some(true) && self.gpc_denies != 0 {
                        signals.gpc = true;
                    }
                }
                // A US section privgate cannot read (from 7 on; 1 to 5 are
                // TCF v1, the header's own id, signal integrity and TCF
                // Canada, none of which governs a US opt-out).
                Section::Other(id) if *id >= 7 => {
                    signals.hear_opt_out(Source::Gpp, self.deny(self.us.all()));
                }
                Section::Other(_) => {}
            }
        }
    }

    /// An unreadable GPP string (or `gpp_sid`): it denies every purpose a
    /// US opt-out governs, and if it claims a TCF EU v2 section, it counts
    /// as an unreadable TC string too.
    fn unreadable(&self, claims_tcf: bool, error: GppError, signals: &mut Signals) {
        signals.hear_opt_out(Source::Gpp, self.deny(self.us.all()));
        if claims_tcf && !self.tcf.is_empty() {
            signals.hear(Source::Gpp, self.tcf_says(None));
            let error = match error {
                GppError::Tcf(e) => e,
                _ => tcf::TcfError::Empty,
            };
            signals.tcf.push(Err(error));
        }
    }

    /// Denies `purposes` (nothing, if none).
    fn deny(&self, purposes: Purposes) -> Said {
        if purposes == 0 {
            return Said::Nothing;
        }
        Said::Purposes {
            granted: 0,
            denied: purposes,
        }
    }

    /// What a US Privacy string says (`None`: malformed, which denies).
    fn usp_says(&self, usp: Option<gpp::UsPrivacy>) -> Said {
        let bits = self.us.sale;
        match usp.map(|u| (u.notice, u.opt_out_sale)) {
            _ if bits == 0 => Said::Nothing,
            // No notice of the right to opt out was given: as a GPP
            // section's notice "not provided", nothing may be sold.
            Some((gpp::Flag::No, _)) => self.deny(bits),
            Some((_, gpp::Flag::No)) => Said::Purposes {
                granted: bits,
                denied: 0,
            },
            Some((_, gpp::Flag::NotApplicable)) => Said::Nothing,
            Some((_, gpp::Flag::Yes)) | None => self.deny(bits),
        }
    }

    /// What a US section says of the purposes its opt-outs govern.
    fn us_says(&self, us: &UsSection) -> Said {
        let (mut granted, mut denied) = (0, 0);
        let mut rule = |bits: Purposes, says: Option<bool>| match says {
            Some(true) => denied |= bits,
            Some(false) => granted |= bits,
            None => {}
        };
        let opt_out = |notice: Option<gpp::Notice>, opt_out: Option<gpp::OptOut>| {
            let noticed = notice.map(|n| n == gpp::Notice::NotProvided);
            let opted = opt_out.map(|o| o == gpp::OptOut::OptedOut);
            match (noticed, opted) {
                (None, None) => None,
                (a, b) => Some(a.unwrap_or(false) || b.unwrap_or(false)),
            }
        };
        rule(
            self.us.sale,
            opt_out(us.sale_opt_out_notice, us.sale_opt_out),
        );
        rule(
            self.us.sharing,
            opt_out(us.sharing_opt_out_notice, us.sharing_opt_out),
        );
        rule(
            self.us.targeted_advertising,
            opt_out(
                us.targeted_advertising_opt_out_notice,
                us.targeted_advertising_opt_out,
            ),
        );
        let any_one = |entries: &[u8]| Some(entries.contains(&1));
        rule(
            self.us.sensitive_data,
            any_one(us.sensitive_data_processing()),
        );
        rule(
            self.us.known_child,
            any_one(us.known_child_sensitive_data_consents()),
        );
        if granted | denied == 0 {
            return Said::Nothing;
        }
        Said::Purposes { granted, denied }
    }
}

#[cfg(test)]
#[path = "us_tests.rs"]
mod tests;
