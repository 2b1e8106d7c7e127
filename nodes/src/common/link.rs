//! `link in`, `link out`, `link call` — mirror Node-RED `@node-red/nodes/core/common/60-link.js`.
//!
//! * link in — config `links` (ids of link outs, informational), `name`. Passes messages on.
//! * link out — config `links` (ids of link ins), `mode` `"link"` (default) or `"return"`.
//!   Link mode: the runtime wires it to the linked link ins; sets `msg._event`
//!   (`"node:<id>"`). Return mode: pops the last entry of `msg._linkSource` and hands the
//!   message back to that link call (warns "missingReturn" when there is none).
//! * link call — config `links` (one link-in id, or a string), `linkType` `"static"` or
//!   `"dynamic"` (`msg.target` = link-in id or name), `timeout` seconds ("30").
//!   Pushes `{id, node}` onto `msg._linkSource`, delivers to the link in, and sends what
//!   comes back on its output (`_linkSource` removed when empty). Timeout:
//!   `error("timeout")` with the original message (catchable).

use std::collections::HashMap;
use std::time::Duration;

use ferrite_runtime::route::{NodeHandle, NodeIdent};
use ferrite_runtime::{
    Build, BuildCtx, ConfigError, Event, Msg, Node, NodeCtx, NodeDef, NodeError, Role, TimerId,
    Value, async_trait,
};
use serde::Deserialize;

use super::PassOn;

pub const LINK_IN: NodeDef = NodeDef {
    type_name: "link in",
    category: "common",
    set_id: "node-red/link",
    role: Role::LinkIn,
    build: Build::Flow(build_in),
};

pub const LINK_OUT: NodeDef = NodeDef {
    type_name: "link out",
    category: "common",
    set_id: "node-red/link",
    role: Role::LinkOut,
    build: Build::Flow(build_out),
};

pub const LINK_CALL: NodeDef = NodeDef {
    type_name: "link call",
    category: "common",
    set_id: "node-red/link",
    role: Role::Plain,
    build: Build::Flow(build_call),
};

/// A message handed back to a link call by a link out in return mode.
#[derive(Debug)]
pub struct LinkReturn {
    pub event_id: String,
    pub msg: Msg,
}

fn build_in(_cx: &mut BuildCtx<'_>) -> Result<Box<dyn Node>, ConfigError> {
    Ok(Box::new(PassOn))
}

#[derive(Deserialize)]
struct LinkOutConfig {
    #[serde(default)]
    mode: String,
}

struct LinkOut {
    return_mode: bool,
    event: String,
}

fn build_out(cx: &mut BuildCtx<'_>) -> Result<Box<dyn Node>, ConfigError> {
    let config: LinkOutConfig = cx.config()?;
    Ok(Box::new(LinkOut {
        return_mode: config.mode == "return",
        event: format!("node:{}", cx.id()),
    }))
}

#[async_trait]
impl Node for LinkOut {
    async fn on_input(&mut self, mut msg: Msg, cx: &mut NodeCtx) -> Result<(), NodeError> {
        msg.insert("_event", self.event.as_str());
        if !self.return_mode {
            cx.send(msg).await;
            return Ok(());
        }
        let source = match msg.map_mut().get_mut("_linkSource") {
            Some(Value::Array(stack)) => stack.pop(),
            _ => None,
        };
        let target = source.as_ref().and_then(|entry| {
            let node = entry.as_object()?.get("node")?.as_str()?.to_owned();
            let id = entry.as_object()?.get("id")?.as_str()?.to_owned();
            Some((node, id))
        });
        match target {
            Some((node, event_id)) => {
                let back = Event::Custom(Box::new(LinkReturn { event_id, msg }));
                if !cx.post_event(&node, back) {
                    cx.warn("missingReturn: the link call node that sent this message has gone");
                }
            }
            None => cx.warn("missingReturn: no link call node to return the message to"),
        }
        Ok(())
    }
}

#[derive(Deserialize)]
struct LinkCallConfig {
    #[serde(default)]
    links: serde_json::Value,
    #[serde(default, rename = "linkType")]
    link_type: String,
    #[serde(default, deserialize_with = "ferrite_runtime::loose::opt_f64")]
    timeout: Option<f64>,
}

struct LinkCall {
    static_target: Option<String>,
    dynamic: bool,
    timeout: Duration,
    /// Calls waiting for their return: event id → (timer, copy of the message sent).
    pending: HashMap<String, (TimerId, Msg)>,
    by_timer: HashMap<TimerId, String>,
}

fn build_call(cx: &mut BuildCtx<'_>) -> Result<Box<dyn Node>, ConfigError> {
    let config: LinkCallConfig = cx.config()?;
    let static_target = match &config.links {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Array(items) => {
            items.first().and_then(|v| v.as_str()).map(str::to_owned)
        }
        _ => None,
    };
    let dynamic = config.link_type == "dynamic";
    if !dynamic && static_target.is_none() {
        return Err(ConfigError::field("links", "no link in node selected"));
    }
    let seconds = config.timeout.filter(|t| *t > 0.0).unwrap_or(30.0);
    Ok(Box::new(LinkCall {
        static_target,
        dynamic,
        timeout: Duration::from_secs_f64(seconds),
        pending: HashMap::new(),
        by_timer: HashMap::new(),
    }))
}

impl LinkCall {
    /// Finds the link in by id, or (dynamic) by name: the caller's flow first, else a
    /// unique match anywhere.
    fn target<'d>(&self, msg: &Msg, cx: &'d NodeCtx) -> Result<&'d NodeHandle, String> {
        let wanted = if self.dynamic {
            match msg.get("target") {
                Some(Value::String(s)) if !s.is_empty() => s.clone(),
                _ => return Err("msg.target is not a link in node id or name".to_owned()),
            }
        } else {
            self.static_target.clone().unwrap_or_default()
        };
        let is_link_in = |h: &&NodeHandle| h.role == Role::LinkIn;
        if let Some(handle) = cx.node(&wanted).filter(is_link_in) {
            return Ok(handle);
        }
        if self.dynamic {
            let named: Vec<&NodeHandle> = cx
                .directory()
                .values()
                .filter(is_link_in)
                .filter(|h| *h.ident.name == *wanted)
                .collect();
            // The caller's flow first; then anywhere. More than one match is ambiguous.
            let local: Vec<&NodeHandle> = named
                .iter()
                .copied()
                .filter(|h| same_flow(&h.ident, cx.ident()))
                .collect();
            let candidates = if local.is_empty() { named } else { local };
            match candidates.as_slice() {
                [one] => return Ok(one),
                [] => {}
                _ => return Err(format!("Multiple link-in nodes named '{wanted}'")),
            }
        }
        Err(format!("target link-in node '{wanted}' not found"))
    }
}

fn same_flow(a: &NodeIdent, b: &NodeIdent) -> bool {
    a.flow == b.flow
}

#[async_trait]
impl Node for LinkCall {
    async fn on_input(&mut self, mut msg: Msg, cx: &mut NodeCtx) -> Result<(), NodeError> {
        let target_id = match self.target(&msg, cx) {
            Ok(handle) => handle.ident.id.to_string(),
            Err(e) => return Err(NodeError::new(e).for_msg(msg)),
        };
        let event_id = format!(
            "{:016x}{:012x}",
            fastrand_u64(),
            fastrand_u64() & 0xffff_ffff_ffff
        );
        let mut entry = ferrite_runtime::Map::new();
        entry.insert("id".to_owned(), Value::String(event_id.clone()));
        entry.insert("node".to_owned(), Value::String(cx.id().to_owned()));
        let original = msg.clone();
        let map = msg.map_mut();
        match map.get_mut("_linkSource") {
            Some(Value::Array(stack)) => stack.push(Value::Object(entry)),
            _ => {
                map.insert(
                    "_linkSource".to_owned(),
                    Value::Array(vec![Value::Object(entry)]),
                );
            }
        }
        let timer = cx.after(self.timeout);
        self.by_timer.insert(timer, event_id.clone());
        self.pending.insert(event_id, (timer, original));
        cx.deliver_to(&target_id, msg).await;
        Ok(())
    }

    async fn on_event(&mut self, event: Event, cx: &mut NodeCtx) -> Result<(), NodeError> {
        match event {
            Event::Custom(any) => {
                let Ok(back) = any.downcast::<LinkReturn>() else {
                    return Ok(());
                };
                let LinkReturn { event_id, mut msg } = *back;
                if matches!(msg.get("_linkSource"), Some(Value::Array(stack)) if stack.is_empty()) {
                    msg.remove("_linkSource");
                }
                if let Some((timer, _)) = self.pending.remove(&event_id) {
                    cx.cancel_timer(timer);
                    self.by_timer.remove(&timer);
                }
                cx.send(msg).await;
                Ok(())
            }
            Event::Timer(timer) => {
                cx.timer_fired(timer);
                let Some(event_id) = self.by_timer.remove(&timer) else {
                    return Ok(());
                };
                match self.pending.remove(&event_id) {
                    Some((_, original)) => Err(NodeError::new("timeout").for_msg(original)),
                    None => Ok(()),
                }
            }
            Event::Message(_) | Event::Toggle(_) => Ok(()),
        }
    }
}

fn fastrand_u64() -> u64 {
    // Message ids come from the runtime's generator; reuse it for call ids.
    u64::from_str_radix(&ferrite_runtime::msg::new_msgid(), 16).unwrap_or_default()
}
