//! `POST /admin/subjects/erase`, body `{"ids": ["…", …]}` (the bounds of
//! suppress: at most 5,000 ids of at most 512 bytes): suppresses the ids
//! and marks them erased ([`crate::consent::erasure`]), both on disk
//! before the answer; from the answer on, none of their events still
//! waiting in a spool, a queue or a batch being retried is sent. Then
//! starts a deletion request per destination ([`crate::forward::requests`]),
//! whose id the answer carries.
//!
//! Authenticated like the other subjects calls (before this runs). Errors
//! are short JSON that never quote an id; the audit log names the ids
//! only as keyed pseudonyms.

use crate::consent::erasure::Erasures;
use crate::consent::suppression::{SuppressionError, Suppressions};
use crate::forward::requests::Requests;
use crate::ingest::json_response;
use crate::ingest::server::Body;
use crate::metrics::Metrics;
use crate::reload::Reloader;
use http::{Response, StatusCode};
use hyper::body::Incoming;
use std::sync::Arc;

/// Answers an erase call, and counts it.
pub(super) async fn handle(
    suppressions: &Suppressions,
    erasures: &Erasures,
    requests: Option<&Arc<Requests>>,
    reloader: &Reloader,
    metrics: &Metrics,
    body: Incoming,
) -> Response<Body> {
    let response = erase(suppressions, erasures, requests, reloader, body).await;
    let result = match response.status() {
        s if s.is_success() => "ok",
        s if s.is_server_error() => "error",
        _ => "invalid",
    };
    metrics
        .subject_requests
        .with_label_values(&["erase", result])
        .inc();
    metrics
        .suppressed_subjects
        .set(i64::try_from(suppressions.len()).unwrap_or(i64::MAX));
    response
}

async fn erase(
    suppressions: &Suppressions,
    erasures: &Erasures,
    requests: Option<&Arc<Requests>>,
    reloader: &Reloader,
    body: Incoming,
) -> Response<Body> {
    let ids = match super::subjects::read_ids(body).await {
        Ok(ids) => ids,
        Err(answer) => return answer,
    };
    // Suppressed first (this also checks the ids): no new event of theirs
    // is taken while the waiting ones are marked.
    let suppressed = match suppressions.suppress(&ids) {
        Ok(changed) => changed,
        Err(SuppressionError::Io(e)) => {
            tracing::error!(error = %e.kind(), "suppression log not written; nothing erased");
            return not_recorded();
        }
        Err(e @ (SuppressionError::TooMany | SuppressionError::BadId(_))) => {
            let body = serde_json::json!({ "error": "invalid_ids", "message": e.to_string() });
            return super::json_body(StatusCode::BAD_REQUEST, body);
        }
    };
    if let Err(e) = erasures.erase(&ids) {
        tracing::error!(error = %e.kind(), "erasure log not written; the ids are suppressed, nothing erased");
        return not_recorded();
    }
    let request = requests.map(|r| r.create(&ids));
    // The audit log names people only by keyed pseudonym.
    let pseudonyms: Vec<String> = ids
        .iter()
        .filter_map(|id| suppressions.pseudonym(id))
        .collect();
    let mut detail = serde_json::json!({
        "ids": ids.len(),
        "suppressed": suppressed,
        "pseudonyms": pseudonyms,
    });
    if let Some(Ok(id)) = &request {
        detail["request"] = serde_json::Value::from(id.as_str());
    }
    reloader.audit("erase", detail);
    let mut body = serde_json::json!({
        "erased": ids.len(),
        "suppressed": suppressed,
    });
    match request {
        Some(Ok(id)) => body["request"] = serde_json::Value::from(id),
        Some(Err(e)) => {
            // The erasure holds; only the deletion calls were not started.
            tracing::error!(error = %e, "deletion request not recorded");
            body["request_error"] = "not_recorded".into();
        }
        None => {}
    }
    super::json_body(StatusCode::OK, body)
}

fn not_recorded() -> Response<Body> {
    json_response(
        StatusCode::SERVICE_UNAVAILABLE,
        r#"{"error":"not_recorded","message":"the suppression or erasure log could not be written; try again"}"#,
    )
}
