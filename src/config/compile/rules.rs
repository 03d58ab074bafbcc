//! `[[rules]]` and a destination's `rules` and `allow`: each rule checked
//! (options that do not belong to its action are errors, not ignored) and
//! compiled, for every protocol, into policy's
//! [`Policies`](crate::policy::Policies).

use crate::config::schema;
use crate::config::validate::Validator;
use toml::Spanned;

impl Validator<'_> {
    /// Compiles one scope's rules and allow list (`scope` is `rules` or
    /// `destinations[N]`) for every protocol. What is wrong with a rule is
    /// the same for every protocol, so it is reported once.
    pub(in crate::config) fn policies(
        &mut self,
        written: &[schema::Rule],
        allow: Option<&[Spanned<String>]>,
        scope: &str,
        keyring: &crate::crypto::Keyring,
    ) -> crate::policy::Policies {
        use crate::event::Protocol;
        use crate::policy::selector::Selector;
        let (rules_key, allow_key) = match scope {
            "rules" => ("rules".to_owned(), "allow".to_owned()),
            _ => (format!("{scope}.rules"), format!("{scope}.allow")),
        };
        let mut by_protocol = Vec::new();
        for protocol in Protocol::ALL {
            let before = self.problems.len();
            let rules = written
                .iter()
                .enumerate()
                .filter_map(|(r, rule)| {
                    self.rule(rule, &format!("{rules_key}[{r}]"), keyring, protocol)
                })
                .collect();
            let allow = allow.map(|list| {
                list.iter()
                    .flat_map(|text| match Selector::parse_in(text.get_ref(), protocol) {
                        Ok(selectors) => selectors,
                        Err(e) => {
                            self.problem(
                                text.span(),
                                allow_key.clone(),
                                e.to_string(),
                                "see docs/config.md#selectors",
                            );
                            Vec::new()
                        }
                    })
                    .collect()
            });
            if protocol != Protocol::ALL[0] {
                self.problems.truncate(before);
            }
            let key = format!("{rules_key} ({protocol} events)");
            by_protocol.push(self.policy(rules, allow, written, key));
        }
        crate::policy::Policies::new(by_protocol)
    }

    /// Compiles one scope's rules and allow list into a [`Policy`], or
    /// reports that its selectors combine into too many matching states
    /// (a pathological mix of `**`) at the scope's first rule.
    ///
    /// [`Policy`]: crate::policy::Policy
    fn policy(
        &mut self,
        rules: Vec<crate::policy::rules::Rule>,
        allow: Option<Vec<crate::policy::selector::Selector>>,
        written: &[schema::Rule],
        key: String,
    ) -> crate::policy::Policy {
        use crate::policy::Policy;
        Policy::new(rules, allow).unwrap_or_else(|too_complex| {
            let span = written.first().map_or(0..0, |r| r.select.span());
            self.problem(
                span,
                key,
                too_complex.to_string(),
                "split rules with several `**` into plainer paths",
            );
            Policy::new(Vec::new(), None).expect("an empty policy compiles")
        })
    }

    /// Compiles one rule; `id` is its position for errors and metrics.
    fn rule(
        &mut self,
        rule: &schema::Rule,
        position: &str,
        keyring: &crate::crypto::Keyring,
        protocol: crate::event::Protocol,
    ) -> Option<crate::policy::rules::Rule> {
        use crate::policy::pii::{Detector, Scanner};
        use crate::policy::rules::{Action, Normalize};
        use schema::RuleAction as A;
        let before = self.problems.len();
        let action = *rule.action.get_ref();
        let name = match action {
            A::Drop => "drop",
            A::Hash => "hash",
            A::RedactPii => "redact_pii",
            A::TruncateIp => "truncate_ip",
            A::ScrubUrl => "scrub_url",
            A::GeneralizeUa => "generalize_ua",
            A::EncryptField => "encrypt_field",
        };
        // Options that do not belong to the action are errors, not ignored.
        let misplaced = [
            (
                "normalize",
                rule.normalize.as_ref().map(|v| v.span()),
                action != A::Hash,
            ),
            (
                "phone_region",
                rule.phone_region.as_ref().map(|v| v.span()),
                action != A::Hash,
            ),
            (
                "detectors",
                rule.detectors.as_ref().map(|v| v.span()),
                !matches!(action, A::RedactPii | A::ScrubUrl),
            ),
            (
                "phone_regions",
                rule.phone_regions.as_ref().map(|v| v.span()),
                !matches!(action, A::RedactPii | A::ScrubUrl),
            ),
            (
                "keep_params",
                rule.keep_params.as_ref().map(|v| v.span()),
                action != A::ScrubUrl,
            ),
            (
                "ipv4_prefix",
                rule.ipv4_prefix.as_ref().map(|v| v.span()),
                action != A::TruncateIp,
            ),
            (
                "ipv6_prefix",
                rule.ipv6_prefix.as_ref().map(|v| v.span()),
                action != A::TruncateIp,
            ),
        ];
        for (option, span, wrong) in misplaced {
            if let (Some(span), true) = (span, wrong) {
                self.problem(
                    span,
                    format!("{position}.{option}"),
                    format!("`{option}` does not apply to action = \"{name}\""),
                    "remove it, or change the action",
                );
            }
        }
        let mut selectors = Vec::new();
        let select = rule.select.get_ref().list();
        if select.is_empty() {
            self.problem(
                rule.select.span(),
                format!("{position}.select"),
                "selects nothing".into(),
                "write e.g. select = \"@email\" or [\"userId\", \"**.email\"]",
            );
        }
        for text in &select {
            match crate::policy::selector::Selector::parse_in(text, protocol) {
                Ok(s) => selectors.extend(s),
                Err(e) => self.problem(rule.select.span(), format!("{position}.select"), e.to_string(), "selectors are dotted paths with `*`, `**`, `[*]`/`[N]`, or a semantic field such as @email"),
            }
        }
        let scanner = match &rule.detectors {
            None => Scanner::default(),
            Some(list) => {
                let mut detectors = Vec::new();
                for d in list.get_ref() {
                    match Detector::from_name(d) {
                        Some(d) => detectors.push(d),
                        None => self.problem(
                            list.span(),
                            format!("{position}.detectors"),
                            format!("unknown detector `{d}`"),
                            "use email, phone, credit_card, iban, ip, ssn, name",
                        ),
                    }
                }
                Scanner::new(&detectors)
            }
        };
        let scanner = match &rule.phone_regions {
            None => scanner,
            Some(list) => {
                let mut regions = Vec::new();
                for r in list.get_ref() {
                    match crate::policy::pii::region(r) {
                        Some(id) => regions.push(id),
                        None => self.problem(
                            list.span(),
                            format!("{position}.phone_regions"),
                            format!("unknown region `{r}`"),
                            "use ISO 3166 codes such as \"GB\", \"DE\", \"US\"",
                        ),
                    }
                }
                if list.get_ref().is_empty() {
                    self.problem(
                        list.span(),
                        format!("{position}.phone_regions"),
                        "lists no region".into(),
                        "name at least one, or remove the key for the default list",
                    );
                }
                scanner.with_regions(&regions)
            }
        };
        let prefix = |v: &Option<Spanned<u8>>, default: u8| {
            v.as_ref()
                .map_or((default, 0..0), |p| (*p.get_ref(), p.span()))
        };
        let (v4, v4_span) = prefix(&rule.ipv4_prefix, 24);
        let (v6, v6_span) = prefix(&rule.ipv6_prefix, 48);
        if v4 > 32 {
            self.problem(
                v4_span,
                format!("{position}.ipv4_prefix"),
                format!("{v4} is longer than an IPv4 address"),
                "use 0 to 32; 24 keeps the network, drops the host",
            );
        }
        if v6 > 128 {
            self.problem(
                v6_span,
                format!("{position}.ipv6_prefix"),
                format!("{v6} is longer than an IPv6 address"),
                "use 0 to 128; 48 is the usual site prefix",
            );
        }
        let region = rule.phone_region.as_ref().and_then(|r| {
            let parsed = r
                .get_ref()
                .to_ascii_uppercase()
                .parse::<phonenumber::country::Id>();
            if parsed.is_err() {
                self.problem(
                    r.span(),
                    format!("{position}.phone_region"),
                    format!("`{}` is not a region phonenumber knows", r.get_ref()),
                    "use a two-letter ISO 3166 code such as \"US\", \"GB\" or \"DE\"",
                );
            }
            parsed.ok()
        });
        if action == A::EncryptField && keyring.active_encryption().is_none() {
            self.problem(rule.action.span(), format!("{position}.action"), "encrypt_field needs an active encryption key".into(), "add [keys] encryption = [{ id = \"e1\", key = \"env:PRIVGATE_KEY_E1\", active = true }] (make one with `privgate keygen`)");
        }
        if action == A::Hash && keyring.active_hmac().is_none() {
            self.problem(rule.action.span(), format!("{position}.action"), "hash needs an active HMAC key".into(), "add [keys] hmac = [{ id = \"h1\", secret = \"env:PRIVGATE_HMAC_H1\" }] (make one with `privgate keygen`)");
        }
        let id = match &rule.name {
            Some(n) => {
                let valid = !n.get_ref().is_empty()
                    && n.get_ref().len() <= 64
                    && n.get_ref()
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
                if !valid {
                    self.problem(n.span(), format!("{position}.name"), format!("`{}` is not a valid rule name", n.get_ref()), "use 1-64 characters from a-z, A-Z, 0-9, '-' and '_' (names become metric labels)");
                }
                n.get_ref().clone()
            }
            None => position.to_owned(),
        };
        let action = match action {
            A::Drop => Action::Drop,
            A::Hash => Action::Hash {
                normalize: rule
                    .normalize
                    .as_ref()
                    .map_or(Normalize::Auto, |n| *n.get_ref()),
                region,
            },
            A::GeneralizeUa => Action::GeneralizeUa(Default::default()),
            A::EncryptField => Action::EncryptField,
            A::RedactPii => Action::RedactPii(scanner),
            A::TruncateIp => Action::TruncateIp { v4, v6 },
            A::ScrubUrl => Action::ScrubUrl {
                keep: rule.keep_params.as_ref().map_or_else(Vec::new, |k| {
                    k.get_ref()
                        .iter()
                        .map(|p| crate::policy::rules::Glob::new(p))
                        .collect()
                }),
                scanner,
            },
        };
        (self.problems.len() == before).then_some(crate::policy::rules::Rule {
            id,
            select,
            selectors,
            action,
        })
    }
}
