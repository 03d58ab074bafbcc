//! The answer to `GET /privacy`: the notice rendered once per config in
//! both forms, chosen per request by content negotiation, with the
//! caching and hardening headers a public page needs.

use super::Notice;
use bytes::Bytes;
use http::{header, HeaderMap, HeaderValue, Method, Response, StatusCode};

/// The path the page is served at.
pub(crate) const PATH: &str = "/privacy";

/// One config's notice, rendered.
#[derive(Clone, Debug)]
pub(crate) struct Page {
    json: Form,
    html: Form,
}

/// One rendering and its validator.
#[derive(Clone, Debug)]
struct Form {
    body: Bytes,
    content_type: &'static str,
    etag: HeaderValue,
}

impl Page {
    /// Renders `notice` in both forms.
    pub(crate) fn new(notice: &Notice) -> Page {
        let json = serde_json::to_vec_pretty(notice).expect("a notice is plain data");
        // Each form has its own strong validator (RFC 9110 8.8.3: two
        // representations must not share one), both naming the config
        // version.
        let etag = |form: &str| {
            HeaderValue::try_from(format!("\"{}-{form}\"", notice.config_version))
                .expect("a hex digest is a valid header value")
        };
        Page {
            json: Form {
                body: json.into(),
                content_type: "application/json",
                etag: etag("json"),
            },
            html: Form {
                body: super::html::render(notice).into(),
                content_type: "text/html; charset=utf-8",
                etag: etag("html"),
            },
        }
    }

    /// The answer to a `GET` or `HEAD` of [`PATH`] (other methods are the
    /// caller's to refuse): JSON for `?format=json` or an `Accept` that
    /// prefers `application/json`, HTML otherwise; 304 when
    /// `If-None-Match` names the chosen form's ETag. CORS is the caller's.
    pub(crate) fn answer(
        &self,
        method: &Method,
        query: Option<&str>,
        request: &HeaderMap,
    ) -> Response<Bytes> {
        let form = match wants_json(query, request) {
            true => &self.json,
            false => &self.html,
        };
        let fresh = request
            .get_all(header::IF_NONE_MATCH)
            .iter()
            .any(|value| matches_etag(value, &form.etag));
        let (status, body) = match (fresh, method == Method::HEAD) {
            (true, _) => (StatusCode::NOT_MODIFIED, Bytes::new()),
            (false, true) => (StatusCode::OK, Bytes::new()),
            (false, false) => (StatusCode::OK, form.body.clone()),
        };
        let mut response = Response::new(body);
        *response.status_mut() = status;
        let h = response.headers_mut();
        let fixed = [
            (header::CACHE_CONTROL, "public, max-age=300"),
            (header::VARY, "Accept, Origin"),
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; style-src 'unsafe-inline'",
            ),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::REFERRER_POLICY, "no-referrer"),
        ];
        for (name, value) in fixed {
            h.insert(name, HeaderValue::from_static(value));
        }
        h.insert(header::ETAG, form.etag.clone());
        if status == StatusCode::OK {
            h.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static(form.content_type),
            );
            h.insert(header::CONTENT_LENGTH, form.body.len().into());
        }
        response
    }
}

/// `?format=json`, or an `Accept` that ranks `application/json` above
/// `text/html` (`?format=html` forces HTML).
fn wants_json(query: Option<&str>, request: &HeaderMap) -> bool {
    let format = query
        .into_iter()
        .flat_map(|q| q.split('&'))
        .find_map(|pair| pair.strip_prefix("format="));
    match format {
        Some("json") => return true,
        Some("html") => return false,
        _ => {}
    }
    let (mut json, mut html) = (0.0f32, 0.0f32);
    for value in request.get_all(header::ACCEPT) {
        let Ok(value) = value.to_str() else { continue };
        for range in value.split(',') {
            let mut parts = range.split(';');
            let media = parts.next().unwrap_or("").trim().to_ascii_lowercase();
            let q = parts
                .filter_map(|p| p.trim().strip_prefix("q="))
                .find_map(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0)
                .clamp(0.0, 1.0);
            match media.as_str() {
                "application/json" => json = json.max(q),
                "text/html" => html = html.max(q),
                _ => {}
            }
        }
    }
    json > html
}

/// Whether one `If-None-Match` value lists `etag` (weakly compared, as
/// RFC 9110 13.1.2 says), or is `*`.
fn matches_etag(value: &HeaderValue, etag: &HeaderValue) -> bool {
    let Ok(value) = value.to_str() else {
        return false;
    };
    value.split(',').map(str::trim).any(|tag| {
        tag == "*" || tag.strip_prefix("W/").unwrap_or(tag).as_bytes() == etag.as_bytes()
    })
}
