//! What `mqtt in` and `mqtt out` share as users of a broker connection: the status badge
//! that follows it (Node-RED's `updateStatus`), with the outbox count when messages wait.

use ferrite_runtime::{Event, EventSender, Status};
use tokio::task::JoinHandle;

use super::client::{Client, Link, LinkState};

/// Node-RED's status texts are editor message keys; the editor translates them.
const CONNECTED: &str = "node-red:common.status.connected";
const CONNECTING: &str = "node-red:common.status.connecting";
const DISCONNECTED: &str = "node-red:common.status.disconnected";

/// The badge for a connection state.
pub fn status(link: Link) -> Status {
    let (fill, dot, key, word) = match link.state {
        LinkState::Connected => ("green", true, CONNECTED, "connected"),
        LinkState::Connecting => ("yellow", false, CONNECTING, "connecting"),
        LinkState::Disconnected => ("red", false, DISCONNECTED, "disconnected"),
    };
    let text = if link.queued == 0 {
        key.to_owned()
    } else {
        format!("{word} ({} queued)", link.queued)
    };
    if dot {
        Status::dot(fill, text)
    } else {
        Status::ring(fill, text)
    }
}

/// Posts the connection's [`Link`] to a node now and whenever it changes, until aborted.
pub fn follow(client: &Client, node: EventSender) -> JoinHandle<()> {
    let mut link = client.link();
    tokio::spawn(async move {
        loop {
            let current = *link.borrow_and_update();
            if !node.send(Event::Custom(Box::new(current))) {
                return;
            }
            if link.changed().await.is_err() {
                return;
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shows_node_red_keys_and_the_queue() {
        let s = status(Link {
            state: LinkState::Connected,
            queued: 0,
        });
        assert_eq!(s, Status::dot("green", CONNECTED));
        let s = status(Link {
            state: LinkState::Disconnected,
            queued: 12,
        });
        assert_eq!(s, Status::ring("red", "disconnected (12 queued)"));
    }
}
