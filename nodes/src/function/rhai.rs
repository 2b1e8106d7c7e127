//! `rhai` — Node-RED's `function` node (`core/function/10-function.js`) with the code
//! written in Rhai instead of JavaScript. Palette label "rhai function".
//!
//! Config (the function node's keys where they apply):
//! * `func` — the script run for each message; `initialize` — run once when the node
//!   starts; `finalize` — run when it stops (it may not send).
//! * `outputs` — the number of outputs (the editor's; the wires decide where messages go).
//! * `timeout` — seconds one run may take (0: the `functionTimeout` setting, else none). `maxOperations` — Rhai operations one
//!   run may perform (0 or missing: [`DEFAULT_MAX_OPERATIONS`]). Both bound every run, so an
//!   endless loop is a node error, never a frozen runtime.
//! * `name`.
//!
//! Reads the whole message (the script's `msg`). Sends what the script returns or passes to
//! `node.send`, with Node-RED's rules: a message goes to output 1; an array holds one entry
//! per output, each a message, `()` (skip) or an array of messages; `()` sends nothing. Sent
//! messages carry the input's `_msgid`. A failed run is an error with the message, for Catch
//! nodes, and the node carries on with the next one.
//!
//! Scripts are compiled at deploy (a syntax error is a deploy issue with line and column)
//! and run on the engine every node shares (see `rhai/bridge.rs`); the PLC helpers are in
//! `rhai/plc.rs`. The user-facing reference is `editor-static/nodes/rhai.html`.

mod bridge;
mod plc;

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use ferrite_runtime::context::ContextScope;
use ferrite_runtime::loose::json_f64;
use ferrite_runtime::{
    Build, BuildCtx, ConfigError, Msg, Node, NodeCtx, NodeDef, NodeError, Role, Status, Value,
    async_trait,
};
use rhai::{AST, Dynamic, Scope};
use serde_json::Value as Json;
use tokio::runtime::{Handle, RuntimeFlavor};

use bridge::{Budget, ContextApi, Effect, EnvApi, Level, NodeApi, ScriptError};

pub const DEF: NodeDef = NodeDef {
    type_name: "rhai",
    category: "function",
    set_id: "ferrite/rhai",
    role: Role::Plain,
    build: Build::Flow(build),
};

/// Operations a run may perform unless configured: tens of milliseconds of work, which a
/// worker thread may spend without starving other nodes.
pub const DEFAULT_MAX_OPERATIONS: u64 = 1_000_000;

/// What every run of the node's scripts shares.
struct Runner {
    budget: Budget,
    /// Runs may take long enough to hand the worker's other tasks to another thread first.
    blocking: bool,
    /// `node`, `context`, `flow`, `global`, `env`; `msg` is pushed after them for each run.
    scope: Scope<'static>,
    /// The node is being stopped: a running script ends at once.
    stopping: Arc<AtomicBool>,
}

struct RhaiNode {
    body: Option<AST>,
    initialize: Option<AST>,
    finalize: Option<AST>,
    runner: Runner,
    /// The body calls `node.done()`: completion waits for that call, as in Node-RED.
    calls_done: bool,
    /// Why `initialize` failed: every message is then an error (Node-RED drops them).
    init_error: Option<String>,
    /// The script set a status: cleared when the node closes, as in Node-RED.
    status_used: bool,
}

fn script(cx: &BuildCtx<'_>, key: &str) -> Result<Option<AST>, ConfigError> {
    let source = cx.raw().get(key).and_then(Json::as_str).unwrap_or_default();
    bridge::compile(source).map_err(|e| ConfigError::field(key, e))
}

fn build(cx: &mut BuildCtx<'_>) -> Result<Box<dyn Node>, ConfigError> {
    let body = script(cx, "func")?;
    let initialize = script(cx, "initialize")?;
    let finalize = script(cx, "finalize")?;
    let number = |key: &str| cx.raw().get(key).and_then(json_f64).unwrap_or(0.0);
    let timeout = match number("timeout") {
        0.0 => cx.settings().function_timeout,
        t => t,
    };
    let timeout = match Duration::try_from_secs_f64(timeout) {
        Ok(t) if t.is_zero() => None,
        Ok(t) => Some(t),
        Err(_) => {
            return Err(ConfigError::field(
                "timeout",
                "must be a number of seconds, 0 for none",
            ));
        }
    };
    let max_operations = number("maxOperations");
    if !max_operations.is_finite() || max_operations < 0.0 {
        return Err(ConfigError::field(
            "maxOperations",
            "must be a positive number, 0 for the default",
        ));
    }
    // Saturating: anything above u64::MAX is as good as unlimited.
    let max_operations = match max_operations as u64 {
        0 => DEFAULT_MAX_OPERATIONS,
        n => n,
    };
    let source = cx.raw().get("func").and_then(Json::as_str).unwrap_or("");
    Ok(Box::new(RhaiNode {
        body,
        initialize,
        finalize,
        runner: Runner {
            budget: Budget {
                max_operations,
                timeout,
            },
            blocking: max_operations > DEFAULT_MAX_OPERATIONS,
            scope: Scope::new(),
            stopping: Arc::default(),
        },
        calls_done: mentions_done(source),
        init_error: None,
        status_used: false,
    }))
}

/// Node-RED's test for a body that completes messages itself: a `node.done()` call.
fn mentions_done(source: &str) -> bool {
    source.match_indices("node.done").any(|(at, found)| {
        let rest = source[at + found.len()..].trim_start();
        rest.strip_prefix('(')
            .is_some_and(|r| r.trim_start().starts_with(')'))
    })
}

/// Which script is running: they differ in what `node.send` does.
#[derive(Clone, Copy)]
enum Phase<'m> {
    Initialize,
    Input(&'m Msg),
    Finalize,
}

impl Runner {
    /// Runs one script with the node's objects and, for a message, `msg` in scope. A
    /// `finalize` run ignores the stop request it is part of.
    fn run(
        &mut self,
        ast: &AST,
        msg: Option<&Msg>,
        honour_stop: bool,
    ) -> (Result<Dynamic, ScriptError>, Vec<Effect>) {
        // The previous run's `msg` stays in scope, to be updated to the next message.
        match msg {
            Some(msg) => {
                self.scope.rewind(self.scope.len().min(BASE_SCOPE_LEN + 1));
                let kept = (self.scope.len() > BASE_SCOPE_LEN)
                    .then(|| self.scope.get_mut("msg"))
                    .flatten();
                match kept {
                    Some(slot) => bridge::assign_dynamic(slot, msg.as_value()),
                    None => {
                        self.scope.rewind(BASE_SCOPE_LEN);
                        self.scope.push("msg", bridge::to_dynamic(msg.as_value()));
                    }
                }
            }
            None => {
                self.scope.rewind(self.scope.len().min(BASE_SCOPE_LEN));
            }
        }
        let stopping = honour_stop.then_some(&self.stopping);
        let (scope, budget) = (&mut self.scope, &self.budget);
        let mut run = || bridge::run(ast, scope, budget, stopping);
        // block_in_place exists only on a multi-thread runtime.
        let multi_thread = || {
            Handle::try_current().is_ok_and(|h| h.runtime_flavor() == RuntimeFlavor::MultiThread)
        };
        if self.blocking && multi_thread() {
            tokio::task::block_in_place(run)
        } else {
            run()
        }
    }
}

impl RhaiNode {
    /// Carries out what a script asked of the node, in order.
    async fn apply(&mut self, effects: Vec<Effect>, phase: Phase<'_>, cx: &mut NodeCtx) {
        for effect in effects {
            match effect {
                Effect::Send(value) => match phase {
                    Phase::Finalize => {
                        cx.report_error(NodeError::new("Cannot send from close function"))
                            .await;
                    }
                    _ => send_results(value, phase, cx).await,
                },
                Effect::Done => {
                    if let Phase::Input(msg) = phase {
                        cx.done(msg).await;
                    }
                }
                Effect::Log(Level::Info, text) => cx.log(&text),
                Effect::Log(Level::Debug, text) => cx.debug(&text),
                Effect::Log(Level::Trace, text) => cx.trace(&text),
                Effect::Warn(text) => cx.warn(&text),
                Effect::Error(text, msg) => {
                    let mut error = NodeError::new(text);
                    if let Some(Value::Object(map)) =
                        msg.map(|m| bridge::to_value_like(m, like(phase)))
                    {
                        error = error.for_msg(Msg::from_map(map));
                    }
                    cx.report_error(error).await;
                }
                Effect::Status(status) => {
                    self.status_used = true;
                    cx.status(status).await;
                }
            }
        }
    }
}

/// `node`, `context`, `flow`, `global`, `env`.
const BASE_SCOPE_LEN: usize = 5;

/// The value a script's messages take their key order from.
fn like<'m>(phase: Phase<'m>) -> Option<&'m Value> {
    match phase {
        Phase::Input(msg) => Some(msg.as_value()),
        _ => None,
    }
}

/// Node-RED's `sendResults`: `value` is a message, an array with one entry per output (a
/// message, an array of messages, or `()`), or `()`. Anything else is reported, not sent.
async fn send_results(value: Dynamic, phase: Phase<'_>, cx: &mut NodeCtx) {
    if value.is_unit() {
        return;
    }
    // Messages returned for an input keep its id; those sent by `initialize` share a new one.
    let msgid = match phase {
        Phase::Input(msg) => msg.msgid().map(str::to_owned),
        _ => None,
    }
    .unwrap_or_else(ferrite_runtime::msg::new_msgid);
    let outputs: Vec<Dynamic> = if value.is_array() {
        value.cast::<rhai::Array>()
    } else {
        vec![value]
    };
    for (port, entry) in outputs.into_iter().enumerate() {
        let messages = if entry.is_array() {
            entry.cast::<rhai::Array>()
        } else {
            vec![entry]
        };
        for message in messages {
            if message.is_unit() {
                continue;
            }
            if !message.is_map() {
                let kind = bridge::js_type_of(&message);
                cx.report_error(NodeError::new(format!(
                    "Function tried to send a message of type {kind}"
                )))
                .await;
                continue;
            }
            let Value::Object(mut map) = bridge::to_value_like(message, like(phase)) else {
                continue;
            };
            map.insert(
                ferrite_runtime::msg::MSGID.to_owned(),
                Value::String(msgid.clone()),
            );
            let mut sent = Msg::from_map(map);
            // A message built from the input keeps its source from acknowledging it early.
            if let Phase::Input(input) = phase
                && let Some(receipt) = input.receipt()
            {
                sent = sent.with_receipt(receipt.clone());
            }
            cx.send_to(port, sent).await;
        }
    }
}

#[async_trait]
impl Node for RhaiNode {
    async fn on_start(&mut self, cx: &mut NodeCtx) -> Result<(), NodeError> {
        self.runner.stopping = Arc::clone(cx.stopping());
        let context = |scope| ContextApi {
            context: cx.context().clone(),
            scope,
        };
        self.runner.scope.push(
            "node",
            NodeApi {
                id: cx.id().into(),
                name: cx.name().into(),
                output_count: i64::try_from(cx.output_count()).unwrap_or(0),
            },
        );
        self.runner
            .scope
            .push("context", context(ContextScope::Node));
        self.runner.scope.push("flow", context(ContextScope::Flow));
        self.runner
            .scope
            .push("global", context(ContextScope::Global));
        self.runner.scope.push("env", EnvApi(cx.env().clone()));
        debug_assert_eq!(self.runner.scope.len(), BASE_SCOPE_LEN);

        let Some(ast) = &self.initialize else {
            return Ok(());
        };
        let (result, effects) = self.runner.run(ast, None, true);
        self.apply(effects, Phase::Initialize, cx).await;
        if let Err(e) = result {
            let text = format!("initialize: {e}");
            cx.report_error(NodeError::new(text.clone())).await;
            cx.status(Status::ring("red", "initialize failed")).await;
            self.init_error = Some(text);
        }
        Ok(())
    }

    async fn on_input(&mut self, msg: Msg, cx: &mut NodeCtx) -> Result<(), NodeError> {
        if let Some(reason) = &self.init_error {
            return Err(NodeError::new(reason.clone()).for_msg(msg));
        }
        let Some(ast) = &self.body else {
            return Ok(());
        };
        let (result, effects) = self.runner.run(ast, Some(&msg), true);
        if self.calls_done {
            cx.defer_done();
        }
        self.apply(effects, Phase::Input(&msg), cx).await;
        match result {
            // The common case, one message to output 1: the input, updated in place.
            Ok(value) if value.is_map() => {
                let mut msg = msg;
                bridge::merge_message(&mut msg, value.cast::<rhai::Map>());
                cx.send(msg).await;
                Ok(())
            }
            Ok(value) => {
                send_results(value, Phase::Input(&msg), cx).await;
                Ok(())
            }
            Err(e) => {
                // Catch nodes get the message as the script left it, as in Node-RED.
                let current = self
                    .runner
                    .scope
                    .get_value::<Dynamic>("msg")
                    .map(|m| bridge::to_value_like(m, Some(msg.as_value())));
                let msg = match current {
                    Some(Value::Object(map)) => Msg::from_map(map),
                    _ => msg,
                };
                Err(NodeError::new(e.to_string()).for_msg(msg))
            }
        }
    }

    async fn on_close(&mut self, _removed: bool, cx: &mut NodeCtx) {
        if let Some(ast) = &self.finalize {
            // The node is stopping on purpose: `finalize` gets its own budget in full.
            let (result, effects) = self.runner.run(ast, None, false);
            self.apply(effects, Phase::Finalize, cx).await;
            if let Err(e) = result {
                cx.report_error(NodeError::new(format!("finalize: {e}")))
                    .await;
            }
        }
        if self.status_used {
            cx.status(Status::clear()).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_body_calling_node_done_completes_messages_itself() {
        assert!(mentions_done("node.send(msg); node.done();"));
        assert!(mentions_done("node.done( )"));
        assert!(!mentions_done("node.done_later()"));
        assert!(!mentions_done("msg"));
    }
}
