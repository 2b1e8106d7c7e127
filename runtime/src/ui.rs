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
        self.lock().insert(item.id.clone(), item);
        let _ = self.tx.send(Arc::new(UiEvent::Layout));
    }

    /// Removes an item (a node closing).
    pub fn unregister(&self, id: &str) {
        if self.lock().shift_remove(id).is_some() {
            let _ = self.tx.send(Arc::new(UiEvent::Layout));
        }
    }

    /// Sends `msg` to the pages showing item `id`; with `state`, also what later pages
    /// get for it.
    pub fn send(&self, id: &str, msg: Json, state: Option<Json>) {
        if let Some(state) = state
            && let Some(item) = self.lock().get_mut(id)
        {
            item.state = state;
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
