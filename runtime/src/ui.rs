//! The dashboard hub: where dashboard nodes (`ui-*`) put what the `/dashboard` page shows,
//! and where the page's inputs (buttons, switches, sliders) come back in.
//!
//! The runtime knows no widget: an item is an id, a kind (the node type, as data), its
//! place in the layout (`parent`, `order`), the config the page needs and the state a page
//! that connects later must see (a gauge's last value, a chart's points). Pages listen to
//! [`UiHub::subscribe`]; a node sends with [`UiHub::send`]; a page's input reaches the
//! node as `Event::Message` through the [`EventSender`] it registered.
//!
//! A widget whose state is large and changes per message (a chart's window) registers
//! with [`UiHub::register_live`]: the hub asks it for its state only when a page needs a
//! snapshot, so a message costs the widget an append, not a copy of its whole state.

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

/// Reads a live item's current state; called for each snapshot, never per message.
pub type StateFn = Arc<dyn Fn() -> Json + Send + Sync>;

/// An item as the hub keeps it: a live item's `state` is read from `live` on snapshot.
struct Entry {
    item: UiItem,
    live: Option<StateFn>,
}

impl std::fmt::Debug for Entry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Entry")
            .field("item", &self.item)
            .field("live", &self.live.is_some())
            .finish()
    }
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
    items: Mutex<IndexMap<String, Entry>>,
    tx: broadcast::Sender<Arc<UiEvent>>,
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
        }
    }

    /// Adds or replaces an item (a node starting); pages are told to reload the layout.
    pub fn register(&self, item: UiItem) {
        self.insert(item, None);
    }

    /// Adds or replaces an item whose state `state` reads when a page needs a snapshot;
    /// its [`send`](Self::send)s then carry no state.
    pub fn register_live(&self, item: UiItem, state: StateFn) {
        self.insert(item, Some(state));
    }

    fn insert(&self, item: UiItem, live: Option<StateFn>) {
        self.lock().insert(item.id.clone(), Entry { item, live });
        let _ = self.tx.send(Arc::new(UiEvent::Layout));
    }

    /// Merges `patch` into item `id`'s config (a widget's dynamic properties: a new
    /// label, range, `enabled` or `visible`); pages reload the layout only when something
    /// changed, so a flow that repeats the same update costs nothing. Whether it changed.
    pub fn update_config(&self, id: &str, patch: &serde_json::Map<String, Json>) -> bool {
        let changed = {
            let mut items = self.lock();
            let Some(Json::Object(config)) = items.get_mut(id).map(|e| &mut e.item.config) else {
                return false;
            };
            let mut changed = false;
            for (key, value) in patch {
                if config.get(key) != Some(value) {
                    config.insert(key.clone(), value.clone());
                    changed = true;
                }
            }
            changed
        };
        if changed {
            let _ = self.tx.send(Arc::new(UiEvent::Layout));
        }
        changed
    }

    /// Removes an item (a node closing).
    pub fn unregister(&self, id: &str) {
        if self.lock().shift_remove(id).is_some() {
            let _ = self.tx.send(Arc::new(UiEvent::Layout));
        }
    }

    /// Sends `msg` to the pages showing item `id`; with `state`, also what later pages
    /// get for it. Without `state` it takes no lock: the hot path of a live item.
    pub fn send(&self, id: &str, msg: Json, state: Option<Json>) {
        if let Some(state) = state
            && let Some(entry) = self.lock().get_mut(id)
        {
            entry.item.state = state;
        }
        if self.tx.receiver_count() == 0 {
            // No page is open: a page that opens later takes a snapshot instead.
            return;
        }
        let _ = self.tx.send(Arc::new(UiEvent::Msg {
            id: id.to_owned(),
            msg,
        }));
    }

    /// Whether any page listens: a widget may skip building live msgs nobody reads.
    pub fn has_pages(&self) -> bool {
        self.tx.receiver_count() > 0
    }

    /// Every item, in registration order, live items with their current state.
    pub fn snapshot(&self) -> Vec<UiItem> {
        // Live states are read after the hub's lock is released: a widget may hold its
        // own lock while it sends, and the two locks must never wait on each other.
        let taken: Vec<(UiItem, Option<StateFn>)> = self
            .lock()
            .values()
            .map(|e| (e.item.clone(), e.live.clone()))
            .collect();
        taken
            .into_iter()
            .map(|(mut item, live)| {
                if let Some(live) = live {
                    item.state = live();
                }
                item
            })
            .collect()
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Arc<UiEvent>> {
        self.tx.subscribe()
    }

    /// Hands a page's input to the node behind item `id` as `Event::Message`.
    pub fn input(&self, id: &str, msg: Msg) -> Result<(), UiError> {
        let sender = {
            let items = self.lock();
            let entry = items
                .get(id)
                .ok_or_else(|| UiError::UnknownItem(id.to_owned()))?;
            entry
                .item
                .input
                .clone()
                .ok_or_else(|| UiError::NoInput(id.to_owned()))?
        };
        if sender.send(Event::Message(msg)) {
            Ok(())
        } else {
            Err(UiError::Stopped(id.to_owned()))
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, IndexMap<String, Entry>> {
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

    /// A live item's state is read from its widget when a snapshot is taken, not kept per send.
    #[test]
    fn a_live_items_state_is_read_on_snapshot() {
        let hub = UiHub::new();
        let points = Arc::new(Mutex::new(vec![1]));
        let read = Arc::clone(&points);
        hub.register_live(
            item("c1"),
            Arc::new(move || serde_json::json!(*read.lock().expect("points"))),
        );
        assert_eq!(hub.snapshot()[0].state, serde_json::json!([1]));
        points.lock().expect("points").push(2);
        hub.send("c1", serde_json::json!({"x": 2}), None);
        assert_eq!(hub.snapshot()[0].state, serde_json::json!([1, 2]));
    }

    /// A config update merges its keys and tells pages to reload only when something changed.
    #[test]
    fn a_config_update_merges_and_reloads_pages_only_on_change() {
        let hub = UiHub::new();
        hub.register(item("g1"));
        let mut pages = hub.subscribe();
        let patch = serde_json::json!({"enabled": false});
        let patch = patch.as_object().expect("object");
        assert!(hub.update_config("g1", patch));
        assert_eq!(*pages.try_recv().expect("layout"), UiEvent::Layout);
        assert_eq!(
            hub.snapshot()[0].config,
            serde_json::json!({"min": 0, "enabled": false})
        );
        assert!(!hub.update_config("g1", patch));
        assert!(pages.try_recv().is_err());
        assert!(!hub.update_config("nope", patch));
    }
}
