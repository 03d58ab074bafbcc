//! CORS for browser trackers. The allowed `Origin` is echoed with
//! `Access-Control-Allow-Credentials: true` (Snowplow's fetch sends
//! credentials, so `*` would break it and is never sent), preflights get 204
//! and have their requested headers echoed (analytics.js preflights because
//! of `Authorization`). Origins not in the list get no CORS headers. A
//! relayed answer arrives here without the upstream's CORS headers
//! ([`super::passthrough`] drops them), so this rule answers for it too.

use http::{header, HeaderMap, HeaderValue};

/// The origins one route accepts.
#[derive(Clone, Debug, Default)]
pub(crate) struct Cors {
    origins: Vec<HeaderValue>,
}

impl Cors {
    /// Allows exactly `origins`.
    pub(crate) fn new(origins: Vec<HeaderValue>) -> Cors {
        Cors { origins }
    }

    /// The request's origin, if it is allowed.
    pub(crate) fn allowed<'a>(&self, request: &'a HeaderMap) -> Option<&'a HeaderValue> {
        let origin = request.get(header::ORIGIN)?;
        self.origins
            .iter()
            .any(|o| o.as_bytes().eq_ignore_ascii_case(origin.as_bytes()))
            .then_some(origin)
    }

    /// Adds the headers of an actual (non-preflight) response; one that has
    /// an `Access-Control-Allow-Origin` already (a preflight's answer) is
    /// left alone.
    pub(crate) fn decorate(&self, request: &HeaderMap, response: &mut HeaderMap) {
        if self.origins.is_empty() || response.contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN) {
            return;
        }
        response.append(header::VARY, HeaderValue::from_static("Origin"));
        if let Some(origin) = self.allowed(request) {
            response.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
            response.insert(
                header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
                HeaderValue::from_static("true"),
            );
        }
    }

    /// Headers of a preflight answer, or `None` if the origin is not allowed.
    pub(crate) fn preflight(&self, request: &HeaderMap) -> Option<HeaderMap> {
        let origin = self.allowed(request)?;
        let mut h = HeaderMap::new();
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
        h.insert(
            header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
            HeaderValue::from_static("true"),
        );
        h.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("GET, POST, OPTIONS"),
        );
        if let Some(requested) = request.get(header::ACCESS_CONTROL_REQUEST_HEADERS) {
            h.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, requested.clone());
        }
        h.insert(
            header::ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from_static("600"),
        );
        h.insert(
            header::VARY,
            HeaderValue::from_static("Origin, Access-Control-Request-Headers"),
        );
        Some(h)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(origin: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::ORIGIN, origin.parse().unwrap());
        h
    }

    #[test]
    fn echoes_allowed_origins_only() {
        let cors = Cors::new(vec![HeaderValue::from_static("https://shop.example")]);
        let mut req = request("https://shop.example");
        req.insert(
            header::ACCESS_CONTROL_REQUEST_HEADERS,
            "authorization".parse().unwrap(),
        );
        let pre = cors.preflight(&req).unwrap();
        assert_eq!(
            pre[header::ACCESS_CONTROL_ALLOW_ORIGIN],
            "https://shop.example"
        );
        assert_eq!(pre[header::ACCESS_CONTROL_ALLOW_CREDENTIALS], "true");
        assert_eq!(pre[header::ACCESS_CONTROL_ALLOW_HEADERS], "authorization");
        assert!(cors.preflight(&request("https://evil.example")).is_none());

        let mut resp = HeaderMap::new();
        cors.decorate(&request("https://evil.example"), &mut resp);
        assert!(resp.get(header::ACCESS_CONTROL_ALLOW_ORIGIN).is_none());
        cors.decorate(&req, &mut resp);
        assert_eq!(
            resp[header::ACCESS_CONTROL_ALLOW_ORIGIN],
            "https://shop.example"
        );
    }
}
