//! A destination's batch format, settled once its sources are known: as
//! written, or the one its sources' protocol implies; the keys and url the
//! format needs, and the vendor's bound on events per request.

use super::Validator;
use crate::config::schema::{self, BatchFormat, Protocol};
use crate::config::secret::{SecretError, SecretRef};
use crate::forward::settings::{DestinationConfig, SinkConfig};
use crate::ingest::settings::SourceConfig;
use http::Uri;

impl Validator<'_> {
    /// Settles each http destination's batch format: as written, or the one
    /// its sources' protocol implies; a destination fed by sources whose
    /// events its format cannot carry is an error.
    pub(super) fn formats(
        &mut self,
        destinations: &mut [DestinationConfig],
        written: &[schema::Destination],
        sources: &[SourceConfig],
    ) {
        for (i, (d, w)) in destinations.iter_mut().zip(written).enumerate() {
            let SinkConfig::Http(http) = &mut d.sink else {
                continue;
            };
            let feeders: Vec<Protocol> = sources
                .iter()
                .filter(|s| s.destinations.contains(&i))
                .map(|s| s.protocol)
                .collect();
            let mut natives = feeders.iter().map(|&p| BatchFormat::native(p));
            let implied = match natives.next() {
                Some(first) if natives.all(|f| f == first) => first,
                _ => BatchFormat::Segment,
            };
            let format = w.format.as_ref().map_or(implied, |f| *f.get_ref());
            http.format = format;
            // A url naming only the vendor's host gets the path the vendor
            // takes this format's batches on.
            if http.url.path() == "/" && http.url.query().is_none() {
                if let Some(path) = format.vendor_path() {
                    let mut parts = http.url.clone().into_parts();
                    parts.path_and_query = Some(http::uri::PathAndQuery::from_static(path));
                    if let Ok(url) = Uri::from_parts(parts) {
                        http.url = url;
                    }
                }
            }
            let span = w.format.as_ref().map_or(w.kind.span(), |f| f.span());
            if let Some(p) = feeders.iter().find(|&&p| !format.carries(p)) {
                self.problem(
                    span.clone(),
                    format!("destinations[{i}].format"),
                    format!(
                        "a `{}` batch cannot carry the events of a `{p}` source",
                        format.as_str()
                    ),
                    "send each protocol's sources to destinations of that protocol, or set format = \"ndjson\"",
                );
            }
            let needs_key = match format {
                BatchFormat::Amplitude => Some((
                    "api_key",
                    "an amplitude destination needs the project's API key",
                    "add api_key = \"env:AMPLITUDE_API_KEY\"",
                )),
                BatchFormat::Posthog => Some((
                    "api_key",
                    "a posthog destination needs the project's API key",
                    "add api_key = \"env:POSTHOG_PROJECT_TOKEN\"",
                )),
                BatchFormat::Ga4Mp => Some((
                    "api_secret",
                    "a ga4_mp destination needs the stream's Measurement Protocol API secret",
                    "add api_secret = \"env:GA4_API_SECRET\"",
                )),
                _ => None,
            };
            if let (Some((name, message, fix)), None) = (needs_key, &http.api_key) {
                self.problem(
                    span.clone(),
                    format!("destinations[{i}].{name}"),
                    message.into(),
                    fix,
                );
            }
            if format == BatchFormat::Ga4Mp {
                self.mp_url(i, w, &http.url);
                // Unlike Amplitude's API key, it is a secret (never in a page).
                if let Some(key) = &w.api_key {
                    if let Ok(SecretRef::Literal(_)) = SecretRef::parse(key.get_ref()) {
                        self.problem(
                            key.span(),
                            format!("destinations[{i}].api_secret"),
                            SecretError::LiteralNotAllowed.to_string(),
                            "",
                        );
                    }
                }
            }
            if let Some(cap) = format.max_events() {
                let max_events = &w.batch.max_events;
                if max_events.span() == (0..0) {
                    // Unwritten: the vendor's bound instead of the default.
                    d.batch.max_events = d.batch.max_events.min(cap);
                } else if d.batch.max_events > cap {
                    self.problem(
                        max_events.span(),
                        format!("destinations[{i}].batch.max_events"),
                        format!(
                            "a `{}` request takes at most {cap} event(s)",
                            format.as_str()
                        ),
                        "lower batch.max_events, or leave it out for the largest allowed",
                    );
                }
            }
        }
    }

    /// A `ga4_mp` url names its stream (`?measurement_id=`) and not the API
    /// secret, which is a secret (`api_secret`, added when sending).
    fn mp_url(&mut self, i: usize, w: &schema::Destination, url: &Uri) {
        let span = w.url.as_ref().map_or(w.kind.span(), |u| u.span());
        let names = |name: &str| {
            form_urlencoded::parse(url.query().unwrap_or_default().as_bytes())
                .any(|(k, _)| k == name)
        };
        if !names("measurement_id") {
            self.problem(
                span.clone(),
                format!("destinations[{i}].url"),
                "a ga4_mp url names its stream".into(),
                "write e.g. url = \"https://region1.google-analytics.com/mp/collect?measurement_id=G-XXXXXXXXXX\"",
            );
        }
        if names("api_secret") {
            self.problem(
                span,
                format!("destinations[{i}].url"),
                "the API secret cannot be written in the url".into(),
                "remove it from the url and set api_secret = \"env:GA4_API_SECRET\"",
            );
        }
    }
}
