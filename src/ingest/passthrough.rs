//! Relaying the requests an SDK makes that are not events (analytics.js's
//! settings fetch) to the source's `upstream`, unchanged apart from what a
//! proxy must change: hop-by-hop headers, `Host`, and cookies (the vendor
//! gets no user cookies through privgate). Bodies stream both ways, bounded
//! in size and time. The client's IP is not passed on.

use super::error::IngestError;
use bytes::Bytes;
use http::{header, HeaderMap, HeaderName, Request, Response, Uri};
use http_body_util::{combinators::BoxBody, BodyExt, Limited};
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioExecutor;
use std::time::Duration;

/// A boxed body error.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The relay's client; bodies stream.
pub type RelayClient =
    Client<hyper_rustls::HttpsConnector<HttpConnector>, BoxBody<Bytes, BoxError>>;

/// Builds the relay client.
pub fn client() -> RelayClient {
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
pub struct Upstream<'a> {
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
pub async fn relay<B>(
    client: &RelayClient,
    upstream: Upstream<'_>,
    request: Request<B>,
) -> Result<Response<BoxBody<Bytes, BoxError>>, IngestError>
where
    B: http_body::Body<Data = Bytes> + Send + Sync + 'static,
    B::Error: std::error::Error + Send + Sync + 'static,
{
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
    strip(
        &mut parts.headers,
        &[
            header::HOST,
            header::COOKIE,
            HeaderName::from_static("x-forwarded-for"),
            header::FORWARDED,
        ],
    );
    let body = Limited::new(body, upstream.max_request).boxed();
    let request = Request::from_parts(parts, body);

    let response = match tokio::time::timeout(upstream.timeout, client.request(request)).await {
        Err(_) => return Err(IngestError::GatewayTimeout),
        Ok(Err(_)) => return Err(IngestError::BadGateway),
        Ok(Ok(r)) => r,
    };
    let (mut parts, body) = response.into_parts();
    strip(&mut parts.headers, &[header::SET_COOKIE]);
    let body = Limited::new(body, upstream.max_response).boxed();
    Ok(Response::from_parts(parts, body))
}
