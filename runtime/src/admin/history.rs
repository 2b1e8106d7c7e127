//! The history API (Ferrite's own): what the history node and dashboard charts recorded.
//!
//! * `GET api/history?series=..&from=..&to=..&points=..&agg=..&format=..` →
//!   `{series, from, to, agg, points: [[ts, min, max, avg, last, count], ...]}`, at most
//!   `points` buckets (default 1000; raw points, `count` 1, when there are no more than
//!   that). `from`/`to`: epoch ms or ISO 8601 (default: the last hour); `agg` (min, max,
//!   avg, last; default avg) names the value a consumer should plot. `format=csv` answers
//!   the same buckets as CSV (a header line, one row per bucket).
//! * `GET api/history/series` → every series name, sorted.
//!
//! Bad parameters are 400 `{code: "invalid_request", message}` saying what to fix; a
//! runtime without a user directory has no history (404). Permission: `history.read`.

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json as JsonBody, Router};
use serde_json::json;

use super::{AdminState, ApiError};
use crate::history::{Agg, HistoryError, HistoryQuery, HistoryStore, MAX_POINTS, to_csv};

const DEFAULT_POINTS: usize = 1000;
const DEFAULT_SPAN_MS: i64 = 3_600_000;

pub(super) fn routes() -> Router<AdminState> {
    Router::new()
        .route("/api/history", get(read))
        .route("/api/history/series", get(series))
}

fn store(state: &AdminState) -> Result<&std::sync::Arc<HistoryStore>, ApiError> {
    state.runtime.history().ok_or_else(|| {
        ApiError::not_found("no history: the runtime has no user directory (ferrite.db)")
    })
}

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::bad_request("invalid_request", message)
}

fn internal(error: HistoryError) -> ApiError {
    tracing::error!(%error, "History query failed.");
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "unexpected_error",
        error.to_string(),
    )
}

/// Epoch ms, or ISO 8601: with a zone, a date and time without one (UTC), or a date.
fn parse_time(key: &str, text: &str) -> Result<i64, ApiError> {
    let text = text.trim();
    if let Ok(ms) = text.parse::<i64>() {
        return Ok(ms);
    }
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(text) {
        return Ok(t.timestamp_millis());
    }
    for format in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M"] {
        if let Ok(t) = chrono::NaiveDateTime::parse_from_str(text, format) {
            return Ok(t.and_utc().timestamp_millis());
        }
    }
    if let Ok(d) = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
        && let Some(t) = d.and_hms_opt(0, 0, 0)
    {
        return Ok(t.and_utc().timestamp_millis());
    }
    Err(invalid(format!(
        "{key} '{text}' is not a time: give epoch milliseconds or ISO 8601 (2026-01-31T12:00:00Z)"
    )))
}

/// The query the parameters describe.
fn query_of(params: &HashMap<String, String>) -> Result<HistoryQuery, ApiError> {
    let series = params
        .get("series")
        .filter(|s| !s.is_empty())
        .ok_or_else(|| invalid("series is required (GET api/history/series lists them)"))?;
    let to_ms = match params.get("to") {
        Some(t) => parse_time("to", t)?,
        None => chrono::Utc::now().timestamp_millis(),
    };
    let from_ms = match params.get("from") {
        Some(f) => parse_time("from", f)?,
        None => to_ms.saturating_sub(DEFAULT_SPAN_MS),
    };
    if to_ms < from_ms {
        return Err(invalid(format!(
            "to ({to_ms}) is before from ({from_ms}): swap them"
        )));
    }
    let points = match params.get("points") {
        None => DEFAULT_POINTS,
        Some(p) => p
            .trim()
            .parse::<usize>()
            .ok()
            .filter(|p| (1..=MAX_POINTS).contains(p))
            .ok_or_else(|| {
                invalid(format!(
                    "points '{p}' must be a whole number from 1 to {MAX_POINTS}"
                ))
            })?,
    };
    let agg = match params.get("agg") {
        None => Agg::default(),
        Some(a) => a
            .parse()
            .map_err(|e: HistoryError| invalid(e.to_string()))?,
    };
    Ok(HistoryQuery {
        series: series.clone(),
        from_ms,
        to_ms,
        points: Some(points),
        agg,
    })
}

async fn read(
    State(state): State<AdminState>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let store = store(&state)?;
    let query = query_of(&params)?;
    let csv = match params.get("format").map(String::as_str) {
        None | Some("json") => false,
        Some("csv") => true,
        Some(other) => return Err(invalid(format!("format '{other}' is not json or csv"))),
    };
    let points = store.query(&query).await.map_err(internal)?;
    if csv {
        // A file name from the series, kept to characters every file system takes.
        let name: String = query
            .series
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        return Ok((
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
                (
                    header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"{name}.csv\""),
                ),
            ],
            to_csv(&points),
        )
            .into_response());
    }
    Ok(JsonBody(json!({
        "series": query.series,
        "from": query.from_ms,
        "to": query.to_ms,
        "agg": query.agg.as_str(),
        "points": points,
    }))
    .into_response())
}

async fn series(State(state): State<AdminState>) -> Result<Response, ApiError> {
    let names = store(&state)?.series_list().await.map_err(internal)?;
    Ok(JsonBody(names).into_response())
}
