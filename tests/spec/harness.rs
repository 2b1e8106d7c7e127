//! The test helper: Ferrite's node table plus the `helper` node (runtime `testing` feature).

use std::io::Write;
use std::sync::{Arc, Mutex, PoisonError};

use ferrite_runtime::testing::TestFlow;
use serde_json::Value as Json;

/// Loads a flow with every Ferrite node type, like `helper.load(nodes, flow)`.
pub async fn load(flow: Json) -> TestFlow {
    TestFlow::load(&[ferrite_nodes::ALL], flow).await
}

/// Collects what the tracing subscriber of the test thread writes.
#[derive(Clone, Default)]
pub struct Captured(Arc<Mutex<Vec<u8>>>);

impl Captured {
    pub fn text(&self) -> String {
        let bytes = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Captures every log line (all levels) written on this thread while the guard lives: in a
/// current-thread test runtime node tasks log on the test's thread.
pub fn capture_logs() -> (Captured, tracing::subscriber::DefaultGuard) {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_ansi(false)
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .finish();
    (captured, tracing::subscriber::set_default(subscriber))
}
