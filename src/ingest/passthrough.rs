//! Relaying the requests an SDK makes that are not events (analytics.js's
//! settings fetch, RudderStack's source config, Amplitude's and PostHog's
//! remote config, PostHog's feature flags and assets) to the source's
//! `upstream`, unchanged apart from what a proxy must change:
//!
//! - **who the client is** goes nowhere: cookies, and every header that
//!   names the client's address ([`CLIENT_ADDRESS`]: `X-Forwarded-For`,
//!   `Forwarded`, `X-Real-IP`, `True-Client-IP`, `CF-Connecting-IP`, ...)
//!   or an id (RudderStack's `AnonymousId`), are removed, as are hop-by-hop
//!   headers and `Host`;
//! - **user ids go only with consent**: of these requests only PostHog's
//!   feature flags (`/flags/`, `/decide/`) name the user, in their body
//!   (`distinct_id`, `$anon_distinct_id`, `$device_id`, person
//!   properties). They are relayed only as events would be
//!   ([`RelayConsent`]): not for an id in the opt-out registry, not when
//!   `Sec-GPC: 1` denies a purpose the relay serves (the source's
//!   `relay_purposes`), and not without a consent signal under
//!   `consent.default = "deny"` unless the source says
//!   `relay_personal_data = true`. Otherwise the SDK gets the answer it
//!   reads as "no flags" ([`Codec::relay_withheld`]) and the upstream gets nothing. A
//!   body whose ids cannot be read is withheld too;
//! - **CORS is privgate's**: the upstream's `Access-Control-*` headers and
//!   its `Vary: Origin` are dropped, and the source's own rule answers
//!   the request's `Origin` (see [`super::cors`]): never `*`, nothing for
//!   an unlisted origin.
//!
//! Bodies stream both ways, bounded in size and time, except a feature-flag
//! request's, which is read (within `max_body_bytes`) to find its ids.

use super::error::IngestError;
use super::settings::RelayConfig;
use crate::consent::{Consent, Denial, Match, Need, Requirement};
use crate::event::Marks;
use crate::protocol::Codec;
use bytes::Bytes;
use http::{header, HeaderMap, HeaderName, HeaderValue, Request, Response, Uri};
use http_body_util::{combinators::BoxBody, BodyExt, Limited};
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioExecutor;
use std::time::Duration;

pub(crate) use crate::tracker_http::BoxError;

/// A relayed request's body: the client's, streaming, or one read first.
pub(crate) type RelayBody = BoxBody<Bytes, BoxError>;

/// The relay's client; bodies stream.
pub(crate) type RelayClient = Client<hyper_rustls::HttpsConnector<HttpConnector>, RelayBody>;

/// Builds the relay client.
pub(crate) fn client() -> RelayClient {
    let mut http = HttpConnector::new();
    http.set_connect_timeout(Some(Duration::from_secs(5)));
    http.enforce_http(false);
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_webpki_roots()
        .https_or_http()
        .enable_http1()
        .wrap_connector(http);
    Client::builder(TokioExecutor::new()).build(https)
}

/// Where and how to relay.
pub(crate) struct Upstream<'a> {
    /// Base URL (scheme, authority, optional path prefix).
    pub base: &'a Uri,
    /// Deadline for the response head.
    pub timeout: Duration,
    /// Largest request body relayed.
    pub max_request: usize,
    /// Largest response body relayed.
    pub max_response: usize,
}

const HOP_BY_HOP: [HeaderName; 8] = [
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    header::PROXY_AUTHENTICATE,
    header::PROXY_AUTHORIZATION,
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
];

/// Request headers that name the client's address: a relay passes on none
/// (the vendor would see the user's address, which events never carry in
/// full unless the source says `client_ip = "full"`).
pub(crate) const CLIENT_ADDRESS: [&str; 14] = [
    "x-forwarded-for",
    "forwarded",
    "x-real-ip",
    "true-client-ip",
    "cf-connecting-ip",
    "cf-connecting-ipv6",
    "fastly-client-ip",
    "x-client-ip",
    "x-cluster-client-ip",
    "x-forwarded",
    "forwarded-for",
    "x-original-forwarded-for",
    "client-ip",
    "x-envoy-external-address",
];

/// Request headers that carry a user id (RudderStack's SDK sends the
/// anonymous id, base64, with its requests).
const USER_IDS: [&str; 1] = ["anonymousid"];

fn strip(headers: &mut HeaderMap, extra: &[HeaderName]) {
    // Headers named in `Connection` are hop-by-hop too.
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|n| HeaderName::try_from(n.trim()).ok())
        .collect();
    for name in HOP_BY_HOP.iter().chain(extra).chain(&named) {
        headers.remove(name);
    }
}

/// Relays `request` to `upstream` and returns its answer, streaming.
pub(crate) async fn relay(
    client: &RelayClient,
    upstream: Upstream<'_>,
    request: Request<RelayBody>,
) -> Result<Response<RelayBody>, IngestError> {
    let (mut parts, body) = request.into_parts();
    let base = upstream.base;
    let prefix = base.path().trim_end_matches('/');
    let path_and_query = parts.uri.path_and_query().map_or("/", |pq| pq.as_str());
    let uri = Uri::builder()
        .scheme(base.scheme_str().unwrap_or("https"))
        .authority(base.authority().map_or("", |a| a.as_str()))
        .path_and_query(format!("{prefix}{path_and_query}"))
        .build()
        .map_err(|_| IngestError::NotFound)?;
    parts.uri = uri;
    parts.version = http::Version::HTTP_11;
    strip(&mut parts.headers, &[header::HOST, header::COOKIE]);
    for name in CLIENT_ADDRESS.iter().chain(&USER_IDS) {
        parts.headers.remove(*name);
    }
    let body = Limited::new(body, upstream.max_request).boxed();
    let request = Request::from_parts(parts, body);

    let response = match tokio::time::timeout(upstream.timeout, client.request(request)).await {
        Err(_) => return Err(IngestError::GatewayTimeout),
        Ok(Err(_)) => return Err(IngestError::BadGateway),
        Ok(Ok(r)) => r,
    };
    let (mut parts, body) = response.into_parts();
    strip(&mut parts.headers, &[header::SET_COOKIE]);
    drop_cors(&mut parts.headers);
    let body = Limited::new(body, upstream.max_response).boxed();
    Ok(Response::from_parts(parts, body))
}

/// Removes the upstream's CORS answer: every `Access-Control-*` header, and
/// `Origin` from `Vary` (the source's rule answers, and adds its own).
fn drop_cors(headers: &mut HeaderMap) {
    let cors: Vec<HeaderName> = headers
        .keys()
        .filter(|name| name.as_str().starts_with("access-control-"))
        .cloned()
        .collect();
    for name in cors {
        headers.remove(name);
    }
    let vary: Vec<String> = headers
        .get_all(header::VARY)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|token| !token.is_empty() && !token.eq_ignore_ascii_case("origin"))
        .map(str::to_owned)
        .collect();
    headers.remove(header::VARY);
    if !vary.is_empty() {
        if let Ok(value) = HeaderValue::from_str(&vary.join(", ")) {
            headers.insert(header::VARY, value);
        }
    }
}

/// A source's rule for relayed requests that carry user ids, compiled
/// against the consent engine: each purpose the relay serves on its own,
/// so that GPC is asked about every one of them.
pub(crate) struct RelayConsent {
    needs: Vec<Need>,
    without_signal: bool,
}

/// Why a request that carries user ids was not relayed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Withheld {
    /// Consent says no (`opted_out`, `gpc`, `no_consent`).
    Denied(Denial),
    /// Its ids could not be read, so no opt-out can be checked.
    Unreadable,
}

impl Withheld {
    /// A log field (never a value from the request).
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Withheld::Denied(denial) => denial.as_str(),
            Withheld::Unreadable => "unreadable",
        }
    }
}

impl RelayConsent {
    /// The rule `config` describes, decided by `consent`.
    pub(crate) fn new(consent: &Consent, config: &RelayConfig) -> RelayConsent {
        RelayConsent {
            needs: config
                .purposes
                .iter()
                .map(|purpose| {
                    consent.need(&Requirement {
                        purposes: vec![purpose.clone()],
                        mode: Match::All,
                        tcf_vendor: None,
                        // An opted-out person's flags are never fetched.
                        honor_opt_out: true,
                    })
                })
                .collect(),
            without_signal: config.personal_data,
        }
    }

    /// What a request sent with `gpc` (`Sec-GPC: 1`) and `query` may do,
    /// before its ids are read. Such a request carries no consent object,
    /// only what its query may carry (`gdpr_consent`, `gpp` with
    /// `gpp_sid`, `us_privacy`), read as for events: so without them,
    /// under `consent.default = "deny"` it has no consent unless the
    /// operator said `relay_personal_data = true`; GPC or a string that
    /// denies (or cannot be read) withholds it either way when it denies
    /// one of the relay's purposes.
    pub(crate) fn check_request(
        &self,
        consent: &Consent,
        gpc: bool,
        query: Option<&str>,
    ) -> Result<(), Withheld> {
        let tcf = crate::consent::request_tcf(query);
        let us = crate::consent::request_us(query);
        let mut signals = consent.signals_for(
            &[],
            &Marks::default(),
            gpc,
            tcf.as_ref().map(|tc| tc.as_deref()),
            Some(&us),
        );
        // No jurisdiction is read for relays: where one is configured,
        // the unknown jurisdiction's default applies (fail closed).
        signals.default = consent.default_in(None);
        let mut no_signal = false;
        for need in &self.needs {
            match consent.decide(&signals, need) {
                Ok(()) => {}
                Err(Denial::NoConsent) => no_signal = true,
                Err(denial) => return Err(Withheld::Denied(denial)),
            }
        }
        if no_signal && !self.without_signal {
            return Err(Withheld::Denied(Denial::NoConsent));
        }
        Ok(())
    }

    /// Whether the ids a relayed request's JSON `body` names (`ids`, as
    /// its codec marked them) may be relayed: none of them is opted out
    /// (asked of the consent engine, which reads ids as it does in events).
    pub(crate) fn check_ids(
        &self,
        consent: &Consent,
        body: &[u8],
        ids: &[Marks],
    ) -> Result<(), Withheld> {
        if ids
            .iter()
            .any(|marks| consent.signals(body, marks, false).opted_out)
        {
            return Err(Withheld::Denied(Denial::OptedOut));
        }
        Ok(())
    }
}

/// A relayed request whose body names the user (PostHog's feature flags),
/// read within `limits.max_body`, its ids read by its `codec`
/// ([`Codec::relay_ids`]), and ready to relay if `rule` and `consent` let
/// them go; why not otherwise.
pub(crate) async fn with_user_ids<B>(
    codec: &dyn Codec,
    consent: &Consent,
    rule: &RelayConsent,
    limits: super::body::Limits,
    request: Request<B>,
) -> Result<Result<Request<RelayBody>, Withheld>, IngestError>
where
    B: http_body::Body<Data = Bytes>,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    let gpc = request
        .headers()
        .get("sec-gpc")
        .is_some_and(|v| v.as_bytes() == b"1");
    if let Err(why) = rule.check_request(consent, gpc, request.uri().query()) {
        return Ok(Err(why));
    }
    let (parts, body) = request.into_parts();
    let raw = Limited::new(body, limits.max_body)
        .collect()
        .await
        .map_err(|e| {
            if e.is::<http_body_util::LengthLimitError>() {
                IngestError::TooLarge(limits.max_body)
            } else {
                IngestError::BodyRead
            }
        })?
        .to_bytes();
    let checked = match codec.relay_ids(&parts, raw.clone(), limits) {
        Some((json, ids)) => rule.check_ids(consent, &json, &ids),
        None => Err(Withheld::Unreadable),
    };
    Ok(checked.map(|()| {
        let body = http_body_util::Full::new(raw)
            .map_err(|never| match never {})
            .boxed();
        Request::from_parts(parts, body)
    }))
}
