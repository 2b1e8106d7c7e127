//! `GET api/history` and `api/history/series` (Ferrite's own): bucketed JSON, raw points,
//! CSV export, what a bad parameter answers, and the `history.read` permission.

use ferrite_runtime::history::HistoryValue;
use serde_json::{Value as Json, json};

use super::support::Server;

/// Node-RED's example hash (its settings.js template) for the password "password".
const HASH: &str = "$2a$08$zZWtXTja0fB1pzD4sHCMyOCMYz2Z6dNbM6tl8sJogENOMcxWV9DN.";

/// A server whose history holds `tank`: values 0..=9 at ts 0..=9 ms, and `state`: text.
async fn server_with_points(settings: Json) -> Server {
    let server = Server::with(settings, json!([])).await;
    let store = server.runtime.history().expect("history store");
    for ts in 0..10 {
        store.record("tank", ts, HistoryValue::Number(ts as f64));
    }
    store.record("state", 3, HistoryValue::Text("idle, ok".into()));
    store.flush().await.expect("flush");
    server
}

/// Buckets come back as `[ts, min, max, avg, last, count]` with the query echoed.
#[tokio::test]
async fn buckets_as_json() {
    let server = server_with_points(json!({})).await;
    let reply = server
        .get("api/history?series=tank&from=0&to=9&points=2&agg=max")
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(
        reply.json(),
        json!({"series": "tank", "from": 0, "to": 9, "agg": "max", "points": [
            [0, 0.0, 4.0, 2.0, 4.0, 5],
            [5, 5.0, 9.0, 7.0, 9.0, 5]
        ]})
    );
}

/// With no more points than asked for, the raw points come back (count 1); `from` and `to`
/// may be ISO 8601.
#[tokio::test]
async fn raw_points_and_iso_times() {
    let server = server_with_points(json!({})).await;
    let reply = server
        .get("api/history?series=state&from=1970-01-01T00:00:00Z&to=1970-01-01T00:00:01.000Z")
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(
        reply.json()["points"],
        json!([[3, null, null, null, "idle, ok", 1]])
    );
    assert_eq!(reply.json()["to"], 1000);
}

/// Without from/to the last hour is read (the test's points are older: none).
#[tokio::test]
async fn defaults_to_the_last_hour() {
    let server = server_with_points(json!({})).await;
    let body = server.get("api/history?series=tank").await.json();
    assert_eq!(body["points"], json!([]));
    let span = body["to"].as_i64().unwrap_or(0) - body["from"].as_i64().unwrap_or(0);
    assert_eq!(span, 3_600_000);
    assert_eq!(body["agg"], "avg");
}

/// `format=csv` answers a header line and one row per bucket, as a download.
#[tokio::test]
async fn csv_export() {
    let server = server_with_points(json!({})).await;
    let reply = server
        .get("api/history?series=tank&from=0&to=9&points=2&format=csv")
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(
        reply.header("content-type"),
        Some("text/csv; charset=utf-8")
    );
    assert_eq!(
        reply.header("content-disposition"),
        Some("attachment; filename=\"tank.csv\"")
    );
    assert_eq!(
        reply.text(),
        "ts,time,min,max,avg,last,count\n\
         0,1970-01-01T00:00:00.000Z,0,4,2,4,5\n\
         5,1970-01-01T00:00:00.005Z,5,9,7,9,5\n"
    );
}

/// `api/history/series` lists every series name.
#[tokio::test]
async fn series_list() {
    let server = server_with_points(json!({})).await;
    let reply = server.get("api/history/series").await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.json(), json!(["state", "tank"]));
}

/// Each bad parameter is a 400 `{code, message}` naming what to fix.
#[tokio::test]
async fn bad_parameters_say_what_to_fix() {
    let server = server_with_points(json!({})).await;
    let cases = [
        ("api/history", "series is required"),
        (
            "api/history?series=tank&from=yesterday",
            "from 'yesterday' is not a time",
        ),
        ("api/history?series=tank&from=10&to=5", "before from"),
        ("api/history?series=tank&points=0", "points '0' must be"),
        (
            "api/history?series=tank&points=many",
            "points 'many' must be",
        ),
        (
            "api/history?series=tank&agg=median",
            "unknown aggregate 'median'",
        ),
        ("api/history?series=tank&format=xml", "format 'xml'"),
    ];
    for (path, expected) in cases {
        let reply = server.get(path).await;
        assert_eq!(reply.status, 400, "{path}: {}", reply.text());
        let body = reply.json();
        assert_eq!(body["code"], "invalid_request", "{path}");
        let message = body["message"].as_str().unwrap_or_default();
        assert!(message.contains(expected), "{path}: {message}");
    }
}

/// Under adminAuth the API needs `history.read`: `flows.read` alone does not open it.
#[tokio::test]
async fn needs_history_read_permission() {
    let settings = |permissions: &str| {
        json!({"adminAuth": {"type": "credentials",
            "users": [{"username": "admin", "password": HASH, "permissions": "*"}],
            "default": {"permissions": permissions}}})
    };
    let server = server_with_points(settings("history.read")).await;
    assert_eq!(server.get("api/history/series").await.status, 200);
    assert_eq!(server.get("flows").await.status, 401);
    let server = server_with_points(settings("flows.read")).await;
    assert_eq!(server.get("flows").await.status, 200);
    assert_eq!(server.get("api/history/series").await.status, 401);
}
