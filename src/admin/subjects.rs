//! `/admin/subjects/*`: suppressing people's ids, lifting it, and asking
//! whether an id is suppressed (see [`crate::consent::suppression`] for
//! how they are kept and matched).
//!
//! - `POST /admin/subjects/suppress` and `/admin/subjects/unsuppress`,
//!   body `{"ids": ["…", …]}` (at most 5,000 ids of at most 512 bytes):
//!   on disk before the answer, in force for the next request.
//! - `GET /admin/subjects/{id}` (the id percent-encoded): whether it is
//!   suppressed, and since when.
//! - `GET /admin/subjects?after=<cursor>&limit=<n>`: the change feed
//!   replicas poll (`consent.suppression_sync`), `limit` at most
//!   [`MAX_PAGE`] (default [`DEFAULT_PAGE`]): `{"changes": [{"op":
//!   "suppress"|"unsuppress", "id", "at"}], "next": cursor, "more": bool}`.
//!
//! Only with `[admin] token` set (the caller is authenticated before this
//! runs) and `consent.suppressions` configured. Errors are short JSON that
//! never quote an id; metrics count calls by action and result only.

use crate::consent::suppression::{SuppressionError, Suppressions, MAX_IDS, MAX_ID_BYTES};
use crate::ingest::json_response;
use crate::ingest::server::Body;
use crate::metrics::Metrics;
use crate::reload::Reloader;
use http::{Method, Response, StatusCode};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use serde::Deserialize;

/// Most changes one listing page holds.
pub(super) const MAX_PAGE: usize = 5_000;
/// Changes a listing page holds when the caller names no `limit`.
pub(super) const DEFAULT_PAGE: usize = 1_000;

/// Largest request body: the most ids at their longest, JSON-escaped.
const MAX_BODY: usize = MAX_IDS * (MAX_ID_BYTES * 6 + 4) + 64;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Ids {
    ids: Vec<String>,
}

/// The ids of a suppress, unsuppress or erase call's body (`{"ids": [...]}`),
/// read within [`MAX_BODY`]; or the answer to a body that is too large or
/// not that shape (never quoting it).
pub(super) async fn read_ids(body: Incoming) -> Result<Vec<String>, Response<Body>> {
    let bytes = match Limited::new(body, MAX_BODY).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => {
            return Err(json_response(
                StatusCode::PAYLOAD_TOO_LARGE,
                r#"{"error":"body_too_large","message":"at most 5000 ids of at most 512 bytes"}"#,
            ))
        }
    };
    // serde's own messages may quote the input: a fixed one instead.
    serde_json::from_slice::<Ids>(&bytes)
        .map(|Ids { ids }| ids)
        .map_err(|_| {
            json_response(
                StatusCode::BAD_REQUEST,
                r#"{"error":"invalid_json","message":"send {\"ids\": [\"id\", ...]}"}"#,
            )
        })
}

/// Answers a subjects call.
pub(super) async fn handle(
    suppressions: &Suppressions,
    reloader: &Reloader,
    metrics: &Metrics,
    method: &Method,
    path: &str,
    body: Incoming,
) -> Response<Body> {
    let rest = path.strip_prefix("/admin/subjects/").unwrap_or_default();
    let (action, response) = match (method, rest) {
        (&Method::POST, "suppress") => {
            ("suppress", change(suppressions, reloader, body, true).await)
        }
        (&Method::POST, "unsuppress") => (
            "unsuppress",
            change(suppressions, reloader, body, false).await,
        ),
        (&Method::GET, id) if !id.is_empty() && !id.contains('/') => {
            ("lookup", lookup(suppressions, id))
        }
        _ => return json_response(StatusCode::NOT_FOUND, r#"{"error":"not_found"}"#),
    };
    let result = match response.status() {
        s if s.is_success() => "ok",
        s if s.is_server_error() => "error",
        _ => "invalid",
    };
    metrics
        .subject_requests
        .with_label_values(&[action, result])
        .inc();
    metrics
        .suppressed_subjects
        .set(i64::try_from(suppressions.len()).unwrap_or(i64::MAX));
    response
}

async fn change(
    suppressions: &Suppressions,
    reloader: &Reloader,
    body: Incoming,
    suppress: bool,
) -> Response<Body> {
    let ids = match read_ids(body).await {
        Ok(ids) => ids,
        Err(answer) => return answer,
    };
    let done = if suppress {
        suppressions.suppress(&ids)
    } else {
        suppressions.unsuppress(&ids)
    };
    match done {
        Ok(changed) => {
            let key = if suppress {
                "suppressed"
            } else {
                "unsuppressed"
            };
            // The audit log names people only by keyed pseudonym.
            let pseudonyms: Vec<String> = ids
                .iter()
                .filter_map(|id| suppressions.pseudonym(id))
                .collect();
            reloader.audit(
                if suppress { "suppress" } else { "unsuppress" },
                serde_json::json!({ "ids": ids.len(), "changed": changed, "pseudonyms": pseudonyms }),
            );
            let body = serde_json::json!({ key: changed, "ids": ids.len() });
            super::json_body(StatusCode::OK, body)
        }
        Err(SuppressionError::Io(e)) => {
            tracing::error!(error = %e.kind(), "suppression log not written; nothing changed");
            json_response(
                StatusCode::SERVICE_UNAVAILABLE,
                r#"{"error":"not_recorded","message":"the suppression log could not be written; nothing changed, try again"}"#,
            )
        }
        Err(e @ (SuppressionError::TooMany | SuppressionError::BadId(_))) => {
            let body = serde_json::json!({ "error": "invalid_ids", "message": e.to_string() });
            super::json_body(StatusCode::BAD_REQUEST, body)
        }
    }
}

/// `GET /admin/subjects?after=&limit=`: one page of the change feed.
pub(super) fn list(
    suppressions: &Suppressions,
    metrics: &Metrics,
    query: Option<&str>,
) -> Response<Body> {
    let mut after = 0u64;
    let mut limit = DEFAULT_PAGE;
    let mut bad = false;
    for (key, value) in form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        match &*key {
            "after" => match value.parse() {
                Ok(v) => after = v,
                Err(_) => bad = true,
            },
            "limit" => match value.parse() {
                Ok(v) if (1..=MAX_PAGE).contains(&v) => limit = v,
                _ => bad = true,
            },
            _ => bad = true,
        }
    }
    let response = if bad {
        json_response(
            StatusCode::BAD_REQUEST,
            r#"{"error":"invalid_query","message":"after is a cursor from an earlier answer's next; limit is 1 to 5000"}"#,
        )
    } else {
        let (changes, next, more) = suppressions.changes(after, limit);
        let body = serde_json::json!({
            "changes": changes,
            "next": next.to_string(),
            "more": more,
        });
        super::json_body(StatusCode::OK, body)
    };
    let result = if response.status().is_success() {
        "ok"
    } else {
        "invalid"
    };
    metrics
        .subject_requests
        .with_label_values(&["list", result])
        .inc();
    response
}

fn lookup(suppressions: &Suppressions, encoded: &str) -> Response<Body> {
    let id = percent_encoding::percent_decode_str(encoded).decode_utf8();
    let Ok(id) = id else {
        return json_response(
            StatusCode::BAD_REQUEST,
            r#"{"error":"invalid_id","message":"the id is not percent-encoded UTF-8"}"#,
        );
    };
    if id.is_empty() || id.len() > MAX_ID_BYTES {
        return json_response(
            StatusCode::BAD_REQUEST,
            r#"{"error":"invalid_id","message":"an id is 1 to 512 bytes"}"#,
        );
    }
    let body = match suppressions.since(&id) {
        Some(since) => serde_json::json!({
            "suppressed": true,
            "since": humantime::format_rfc3339_seconds(since).to_string(),
        }),
        None => serde_json::json!({ "suppressed": false }),
    };
    super::json_body(StatusCode::OK, body)
}
