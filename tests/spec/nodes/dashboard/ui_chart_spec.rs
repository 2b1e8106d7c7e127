//! `ui-chart` (FlowFuse Dashboard 2.0's keys): what it puts on the dashboard hub (its
//! item, state and live msgs) for append, replace, clear and the window limits, that it
//! passes messages on, and that its points come back from the history store after a
//! restart.

use std::sync::Arc;
use std::time::Duration;

use ferrite_runtime::Settings;
use ferrite_runtime::testing::TestFlow;
use ferrite_runtime::ui::UiEvent;
use serde_json::{Value as Json, json};
use tokio::sync::broadcast;

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

async fn load(dir: &tempfile::TempDir, chart: Json) -> TestFlow {
    let mut node =
        json!({"id": "chart", "type": "ui-chart", "group": "g1", "order": 2, "wires": [["out"]]});
    if let (Json::Object(node), Json::Object(extra)) = (&mut node, chart) {
        node.extend(extra);
    }
    let settings = Settings {
        user_dir: Some(dir.path().to_path_buf()),
        ..Settings::default()
    };
    let flow = TestFlow::load_with(
        &[ferrite_nodes::ALL],
        json!([node, {"id": "out", "type": "helper"}]),
        settings,
    )
    .await;
    assert!(flow.report().is_clean(), "{}", flow.report());
    flow
}

/// The chart's item on the hub, once its node has started (it registers in `on_start`).
async fn item(flow: &TestFlow) -> ferrite_runtime::ui::UiItem {
    let hub = flow.runtime().ui();
    // Subscribed before looking, so a registration in between is not missed.
    let mut events = hub.subscribe();
    tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            if let Some(item) = hub.snapshot().into_iter().find(|i| i.id == "chart") {
                return item;
            }
            let _ = events.recv().await;
        }
    })
    .await
    .expect("the chart registered its item in time")
}

/// A state's or live msg's `series` as `{name: [[x, y], ...]}`, decoded as
/// `editor-static/dashboard/dashboard.js` does: `dx` prefix-summed in f64 (a JavaScript
/// number), `x` taken as given, y as numbers.
fn decoded(series: &Json) -> Json {
    let mut out = serde_json::Map::new();
    for (name, columns) in series.as_object().expect("series is an object") {
        let ys = columns["y"].as_array().expect("a y column");
        let xs: Vec<Json> = match columns.get("dx") {
            Some(dx) => {
                let mut x = 0.0;
                dx.as_array()
                    .expect("dx is a column")
                    .iter()
                    .map(|d| {
                        x += d.as_f64().expect("dx holds numbers");
                        assert_eq!(x.fract(), 0.0, "dx decodes to integers");
                        json!(x as i64)
                    })
                    .collect()
            }
            None => columns["x"].as_array().expect("an x column").clone(),
        };
        assert_eq!(xs.len(), ys.len(), "{name}: one x per y");
        let points = xs
            .into_iter()
            .zip(ys)
            .map(|(x, y)| json!([x, y.as_f64().expect("y holds numbers")]))
            .collect();
        out.insert(name.clone(), Json::Array(points));
    }
    json!({ "series": out })
}

/// The chart's state with its points decoded.
async fn points(flow: &TestFlow) -> Json {
    decoded(&item(flow).await.state["series"])
}

/// Sends `msg` to the chart, waits for it to pass on, and returns the live msg it sent.
async fn send(flow: &mut TestFlow, hub: &mut broadcast::Receiver<Arc<UiEvent>>, msg: Json) -> Json {
    flow.receive("chart", msg).await;
    flow.next("out").await;
    loop {
        let event = tokio::time::timeout(Duration::from_secs(5), hub.recv())
            .await
            .expect("a hub event in time")
            .expect("hub open");
        if let UiEvent::Msg { id, msg } = &*event
            && id == "chart"
        {
            return msg.clone();
        }
    }
}

/// The item has the contract's config with FlowFuse's defaults filled in, under its group.
#[tokio::test]
async fn registers_its_item_with_defaults() {
    let dir = tempfile::tempdir().expect("tempdir");
    let flow = load(&dir, json!({"label": "Level", "removeOlder": "2", "removeOlderUnit": "60", "ymin": "", "ymax": 10})).await;
    let item = item(&flow).await;
    assert_eq!(item.kind, "ui-chart");
    assert_eq!(item.parent.as_deref(), Some("g1"));
    assert_eq!(item.order, 2.0);
    assert_eq!(item.config["label"], "Level");
    assert_eq!(item.config["chartType"], "line");
    assert_eq!(item.config["xAxisType"], "time");
    assert_eq!(item.config["removeOlderMs"], 120_000);
    assert_eq!(item.config["removeOlderPoints"], 0);
    assert_eq!(item.config["ymin"], Json::Null);
    assert_eq!(item.config["ymax"], 10.0);
    assert_eq!(item.config["showLegend"], true);
    assert_eq!(item.config["colors"].as_array().map(Vec::len), Some(9));
    assert_eq!(item.state, json!({"series": {}}));
    flow.unload().await;
}

/// A number appends a point to the series named by msg.topic at msg.timestamp; the page
/// gets an append msg and the item's state holds every point.
#[tokio::test]
async fn numbers_append_points_per_topic() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut flow = load(&dir, json!({})).await;
    let mut hub = flow.runtime().ui().subscribe();
    let t = now_ms();
    let live = send(
        &mut flow,
        &mut hub,
        json!({"payload": 1.5, "topic": "a", "timestamp": t}),
    )
    .await;
    assert_eq!(
        live,
        json!({"action": "append", "series": {"a": {"dx": [t], "y": [1.5]}}})
    );
    send(
        &mut flow,
        &mut hub,
        json!({"payload": 2, "topic": "b", "timestamp": t + 1}),
    )
    .await;
    send(
        &mut flow,
        &mut hub,
        json!({"payload": 3, "topic": "a", "timestamp": t + 2}),
    )
    .await;
    assert_eq!(
        points(&flow).await,
        json!({"series": {"a": [[t, 1.5], [t + 2, 3.0]], "b": [[t + 1, 2.0]]}})
    );
    flow.unload().await;
}

/// An array payload of {x, y} objects and [x, y] pairs adds every point.
#[tokio::test]
async fn array_payloads_add_every_point() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut flow = load(&dir, json!({})).await;
    let mut hub = flow.runtime().ui().subscribe();
    let t = now_ms();
    let live = send(
        &mut flow,
        &mut hub,
        json!({"payload": [{"x": t, "y": 1}, [t + 1, 2]], "topic": "s"}),
    )
    .await;
    assert_eq!(
        decoded(&live["series"]),
        json!({"series": {"s": [[t, 1.0], [t + 1, 2.0]]}})
    );
    assert_eq!(
        points(&flow).await,
        json!({"series": {"s": [[t, 1.0], [t + 1, 2.0]]}})
    );
    flow.unload().await;
}

/// msg.action "replace" replaces all data with the message's points.
#[tokio::test]
async fn action_replace_replaces_the_data() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut flow = load(&dir, json!({})).await;
    let mut hub = flow.runtime().ui().subscribe();
    let t = now_ms();
    send(
        &mut flow,
        &mut hub,
        json!({"payload": 1, "topic": "a", "timestamp": t}),
    )
    .await;
    let live = send(
        &mut flow,
        &mut hub,
        json!({"payload": [{"x": t + 5, "y": 9}], "topic": "b", "action": "replace"}),
    )
    .await;
    assert_eq!(live["action"], "replace");
    assert_eq!(
        points(&flow).await,
        json!({"series": {"b": [[t + 5, 9.0]]}})
    );
    flow.unload().await;
}

/// An empty array clears the chart (and passes on).
#[tokio::test]
async fn empty_array_clears() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut flow = load(&dir, json!({})).await;
    let mut hub = flow.runtime().ui().subscribe();
    send(&mut flow, &mut hub, json!({"payload": 1, "topic": "a"})).await;
    let live = send(&mut flow, &mut hub, json!({"payload": []})).await;
    assert_eq!(live, json!({"action": "clear", "series": {}}));
    assert_eq!(item(&flow).await.state, json!({"series": {}}));
    flow.unload().await;
}

/// removeOlderPoints keeps only the newest points of each series.
#[tokio::test]
async fn remove_older_points_keeps_the_newest_per_series() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut flow = load(&dir, json!({"removeOlderPoints": "2"})).await;
    let mut hub = flow.runtime().ui().subscribe();
    let t = now_ms();
    for k in 0..4 {
        send(
            &mut flow,
            &mut hub,
            json!({"payload": k, "topic": "a", "timestamp": t + k}),
        )
        .await;
    }
    send(
        &mut flow,
        &mut hub,
        json!({"payload": 7, "topic": "b", "timestamp": t}),
    )
    .await;
    assert_eq!(
        points(&flow).await,
        json!({"series": {"a": [[t + 2, 2.0], [t + 3, 3.0]], "b": [[t, 7.0]]}})
    );
    flow.unload().await;
}

/// removeOlder drops points older than the window (seconds × unit) on a time axis.
#[tokio::test]
async fn remove_older_drops_points_outside_the_window() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut flow = load(&dir, json!({"removeOlder": 1, "removeOlderUnit": "60"})).await;
    let mut hub = flow.runtime().ui().subscribe();
    let t = now_ms();
    send(
        &mut flow,
        &mut hub,
        json!({"payload": 1, "topic": "a", "timestamp": t - 120_000}),
    )
    .await;
    send(
        &mut flow,
        &mut hub,
        json!({"payload": 2, "topic": "a", "timestamp": t}),
    )
    .await;
    assert_eq!(points(&flow).await, json!({"series": {"a": [[t, 2.0]]}}));
    flow.unload().await;
}

/// A payload with nothing to plot is an error and does not pass on.
#[tokio::test]
async fn unplottable_payload_is_an_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut flow = load(&dir, json!({})).await;
    flow.receive("chart", json!({"payload": "high", "topic": "a"}))
        .await;
    flow.expect_nothing("out", Duration::from_millis(50)).await;
    assert_eq!(item(&flow).await.state, json!({"series": {}}));
    flow.unload().await;
}

/// After a restart the chart's state is back-filled from the history store, so a page
/// opened then shows the past; a clear before the restart stays cleared.
#[tokio::test]
async fn state_after_restart_is_back_filled_from_history() {
    let dir = tempfile::tempdir().expect("tempdir");
    let t = now_ms();
    {
        let mut flow = load(&dir, json!({})).await;
        let mut hub = flow.runtime().ui().subscribe();
        send(
            &mut flow,
            &mut hub,
            json!({"payload": 1, "topic": "gone", "timestamp": t - 10}),
        )
        .await;
        send(&mut flow, &mut hub, json!({"payload": []})).await;
        send(
            &mut flow,
            &mut hub,
            json!({"payload": 4, "topic": "a", "timestamp": t}),
        )
        .await;
        send(
            &mut flow,
            &mut hub,
            json!({"payload": 5.5, "topic": "a", "timestamp": t + 1}),
        )
        .await;
        // Outside the default window of one hour: not loaded back.
        send(
            &mut flow,
            &mut hub,
            json!({"payload": 9, "topic": "old", "timestamp": t - 7_200_000}),
        )
        .await;
        flow.unload().await;
    }
    let flow = load(&dir, json!({})).await;
    assert_eq!(
        points(&flow).await,
        json!({"series": {"a": [[t, 4.0], [t + 1, 5.5]]}})
    );
    flow.unload().await;
}

/// No point beyond removeOlderPoints survives, however many arrive, in one message or many.
#[tokio::test]
async fn no_point_beyond_remove_older_points_survives() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut flow = load(
        &dir,
        json!({"removeOlderPoints": 100, "xAxisType": "linear"}),
    )
    .await;
    let mut hub = flow.runtime().ui().subscribe();
    let batch: Vec<Json> = (0..10_000).map(|k| json!([k, k])).collect();
    send(&mut flow, &mut hub, json!({"payload": batch, "topic": "a"})).await;
    for k in 10_000..10_050 {
        send(
            &mut flow,
            &mut hub,
            json!({"payload": [[k, k]], "topic": "a"}),
        )
        .await;
    }
    let expected: Vec<Json> = (9_950..10_050).map(|k| json!([k, k as f64])).collect();
    assert_eq!(points(&flow).await, json!({"series": {"a": expected}}));
    flow.unload().await;
}

/// A point older than removeOlder that arrives after newer ones is not kept either.
#[tokio::test]
async fn a_late_point_older_than_the_window_is_not_kept() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut flow = load(&dir, json!({"removeOlder": 1, "removeOlderUnit": "60"})).await;
    let mut hub = flow.runtime().ui().subscribe();
    let t = now_ms();
    for (y, ts) in [(2, t), (1, t - 120_000)] {
        send(
            &mut flow,
            &mut hub,
            json!({"payload": y, "topic": "a", "timestamp": ts}),
        )
        .await;
    }
    assert_eq!(points(&flow).await, json!({"series": {"a": [[t, 2.0]]}}));
    flow.unload().await;
}

/// With no page open the chart still keeps its window, and a page that opens sees it all.
#[tokio::test]
async fn a_page_opened_later_sees_points_sent_while_none_was_open() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut flow = load(&dir, json!({"xAxisType": "linear"})).await;
    item(&flow).await;
    for k in 0..3 {
        flow.receive("chart", json!({"payload": [[k, k]], "topic": "a"}))
            .await;
        flow.next("out").await;
    }
    assert_eq!(
        points(&flow).await,
        json!({"series": {"a": [[0, 0.0], [1, 1.0], [2, 2.0]]}})
    );
    flow.unload().await;
}

/// Linear and category charts are back-filled after a restart too, in the order their
/// points came, within removeOlderPoints.
#[tokio::test]
async fn linear_and_category_charts_are_back_filled_after_a_restart() {
    for (axis, xs) in [
        ("linear", [json!(3), json!(1.5), json!(2)]),
        ("category", [json!("mon"), json!("tue"), json!("wed")]),
    ] {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = json!({"xAxisType": axis, "removeOlderPoints": 2});
        {
            let mut flow = load(&dir, config.clone()).await;
            let mut hub = flow.runtime().ui().subscribe();
            for (k, x) in xs.iter().enumerate() {
                send(
                    &mut flow,
                    &mut hub,
                    json!({"payload": [{"x": x, "y": k}], "topic": "a"}),
                )
                .await;
            }
            flow.unload().await;
        }
        let flow = load(&dir, config).await;
        assert_eq!(
            points(&flow).await,
            json!({"series": {"a": [[xs[1], 1.0], [xs[2], 2.0]]}}),
            "{axis}"
        );
        flow.unload().await;
    }
}

/// A time axis sends each series as columns: its y values, and its x as the first epoch ms
/// then the differences, integral values without a fraction.
#[tokio::test]
async fn a_time_axis_sends_columns_with_delta_encoded_x() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut flow = load(&dir, json!({})).await;
    let mut hub = flow.runtime().ui().subscribe();
    let t = now_ms();
    let live = send(
        &mut flow,
        &mut hub,
        json!({"payload": [{"x": t, "y": 1.5}, {"x": t + 35, "y": 2}, {"x": t + 70, "y": -3.25}],
            "topic": "a"}),
    )
    .await;
    let columns = json!({"a": {"dx": [t, 35, 35], "y": [1.5, 2, -3.25]}});
    assert_eq!(live, json!({"action": "append", "series": columns}));
    assert_eq!(item(&flow).await.state, json!({ "series": columns }));
    flow.unload().await;
}

/// A category axis keeps its x labels as given (text or numbers), never as differences.
#[tokio::test]
async fn a_category_axis_keeps_its_labels() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut flow = load(&dir, json!({"xAxisType": "category"})).await;
    let mut hub = flow.runtime().ui().subscribe();
    let live = send(
        &mut flow,
        &mut hub,
        json!({"payload": [{"x": "mon", "y": 1}, {"x": 7, "y": 2}, {"x": 3, "y": 3}], "topic": "a"}),
    )
    .await;
    let columns = json!({"a": {"x": ["mon", 7, 3], "y": [1, 2, 3]}});
    assert_eq!(live["series"], columns);
    assert_eq!(item(&flow).await.state, json!({ "series": columns }));
    flow.unload().await;
}

/// Fractional x, whose differences would not add back exactly, are sent as given.
#[tokio::test]
async fn fractional_x_are_sent_as_given() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut flow = load(&dir, json!({"xAxisType": "linear"})).await;
    let mut hub = flow.runtime().ui().subscribe();
    send(
        &mut flow,
        &mut hub,
        json!({"payload": [[0.1, 1], [0.2, 2], [0.3, 3]], "topic": "a"}),
    )
    .await;
    assert_eq!(
        item(&flow).await.state,
        json!({"series": {"a": {"x": [0.1, 0.2, 0.3], "y": [1, 2, 3]}}})
    );
    flow.unload().await;
}

/// Points in come back unchanged from the state and from the live msg, decoded as the page
/// decodes them: epoch ms, out-of-order and repeated x, the edges of a JavaScript number's
/// exact integers, and y of every size.
#[tokio::test]
async fn points_round_trip_through_the_columns_as_the_page_decodes_them() {
    const MAX_SAFE: i64 = (1 << 53) - 1;
    let ys = [
        1.5,
        -2.0,
        0.1 + 0.2,
        1e-300,
        -1e300,
        0.0,
        20.123_456_789_012_34,
    ];
    let epoch = 1_763_877_600_000;
    let cases: [(&str, Vec<i64>); 2] = [
        (
            "dx",
            vec![
                epoch,
                epoch + 35,
                epoch - 1_000,
                epoch - 1_000,
                -epoch,
                0,
                MAX_SAFE,
            ],
        ),
        // A difference beyond the exact range: x go as given.
        ("x", vec![MAX_SAFE, -MAX_SAFE, 5, 6, 7, 8, 9]),
    ];
    for (encoding, xs) in cases {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut flow = load(&dir, json!({"xAxisType": "linear"})).await;
        let mut hub = flow.runtime().ui().subscribe();
        let payload: Vec<Json> = xs.iter().zip(ys).map(|(x, y)| json!([x, y])).collect();
        let live = send(
            &mut flow,
            &mut hub,
            json!({"payload": payload, "topic": "a"}),
        )
        .await;
        let state = item(&flow).await.state;
        assert!(state["series"]["a"].get(encoding).is_some(), "{state}");
        let expected: Vec<Json> = xs.iter().zip(ys).map(|(x, y)| json!([x, y])).collect();
        let expected = json!({"series": {"a": expected}});
        assert_eq!(decoded(&state["series"]), expected, "{encoding}: state");
        assert_eq!(decoded(&live["series"]), expected, "{encoding}: live msg");
        flow.unload().await;
    }
}
