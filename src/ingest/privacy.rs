//! `GET /privacy` on the tracker listener: the public notice of what the
//! running config does ([`crate::privacy::Page`], rendered when this
//! config's handler was built, so a reload changes it). No write key: it
//! is public. CORS allows the origins any source allows, as the sources'
//! endpoints do (see [`super::cors`]).

use super::cors::Cors;
use super::error::IngestError;
use super::server::Body;
use super::{empty, full};
use crate::privacy::Page;
use http::{header, HeaderValue, Method, Request, Response, StatusCode};

/// The page and who may read it from a script.
pub(crate) struct PrivacyPage {
    page: Page,
    cors: Cors,
}

impl PrivacyPage {
    /// `page`, readable by scripts of `origins`.
    pub(crate) fn new(page: Page, origins: Vec<HeaderValue>) -> PrivacyPage {
        PrivacyPage {
            page,
            cors: Cors::new(origins),
        }
    }

    /// Answers a request for [`crate::privacy::PATH`].
    pub(crate) fn answer<B>(&self, request: &Request<B>) -> Result<Response<Body>, IngestError> {
        let headers = request.headers();
        let mut response = match *request.method() {
            Method::GET | Method::HEAD => self
                .page
                .answer(request.method(), request.uri().query(), headers)
                .map(full),
            Method::OPTIONS => {
                let preflight = self
                    .cors
                    .preflight(headers)
                    .ok_or(IngestError::OriginNotAllowed)?;
                let mut response = Response::new(empty());
                *response.status_mut() = StatusCode::NO_CONTENT;
                *response.headers_mut() = preflight;
                return Ok(response);
            }
            _ => return Err(IngestError::MethodNotAllowed("GET, HEAD, OPTIONS")),
        };
        // The page varies by Accept as well as Origin: `decorate` adds
        // its `Vary: Origin`, which the page's own Vary already says.
        let vary = response.headers_mut().remove(header::VARY);
        self.cors.decorate(headers, response.headers_mut());
        if let Some(vary) = vary {
            response.headers_mut().insert(header::VARY, vary);
        }
        Ok(response)
    }
}
