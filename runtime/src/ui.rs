//! The dashboard hub: where dashboard nodes (`ui-*`) put what the `/dashboard` page shows,
//! and where the page's inputs (buttons, switches, sliders) come back in.
//!
//! The runtime knows no widget: an item is an id, a kind (the node type, as data), its
//! place in the layout (`parent`, `order`), the config the page needs and the state a page
//! that connects later must see (a gauge's last value, a chart's points). Pages listen to
//! [`UiHub::subscribe`]; a node sends with [`UiHub::send`]; a page's input reaches the
//! node as `Event::Message` through the [`EventSender`] it registered.

use std::sync::{Arc, Mutex};

use indexmap::IndexMap;
use serde::Serialize;
use serde_json::Value as Json;
use tokio::sync::broadcast;

use crate::ctx::EventSender;
use crate::msg::Msg;
use crate::node::Event;

/// Events kept for a slow page before it loses the oldest.
const HUB_CAPACITY: usize = 4096;

/// One thing on the dashboard: a `ui-base`, page, group, theme or widget.
#[derive(Debug, Clone, Serialize)]
pub struct UiItem {
    /// The node id.
    pub id: String,
    /// The node type (`ui-chart`, `ui-group`, ...).
    pub kind: String,
    /// Where it sits: a widget's group, a group's page, a page's base.
    pub parent: Option<String>,
    /// Position among its siblings.
    pub order: f64,
    /// What the page needs to draw it (labels, ranges, colours, ...).
    pub config: Json,
    /// What a page that connects now must show (`null` when nothing yet).
    pub state: Json,
    /// Where the page's input for this item goes; `None` for output-only items.
    #[serde(skip)]
    pub input: Option<EventSender>,
}

/// What pages hear.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum UiEvent {
    /// Items were added or removed (a deploy): fetch the whole layout again.
    Layout,
    /// A message for one item (a new gauge value, chart points, a notification).
    Msg { id: String, msg: Json },
}

/// A page's input could not be delivered.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum UiError {
    #[error("no dashboard item '{0}'")]
    UnknownItem(String),
    #[error("dashboard item '{0}' takes no input")]
    NoInput(String),
    #[error("dashboard item '{0}' has stopped")]
    Stopped(String),
}

/// The hub; one per runtime.
#[derive(Debug)]
pub struct UiHub {
    items: Mutex<IndexMap<String, UiItem>>,
    tx: broadcast::Sender<Arc<UiEvent>>,
    /// The items as JSON until one changes: every page that connects gets them, and a
    /// chart's state can hold 100,000 points (megabytes to serialise). Locked after
    /// `items`, always.
    layout_json: Mutex<Option<Arc<str>>>,
}

impl Default for UiHub {
    fn default() -> Self {
        Self::new()
    }
}

impl UiHub {
    pub fn new() -> Self {
        let (tx, _) = broadcast::channel(HUB_CAPACITY);
        Self {
            items: Mutex::default(),
            tx,
            layout_json: Mutex::default(),
        }
    }

    /// Adds or replaces an item (a node starting); pages are told to reload the layout.
    pub fn register(&self, item: UiItem) {
        {
            let mut items = self.lock();
            items.insert(item.id.clone(), item);
            self.forget_layout_json();
        }
        let _ = self.tx.send(Arc::new(UiEvent::Layout));
    }

    /// Removes an item (a node closing).
    pub fn unregister(&self, id: &str) {
        let removed = {
            let mut items = self.lock();
            let removed = items.shift_remove(id).is_some();
            self.forget_layout_json();
            removed
        };
        if removed {
            let _ = self.tx.send(Arc::new(UiEvent::Layout));
        }
    }

    /// Sends `msg` to the pages showing item `id`; with `state`, also what later pages
    /// get for it.
    pub fn send(&self, id: &str, msg: Json, state: Option<Json>) {
        if let Some(state) = state {
            let mut items = self.lock();
            if let Some(item) = items.get_mut(id) {
                item.state = state;
                self.forget_layout_json();
            }
        }
        let _ = self.tx.send(Arc::new(UiEvent::Msg {
            id: id.to_owned(),
            msg,
        }));
    }

    /// Every item, in registration order.
    pub fn snapshot(&self) -> Vec<UiItem> {
        self.lock().values().cloned().collect()
    }

    /// Every item, in registration order, as a JSON array: what [`Self::snapshot`] gives,
    /// serialised once for all the pages that ask until an item changes.
    pub fn layout_json(&self) -> Arc<str> {
        let items = self.lock();
        let mut cached = self.cached_layout_json();
        if let Some(json) = &*cached {
            return json.clone();
        }
        // Plain data with string keys: serialising it cannot fail.
        let json: Arc<str> = serde_json::to_string(&items.values().collect::<Vec<_>>())
            .unwrap_or_else(|_| "[]".to_owned())
            .into();
        *cached = Some(json.clone());
        json
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Arc<UiEvent>> {
        self.tx.subscribe()
    }

    /// Hands a page's input to the node behind item `id` as `Event::Message`.
    pub fn input(&self, id: &str, msg: Msg) -> Result<(), UiError> {
        let sender = {
            let items = self.lock();
            let item = items
                .get(id)
                .ok_or_else(|| UiError::UnknownItem(id.to_owned()))?;
            item.input
                .clone()
                .ok_or_else(|| UiError::NoInput(id.to_owned()))?
        };
        if sender.send(Event::Message(msg)) {
            Ok(())
        } else {
            Err(UiError::Stopped(id.to_owned()))
        }
    }

    /// Called with `items` locked, so no page can cache what was there before.
    fn forget_layout_json(&self) {
        *self.cached_layout_json() = None;
    }

    fn cached_layout_json(&self) -> std::sync::MutexGuard<'_, Option<Arc<str>>> {
        self.layout_json
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, IndexMap<String, UiItem>> {
        self.items
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(id: &str) -> UiItem {
        UiItem {
            id: id.to_owned(),
            kind: "ui-gauge".to_owned(),
            parent: Some("group".to_owned()),
            order: 1.0,
            config: serde_json::json!({"min": 0}),
            state: Json::Null,
            input: None,
        }
    }

    #[test]
    fn registering_tells_pages_to_reload_and_state_is_kept_for_later_pages() {
        let hub = UiHub::new();
        let mut pages = hub.subscribe();
        hub.register(item("g1"));
        assert_eq!(*pages.try_recv().expect("layout"), UiEvent::Layout);
        hub.send(
            "g1",
            serde_json::json!({"payload": 7}),
            Some(serde_json::json!(7)),
        );
        assert_eq!(
            *pages.try_recv().expect("msg"),
            UiEvent::Msg {
                id: "g1".into(),
                msg: serde_json::json!({"payload": 7})
            }
        );
        assert_eq!(hub.snapshot()[0].state, serde_json::json!(7));
        hub.unregister("g1");
        assert_eq!(*pages.try_recv().expect("layout"), UiEvent::Layout);
        assert!(hub.snapshot().is_empty());
    }

    /// The layout JSON is serialised once for every page until an item changes, and then
    /// holds the change.
    #[test]
    fn layout_json_is_kept_until_an_item_changes() {
        let hub = UiHub::new();
        hub.register(item("g1"));
        let first = hub.layout_json();
        assert!(Arc::ptr_eq(&first, &hub.layout_json()), "serialised again");
        let items: Json = serde_json::from_str(&first).expect("json");
        assert_eq!(items[0]["id"], "g1");
        hub.send(
            "g1",
            serde_json::json!({}),
            Some(serde_json::json!({"value": 7})),
        );
        let after_state: Json = serde_json::from_str(&hub.layout_json()).expect("json");
        assert_eq!(after_state[0]["state"], serde_json::json!({"value": 7}));
        // A message without state leaves it as it was.
        let kept = hub.layout_json();
        hub.send("g1", serde_json::json!({}), None);
        assert!(Arc::ptr_eq(&kept, &hub.layout_json()));
        hub.register(item("g2"));
        let registered: Json = serde_json::from_str(&hub.layout_json()).expect("json");
        assert_eq!(registered.as_array().map(Vec::len), Some(2));
        hub.unregister("g1");
        let unregistered: Json = serde_json::from_str(&hub.layout_json()).expect("json");
        assert_eq!(unregistered[0]["id"], "g2");
    }

    #[test]
    fn input_for_an_unknown_or_output_only_item_is_refused() {
        let hub = UiHub::new();
        hub.register(item("g1"));
        assert_eq!(
            hub.input("nope", Msg::default()),
            Err(UiError::UnknownItem("nope".into()))
        );
        assert_eq!(
            hub.input("g1", Msg::default()),
            Err(UiError::NoInput("g1".into()))
        );
    }
}
