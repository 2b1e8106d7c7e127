//! The broker against a raw client written with the codec: every packet the broker sends
//! is checked as it is, reason codes included.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::*;
use crate::network::mqtt::codec::{
    Ack, ConnAck, Connect, Disconnect, Packet, Properties, Publish, QoS, SubAck, Subscribe,
    SubscribeFilter, Unsubscribe, Version, Will, decode, encode,
};

const WAIT: Duration = Duration::from_secs(3);

fn config() -> ServerConfig {
    ServerConfig {
        bind: IpAddr::V4(Ipv4Addr::LOCALHOST),
        port: Some(0),
        ..ServerConfig::default()
    }
}

async fn broker() -> Server {
    start(config(), None).await.expect("broker starts")
}

struct Client {
    stream: TcpStream,
    rbuf: BytesMut,
    version: Version,
}

fn connect_packet(id: &str, version: Version) -> Connect {
    Connect {
        version,
        client_id: id.to_owned(),
        keep_alive: 60,
        clean_start: true,
        username: None,
        password: None,
        will: None,
        props: None,
    }
}

fn props(f: impl FnOnce(&mut Properties)) -> Option<Box<Properties>> {
    let mut p = Properties::default();
    f(&mut p);
    Some(Box::new(p))
}

fn publish(topic: &str, payload: &str, qos: QoS, pkid: u16) -> Publish {
    Publish {
        dup: false,
        qos,
        retain: false,
        topic: topic.to_owned(),
        pkid,
        payload: Bytes::copy_from_slice(payload.as_bytes()),
        props: None,
    }
}

fn filter(filter: &str, qos: QoS) -> SubscribeFilter {
    SubscribeFilter {
        filter: filter.to_owned(),
        qos,
        no_local: false,
        retain_as_published: false,
        retain_handling: 0,
    }
}

fn ack(pkid: u16) -> Ack {
    Ack {
        pkid,
        reason: 0,
        props: None,
    }
}

impl Client {
    async fn open(server: &Server, connect: Connect) -> (Self, ConnAck) {
        let addr = server.local_addr().expect("tcp listener");
        let stream = TcpStream::connect(addr).await.expect("connects");
        let mut client = Self {
            stream,
            rbuf: BytesMut::new(),
            version: connect.version,
        };
        client.send(Packet::Connect(connect)).await;
        match client.recv().await {
            Packet::ConnAck(ack) => (client, ack),
            other => panic!("expected CONNACK, got {other:?}"),
        }
    }

    /// A connected client with a clean session.
    async fn connected(server: &Server, id: &str, version: Version) -> Self {
        let (client, ack) = Self::open(server, connect_packet(id, version)).await;
        assert_eq!(ack.code, 0, "{id} connects");
        client
    }

    async fn send(&mut self, packet: Packet) {
        let mut buf = BytesMut::new();
        encode(&packet, self.version, &mut buf).expect("encodes");
        self.stream.write_all(&buf).await.expect("writes");
    }

    /// The next packet, or `None` when the broker closed the connection or sent nothing
    /// within `wait`.
    async fn recv_within(&mut self, wait: Duration) -> Option<Packet> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            if let Some(p) = decode(&mut self.rbuf, self.version, usize::MAX).expect("decodes") {
                return Some(p);
            }
            match tokio::time::timeout_at(deadline, self.stream.read_buf(&mut self.rbuf)).await {
                Ok(Ok(n)) if n > 0 => {}
                _ => return None,
            }
        }
    }

    async fn recv(&mut self) -> Packet {
        self.recv_within(WAIT).await.expect("a packet within 3 s")
    }

    async fn recv_publish(&mut self) -> Publish {
        match self.recv().await {
            Packet::Publish(p) => p,
            other => panic!("expected PUBLISH, got {other:?}"),
        }
    }

    async fn subscribe(&mut self, filters: Vec<SubscribeFilter>) -> SubAck {
        self.subscribe_with(filters, None).await
    }

    async fn subscribe_with(
        &mut self,
        filters: Vec<SubscribeFilter>,
        props: Option<Box<Properties>>,
    ) -> SubAck {
        self.send(Packet::Subscribe(Subscribe {
            pkid: 7,
            filters,
            props,
        }))
        .await;
        match self.recv().await {
            Packet::SubAck(ack) => ack,
            other => panic!("expected SUBACK, got {other:?}"),
        }
    }

    async fn publish(&mut self, p: Publish) {
        let (qos, pkid) = (p.qos, p.pkid);
        self.send(Packet::Publish(p)).await;
        match qos {
            QoS::AtMostOnce => {}
            QoS::AtLeastOnce => {
                assert!(matches!(self.recv().await, Packet::PubAck(a) if a.pkid == pkid))
            }
            QoS::ExactlyOnce => {
                assert!(matches!(self.recv().await, Packet::PubRec(a) if a.pkid == pkid));
                self.send(Packet::PubRel(ack(pkid))).await;
                assert!(matches!(self.recv().await, Packet::PubComp(a) if a.pkid == pkid));
            }
        }
    }

    /// Waits for the broker to close the connection; returns what it sent before.
    async fn closed(&mut self) -> Vec<Packet> {
        let mut last = Vec::new();
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            while let Some(p) = decode(&mut self.rbuf, self.version, usize::MAX).expect("decodes") {
                last.push(p);
            }
            match tokio::time::timeout_at(deadline, self.stream.read_buf(&mut self.rbuf)).await {
                Ok(Ok(0) | Err(_)) => return last,
                Ok(Ok(_)) => {}
                Err(_) => panic!("connection still open after 3 s"),
            }
        }
    }
}

/// Polls `check` until it holds, failing after 3 s.
async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while !check() {
        assert!(tokio::time::Instant::now() < deadline, "{what} within 3 s");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test]
async fn server_delivers_qos_0_1_2_at_the_lower_qos() {
    let server = broker().await;
    let mut sub = Client::connected(&server, "sub", Version::V311).await;
    let granted = sub
        .subscribe(vec![
            filter("a/+", QoS::ExactlyOnce),
            filter("b", QoS::AtLeastOnce),
        ])
        .await;
    assert_eq!(granted.codes, [2, 1]);
    let mut publisher = Client::connected(&server, "pub", Version::V311).await;
    for (qos, pkid) in [
        (QoS::AtMostOnce, 0),
        (QoS::AtLeastOnce, 1),
        (QoS::ExactlyOnce, 2),
    ] {
        publisher.publish(publish("a/x", "m", qos, pkid)).await;
        let p = sub.recv_publish().await;
        assert_eq!(
            (p.topic.as_str(), &p.payload[..], p.qos),
            ("a/x", &b"m"[..], qos)
        );
        assert!(!p.retain && !p.dup);
        match qos {
            QoS::AtMostOnce => assert_eq!(p.pkid, 0),
            QoS::AtLeastOnce => sub.send(Packet::PubAck(ack(p.pkid))).await,
            QoS::ExactlyOnce => {
                sub.send(Packet::PubRec(ack(p.pkid))).await;
                assert!(matches!(sub.recv().await, Packet::PubRel(a) if a.pkid == p.pkid));
                sub.send(Packet::PubComp(ack(p.pkid))).await;
            }
        }
    }
    // Published at 2, subscribed at 1: delivered at 1.
    publisher
        .publish(publish("b", "low", QoS::ExactlyOnce, 3))
        .await;
    assert_eq!(sub.recv_publish().await.qos, QoS::AtLeastOnce);
    server.close().await;
}

#[tokio::test]
async fn server_qos2_retry_with_the_same_packet_id_is_delivered_once() {
    let server = broker().await;
    let mut sub = Client::connected(&server, "sub", Version::V311).await;
    sub.subscribe(vec![filter("t", QoS::AtMostOnce)]).await;
    let mut publisher = Client::connected(&server, "pub", Version::V311).await;
    let mut first = publish("t", "once", QoS::ExactlyOnce, 9);
    publisher.send(Packet::Publish(first.clone())).await;
    assert!(matches!(publisher.recv().await, Packet::PubRec(a) if a.pkid == 9));
    first.dup = true;
    publisher.send(Packet::Publish(first)).await;
    assert!(matches!(publisher.recv().await, Packet::PubRec(a) if a.pkid == 9));
    publisher.send(Packet::PubRel(ack(9))).await;
    assert!(matches!(publisher.recv().await, Packet::PubComp(a) if a.pkid == 9 && a.reason == 0));
    assert_eq!(&sub.recv_publish().await.payload[..], b"once");
    assert!(sub.recv_within(Duration::from_millis(200)).await.is_none());
    server.close().await;
}

#[tokio::test]
async fn server_refuses_wrong_or_missing_credentials_with_each_versions_code() {
    let server = start(
        ServerConfig {
            credentials: Some(("user".into(), "secret".into())),
            ..config()
        },
        None,
    )
    .await
    .expect("starts");
    let login = |version, user: Option<&str>, password: Option<&str>| {
        let mut c = connect_packet("c", version);
        c.username = user.map(str::to_owned);
        c.password = password.map(|p| Bytes::copy_from_slice(p.as_bytes()));
        c
    };
    for (version, user, password, code) in [
        (Version::V311, Some("user"), Some("secret"), 0),
        (Version::V311, Some("user"), Some("wrong"), 4),
        (Version::V311, None, None, 5),
        (Version::V5, Some("user"), Some("secret"), 0),
        (Version::V5, Some("other"), Some("secret"), 0x86),
        (Version::V5, None, None, 0x87),
    ] {
        let (mut client, ack) = Client::open(&server, login(version, user, password)).await;
        assert_eq!(ack.code, code, "{version:?} {user:?} {password:?}");
        if code != 0 {
            client.closed().await;
        }
    }
    server.close().await;
}

#[tokio::test]
async fn server_second_connection_with_the_same_id_takes_over() {
    let server = broker().await;
    let mut first = Client::connected(&server, "same", Version::V5).await;
    let _second = Client::connected(&server, "same", Version::V5).await;
    let last = first.closed().await;
    assert!(
        matches!(last.last(), Some(Packet::Disconnect(d)) if d.reason == 0x8E),
        "{last:?}"
    );
    eventually("one client left", || server.connected_clients() == 1).await;
    server.close().await;
}

#[tokio::test]
async fn server_assigns_an_id_to_an_empty_one_and_refuses_it_for_a_v3_persistent_session() {
    let server = broker().await;
    let (_v5, ack) = Client::open(&server, connect_packet("", Version::V5)).await;
    assert_eq!(ack.code, 0);
    let assigned = ack.props.and_then(|p| p.assigned_client_identifier);
    assert!(assigned.is_some_and(|id| !id.is_empty()));
    let (_v3, ack) = Client::open(&server, connect_packet("", Version::V311)).await;
    assert_eq!(ack.code, 0, "clean session: an id is assigned");
    let mut persistent = connect_packet("", Version::V311);
    persistent.clean_start = false;
    let (mut refused, ack) = Client::open(&server, persistent).await;
    assert_eq!(ack.code, 2, "identifier rejected");
    refused.closed().await;
    server.close().await;
}

fn will(topic: &str, payload: &str) -> Will {
    Will {
        topic: topic.to_owned(),
        payload: Bytes::copy_from_slice(payload.as_bytes()),
        qos: QoS::AtLeastOnce,
        retain: false,
        props: None,
    }
}

#[tokio::test]
async fn server_publishes_the_will_on_abnormal_close_and_keepalive_timeout_only() {
    let server = broker().await;
    let mut watcher = Client::connected(&server, "watcher", Version::V5).await;
    watcher
        .subscribe(vec![filter("will/#", QoS::AtMostOnce)])
        .await;

    // Dropped without DISCONNECT: the will goes out.
    let mut c = connect_packet("dropped", Version::V311);
    c.will = Some(will("will/dropped", "gone"));
    let (client, _) = Client::open(&server, c).await;
    drop(client);
    assert_eq!(watcher.recv_publish().await.topic, "will/dropped");

    // DISCONNECT: no will; MQTT 5 reason 4: the will all the same.
    for (reason, sent) in [(0, false), (4, true)] {
        let mut c = connect_packet("polite", Version::V5);
        c.will = Some(will("will/polite", &reason.to_string()));
        let (mut client, _) = Client::open(&server, c).await;
        client
            .send(Packet::Disconnect(Disconnect {
                reason,
                props: None,
            }))
            .await;
        client.closed().await;
        let got = watcher.recv_within(Duration::from_millis(300)).await;
        assert_eq!(got.is_some(), sent, "reason {reason}: {got:?}");
    }

    // Silent for 1.5 × keep-alive: disconnected, will published.
    let mut c = connect_packet("silent", Version::V5);
    c.keep_alive = 1;
    c.will = Some(will("will/silent", "timeout"));
    let (mut client, _) = Client::open(&server, c).await;
    let started = std::time::Instant::now();
    let last = client.closed().await;
    assert!(started.elapsed() >= Duration::from_millis(1400));
    assert!(matches!(last.last(), Some(Packet::Disconnect(d)) if d.reason == 0x8D));
    assert_eq!(&watcher.recv_publish().await.payload[..], b"timeout");
    server.close().await;
}

#[tokio::test]
async fn server_retained_messages_are_stored_replaced_deleted_and_flagged() {
    let server = broker().await;
    let mut publisher = Client::connected(&server, "pub", Version::V5).await;
    for (topic, payload) in [("r/1", "old"), ("r/1", "new"), ("r/2", "two"), ("r/2", "")] {
        let mut p = publish(topic, payload, QoS::AtLeastOnce, 1);
        p.retain = true;
        publisher.publish(p).await;
    }
    let mut sub = Client::connected(&server, "sub", Version::V5).await;
    sub.subscribe(vec![filter("r/#", QoS::AtLeastOnce)]).await;
    let p = sub.recv_publish().await;
    assert_eq!(
        (p.topic.as_str(), &p.payload[..], p.retain),
        ("r/1", &b"new"[..], true)
    );
    sub.send(Packet::PubAck(ack(p.pkid))).await;
    assert!(
        sub.recv_within(Duration::from_millis(200)).await.is_none(),
        "r/2 was deleted"
    );

    // Retain handling 2: none on subscribe; 1: only for a new subscription.
    let mut never = Client::connected(&server, "never", Version::V5).await;
    let mut f = filter("r/1", QoS::AtMostOnce);
    f.retain_handling = 2;
    never.subscribe(vec![f.clone()]).await;
    assert!(
        never
            .recv_within(Duration::from_millis(200))
            .await
            .is_none()
    );
    f.retain_handling = 1;
    f.filter = "r/+".into();
    never.subscribe(vec![f.clone()]).await;
    assert!(never.recv_publish().await.retain);
    never.subscribe(vec![f]).await;
    assert!(
        never
            .recv_within(Duration::from_millis(200))
            .await
            .is_none()
    );

    // Live messages: retain flag only with retain-as-published.
    let mut rap = Client::connected(&server, "rap", Version::V5).await;
    let mut f = filter("live", QoS::AtMostOnce);
    f.retain_as_published = true;
    rap.subscribe(vec![f]).await;
    let mut plain = Client::connected(&server, "plain", Version::V5).await;
    plain.subscribe(vec![filter("live", QoS::AtMostOnce)]).await;
    let mut p = publish("live", "x", QoS::AtMostOnce, 0);
    p.retain = true;
    publisher.publish(p).await;
    assert!(rap.recv_publish().await.retain);
    assert!(!plain.recv_publish().await.retain);
    server.close().await;
}

#[tokio::test]
async fn server_persistent_session_keeps_subscriptions_queues_and_resends_with_dup() {
    let server = broker().await;
    let persistent = || {
        let mut c = connect_packet("keeper", Version::V311);
        c.clean_start = false;
        c
    };
    let (mut keeper, ack) = Client::open(&server, persistent()).await;
    assert!(!ack.session_present);
    keeper.subscribe(vec![filter("q", QoS::AtLeastOnce)]).await;
    let mut publisher = Client::connected(&server, "pub", Version::V311).await;
    publisher
        .publish(publish("q", "1", QoS::AtLeastOnce, 1))
        .await;
    let unacked = keeper.recv_publish().await;
    drop(keeper);
    eventually("keeper offline", || server.connected_clients() == 1).await;
    publisher
        .publish(publish("q", "2", QoS::AtLeastOnce, 2))
        .await;
    publisher
        .publish(publish("q", "zero", QoS::AtMostOnce, 0))
        .await;

    let (mut keeper, ack) = Client::open(&server, persistent()).await;
    assert!(ack.session_present);
    let again = keeper.recv_publish().await;
    assert_eq!(
        (again.pkid, &again.payload[..], again.dup),
        (unacked.pkid, &b"1"[..], true)
    );
    let queued = keeper.recv_publish().await;
    assert_eq!((&queued.payload[..], queued.dup), (&b"2"[..], false));
    assert!(
        keeper
            .recv_within(Duration::from_millis(200))
            .await
            .is_none(),
        "no QoS 0 kept"
    );
    server.close().await;
}

#[tokio::test]
async fn server_disconnects_bad_publish_topics_and_refuses_bad_filters() {
    let server = broker().await;
    let mut v3 = Client::connected(&server, "v3", Version::V311).await;
    let ack = v3
        .subscribe(vec![
            filter("a/#/b", QoS::AtMostOnce),
            filter("ok/+", QoS::AtLeastOnce),
        ])
        .await;
    assert_eq!(ack.codes, [0x80, 1]);
    let mut v5 = Client::connected(&server, "v5", Version::V5).await;
    let ack = v5.subscribe(vec![filter("x+", QoS::AtMostOnce)]).await;
    assert_eq!(ack.codes, [0x8F]);
    v5.send(Packet::Publish(publish("a/+", "x", QoS::AtMostOnce, 0)))
        .await;
    let last = v5.closed().await;
    assert!(matches!(last.last(), Some(Packet::Disconnect(d)) if d.reason == 0x90));
    let mut alias = Client::connected(&server, "alias", Version::V5).await;
    let mut p = publish("t", "x", QoS::AtMostOnce, 0);
    p.props = props(|p| p.topic_alias = Some(1));
    alias.send(Packet::Publish(p)).await;
    let last = alias.closed().await;
    assert!(matches!(last.last(), Some(Packet::Disconnect(d)) if d.reason == 0x94));
    server.close().await;
}

#[tokio::test]
async fn server_passes_v5_publish_properties_and_subscription_ids_through() {
    let server = broker().await;
    let mut sub = Client::connected(&server, "sub", Version::V5).await;
    sub.subscribe_with(
        vec![filter("req", QoS::AtMostOnce)],
        props(|p| p.subscription_identifiers = vec![42]),
    )
    .await;
    let mut publisher = Client::connected(&server, "pub", Version::V5).await;
    let mut p = publish("req", "{}", QoS::AtMostOnce, 0);
    p.props = props(|p| {
        p.response_topic = Some("reply/1".into());
        p.correlation_data = Some(Bytes::from_static(b"\x01\x02"));
        p.content_type = Some("application/json".into());
        p.payload_format_indicator = Some(1);
        p.message_expiry_interval = Some(60);
        p.user_properties = vec![("k".into(), "v".into())];
    });
    publisher.publish(p).await;
    let got = sub.recv_publish().await.props.expect("properties");
    assert_eq!(got.response_topic.as_deref(), Some("reply/1"));
    assert_eq!(got.correlation_data.as_deref(), Some(&b"\x01\x02"[..]));
    assert_eq!(got.content_type.as_deref(), Some("application/json"));
    assert_eq!(got.payload_format_indicator, Some(1));
    assert_eq!(got.message_expiry_interval, Some(60));
    assert_eq!(got.user_properties, [("k".to_owned(), "v".to_owned())]);
    assert_eq!(got.subscription_identifiers, [42]);

    // A v3 subscriber gets the message without properties.
    let mut v3 = Client::connected(&server, "v3", Version::V311).await;
    v3.subscribe(vec![filter("req", QoS::AtMostOnce)]).await;
    let mut p = publish("req", "x", QoS::AtMostOnce, 0);
    p.props = props(|p| p.content_type = Some("text/plain".into()));
    publisher.publish(p).await;
    assert_eq!(v3.recv_publish().await.props, None);
    server.close().await;
}

#[tokio::test]
async fn server_dollar_topics_are_not_matched_by_leading_wildcards() {
    let server = broker().await;
    let mut all = Client::connected(&server, "all", Version::V311).await;
    all.subscribe(vec![
        filter("#", QoS::AtMostOnce),
        filter("+/x", QoS::AtMostOnce),
    ])
    .await;
    let mut sys = Client::connected(&server, "sys", Version::V311).await;
    sys.subscribe(vec![filter("$SYS/#", QoS::AtMostOnce)]).await;
    let mut publisher = Client::connected(&server, "pub", Version::V311).await;
    publisher
        .publish(publish("$SYS/x", "s", QoS::AtMostOnce, 0))
        .await;
    publisher
        .publish(publish("plain", "p", QoS::AtMostOnce, 0))
        .await;
    assert_eq!(sys.recv_publish().await.topic, "$SYS/x");
    assert_eq!(all.recv_publish().await.topic, "plain");
    server.close().await;
}

#[tokio::test]
async fn server_shared_subscription_hands_each_message_to_one_member_in_turn() {
    let server = broker().await;
    let mut a = Client::connected(&server, "a", Version::V5).await;
    let mut b = Client::connected(&server, "b", Version::V311).await;
    for c in [&mut a, &mut b] {
        c.subscribe(vec![filter("$share/g/job/+", QoS::AtMostOnce)])
            .await;
    }
    let mut publisher = Client::connected(&server, "pub", Version::V311).await;
    for n in 0..4 {
        publisher
            .publish(publish("job/1", &n.to_string(), QoS::AtMostOnce, 0))
            .await;
    }
    let mut got = Vec::new();
    for c in [&mut a, &mut b] {
        for _ in 0..2 {
            got.push(String::from_utf8_lossy(&c.recv_publish().await.payload).into_owned());
        }
        assert!(c.recv_within(Duration::from_millis(100)).await.is_none());
    }
    got.sort();
    assert_eq!(got, ["0", "1", "2", "3"]);
    server.close().await;
}

#[tokio::test]
async fn server_unsubscribe_answers_per_filter_and_stops_delivery() {
    let server = broker().await;
    let mut c = Client::connected(&server, "c", Version::V5).await;
    c.subscribe(vec![filter("t", QoS::AtMostOnce)]).await;
    c.send(Packet::Unsubscribe(Unsubscribe {
        pkid: 3,
        filters: vec!["t".into(), "never".into()],
        props: None,
    }))
    .await;
    assert!(matches!(c.recv().await, Packet::UnsubAck(u) if u.codes == [0, 0x11]));
    c.publish(publish("t", "x", QoS::AtMostOnce, 0)).await;
    assert!(c.recv_within(Duration::from_millis(200)).await.is_none());
    server.close().await;
}

#[tokio::test]
async fn server_respects_the_clients_receive_maximum() {
    let server = broker().await;
    let mut c = connect_packet("slow", Version::V5);
    c.props = props(|p| p.receive_maximum = Some(2));
    let (mut sub, _) = Client::open(&server, c).await;
    sub.subscribe(vec![filter("t", QoS::AtLeastOnce)]).await;
    let mut publisher = Client::connected(&server, "pub", Version::V5).await;
    for n in 1..=3 {
        publisher
            .publish(publish("t", &n.to_string(), QoS::AtLeastOnce, n))
            .await;
    }
    let first = sub.recv_publish().await;
    sub.recv_publish().await;
    assert!(
        sub.recv_within(Duration::from_millis(200)).await.is_none(),
        "window of 2"
    );
    sub.send(Packet::PubAck(ack(first.pkid))).await;
    assert_eq!(&sub.recv_publish().await.payload[..], b"3");
    server.close().await;
}

#[tokio::test]
async fn server_drops_qos0_for_a_client_that_does_not_read() {
    let server = start(
        ServerConfig {
            max_queued_qos0: 10,
            ..config()
        },
        None,
    )
    .await
    .expect("starts");
    let mut stuck = Client::connected(&server, "stuck", Version::V311).await;
    stuck
        .subscribe(vec![filter("flood", QoS::AtMostOnce)])
        .await;
    let mut publisher = Client::connected(&server, "pub", Version::V311).await;
    let payload = "x".repeat(60_000);
    // Far more than the socket buffers and the broker's write buffer hold.
    for _ in 0..2_000 {
        publisher
            .send(Packet::Publish(publish(
                "flood",
                &payload,
                QoS::AtMostOnce,
                0,
            )))
            .await;
    }
    publisher
        .publish(publish("sync", "", QoS::AtLeastOnce, 1))
        .await;
    assert!(server.dropped_messages() > 0);
    server.close().await;
}

#[tokio::test]
async fn server_closes_a_connection_sending_a_too_large_packet() {
    let server = start(
        ServerConfig {
            max_packet_size: 1024,
            ..config()
        },
        None,
    )
    .await
    .expect("starts");
    let mut c = Client::connected(&server, "big", Version::V5).await;
    c.send(Packet::Publish(publish(
        "t",
        &"x".repeat(2048),
        QoS::AtMostOnce,
        0,
    )))
    .await;
    let last = c.closed().await;
    assert!(matches!(last.last(), Some(Packet::Disconnect(d)) if d.reason == 0x95));
    server.close().await;
}

#[tokio::test]
async fn server_reports_a_port_in_use_and_frees_its_port_on_close() {
    let server = broker().await;
    let addr = server.local_addr().expect("bound");
    let taken = start(
        ServerConfig {
            port: Some(addr.port()),
            ..config()
        },
        None,
    )
    .await;
    match taken {
        Err(e @ ServerError::PortInUse { .. }) => {
            assert_eq!(
                e.to_string(),
                format!("port {} is already in use", addr.port())
            );
        }
        Err(e) => panic!("expected PortInUse, got {e}"),
        Ok(_) => panic!("expected PortInUse, got a server"),
    }
    let _client = Client::connected(&server, "c", Version::V311).await;
    let started = std::time::Instant::now();
    server.close().await;
    assert!(started.elapsed() < Duration::from_secs(3));
    let again = start(
        ServerConfig {
            port: Some(addr.port()),
            ..config()
        },
        None,
    )
    .await
    .expect("the port is free again");
    again.close().await;
}

#[tokio::test]
async fn server_config_without_listeners_is_an_error() {
    let none = start(
        ServerConfig {
            port: None,
            ..config()
        },
        None,
    )
    .await;
    assert!(matches!(none, Err(ServerError::NoListener)));
}

#[tokio::test]
async fn server_emits_aedes_events_in_order() {
    let (tx, mut rx) = tokio::sync::mpsc::channel(64);
    let server = start(
        ServerConfig {
            publish_events: true,
            ..config()
        },
        Some(tx),
    )
    .await
    .expect("starts");
    let mut c = Client::connected(&server, "ev", Version::V311).await;
    c.subscribe(vec![filter("t", QoS::AtLeastOnce)]).await;
    c.publish(publish("t", "p", QoS::AtMostOnce, 0)).await;
    c.send(Packet::Unsubscribe(Unsubscribe {
        pkid: 4,
        filters: vec!["t".into()],
        props: None,
    }))
    .await;
    c.recv_publish().await;
    assert!(matches!(c.recv().await, Packet::UnsubAck(_)));
    c.send(Packet::Disconnect(Disconnect {
        reason: 0,
        props: None,
    }))
    .await;
    c.closed().await;
    let mut names = Vec::new();
    while names.last() != Some(&"clientDisconnect") {
        let event = tokio::time::timeout(WAIT, rx.recv())
            .await
            .expect("event within 3 s")
            .expect("channel open");
        names.push(match event {
            ServerEvent::Client(c) => {
                assert_eq!(c.id, "ev");
                "client"
            }
            ServerEvent::ClientReady(_) => "clientReady",
            ServerEvent::Subscribe { filter, qos, .. } => {
                assert_eq!((filter.as_str(), qos), ("t", 1));
                "subscribe"
            }
            ServerEvent::Publish { client, packet } => {
                assert_eq!(client.map(|c| c.id.clone()).as_deref(), Some("ev"));
                assert_eq!(packet.topic, "t");
                "publish"
            }
            ServerEvent::Unsubscribe { .. } => "unsubscribe",
            ServerEvent::ClientDisconnect(_) => "clientDisconnect",
            other => panic!("unexpected {other:?}"),
        });
    }
    assert_eq!(
        names,
        [
            "client",
            "clientReady",
            "subscribe",
            "publish",
            "unsubscribe",
            "clientDisconnect"
        ]
    );
    server.close().await;
}

#[tokio::test]
async fn server_speaks_mqtt_over_websocket() {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::{Message, client::IntoClientRequest};
    let server = start(
        ServerConfig {
            ws_port: Some(0),
            ..config()
        },
        None,
    )
    .await
    .expect("starts");
    let addr: SocketAddr = server.ws_local_addr().expect("ws listener");
    let mut request = format!("ws://{addr}/mqtt")
        .into_client_request()
        .expect("request");
    request
        .headers_mut()
        .insert("Sec-WebSocket-Protocol", "mqtt".parse().expect("header"));
    let stream = TcpStream::connect(addr).await.expect("connects");
    let (mut ws, response) = tokio_tungstenite::client_async(request, stream)
        .await
        .expect("upgrades");
    assert_eq!(
        response
            .headers()
            .get("Sec-WebSocket-Protocol")
            .map(|v| v.as_bytes()),
        Some(&b"mqtt"[..])
    );
    let frame = |packet: Packet| {
        let mut buf = BytesMut::new();
        encode(&packet, Version::V311, &mut buf).expect("encodes");
        Message::Binary(buf.freeze())
    };
    ws.send(frame(Packet::Connect(connect_packet("ws", Version::V311))))
        .await
        .expect("sends");
    ws.send(frame(Packet::Subscribe(Subscribe {
        pkid: 1,
        filters: vec![filter("w", QoS::AtMostOnce)],
        props: None,
    })))
    .await
    .expect("sends");
    let mut tcp = Client::connected(&server, "tcp", Version::V311).await;
    let mut rbuf = BytesMut::new();
    let mut packets = Vec::new();
    let mut published = false;
    while !packets.iter().any(|p| matches!(p, Packet::Publish(_))) {
        let msg = tokio::time::timeout(WAIT, ws.next())
            .await
            .expect("a frame within 3 s")
            .expect("open")
            .expect("a frame");
        rbuf.extend_from_slice(&msg.into_data());
        while let Some(p) = decode(&mut rbuf, Version::V311, usize::MAX).expect("decodes") {
            if matches!(p, Packet::SubAck(_)) && !published {
                tcp.publish(publish("w", "over ws", QoS::AtMostOnce, 0))
                    .await;
                published = true;
            }
            packets.push(p);
        }
    }
    assert!(matches!(
        packets[0],
        Packet::ConnAck(ConnAck { code: 0, .. })
    ));
    assert!(matches!(&packets[2], Packet::Publish(p) if &p.payload[..] == b"over ws"));
    server.close().await;
}

/// A v5 CONNECT that keeps its session `expiry` seconds after the connection.
fn lasting(id: &str, expiry: u32) -> Connect {
    let mut c = connect_packet(id, Version::V5);
    c.clean_start = false;
    c.props = props(|p| p.session_expiry_interval = Some(expiry));
    c
}

#[tokio::test]
async fn server_v5_session_ends_after_its_expiry_interval() {
    let server = broker().await;
    let (client, ack) = Client::open(&server, lasting("brief", 1)).await;
    assert!(!ack.session_present);
    drop(client);
    eventually("brief offline", || server.connected_clients() == 0).await;
    let (client, ack) = Client::open(&server, lasting("brief", 1)).await;
    assert!(ack.session_present, "kept within its expiry");
    drop(client);
    eventually("brief offline", || server.connected_clients() == 0).await;
    // Not synchronisation: the expiry timer has to run out.
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let (_client, ack) = Client::open(&server, lasting("brief", 1)).await;
    assert!(!ack.session_present, "gone after 1 s offline");
    server.close().await;
}

#[tokio::test]
async fn server_will_delay_waits_and_a_resumed_session_cancels_it() {
    let server = broker().await;
    let mut watcher = Client::connected(&server, "watcher", Version::V5).await;
    watcher
        .subscribe(vec![filter("will/#", QoS::AtMostOnce)])
        .await;
    let delayed = |id: &str| {
        let mut c = lasting(id, 60);
        let mut w = will(&format!("will/{id}"), id);
        w.props = props(|p| p.will_delay_interval = Some(1));
        c.will = Some(w);
        c
    };
    let (client, _) = Client::open(&server, delayed("back")).await;
    drop(client);
    eventually("back offline", || server.connected_clients() == 1).await;
    let (_back, ack) = Client::open(&server, delayed("back")).await;
    assert!(ack.session_present);
    let (client, _) = Client::open(&server, delayed("away")).await;
    let dropped = std::time::Instant::now();
    drop(client);
    let will = watcher.recv_publish().await;
    assert_eq!(will.topic, "will/away", "only the client that stayed away");
    assert!(dropped.elapsed() >= Duration::from_millis(900));
    assert!(
        watcher
            .recv_within(Duration::from_millis(300))
            .await
            .is_none()
    );
    server.close().await;
}

#[tokio::test]
async fn server_speaks_mqtt_3_1() {
    let server = broker().await;
    let mut old = Client::connected(&server, "old", Version::V31).await;
    old.subscribe(vec![filter("t", QoS::AtLeastOnce)]).await;
    let mut new = Client::connected(&server, "new", Version::V5).await;
    new.publish(publish("t", "to 3.1", QoS::AtLeastOnce, 1))
        .await;
    let p = old.recv_publish().await;
    assert_eq!((&p.payload[..], p.qos), (&b"to 3.1"[..], QoS::AtLeastOnce));
    server.close().await;
}

#[tokio::test]
async fn server_skips_messages_larger_than_the_clients_maximum_packet_size() {
    let server = broker().await;
    let mut c = connect_packet("small", Version::V5);
    c.props = props(|p| p.maximum_packet_size = Some(100));
    let (mut small, _) = Client::open(&server, c).await;
    small.subscribe(vec![filter("t", QoS::AtLeastOnce)]).await;
    let mut publisher = Client::connected(&server, "pub", Version::V5).await;
    publisher
        .publish(publish("t", &"x".repeat(200), QoS::AtLeastOnce, 1))
        .await;
    publisher
        .publish(publish("t", "fits", QoS::AtLeastOnce, 2))
        .await;
    assert_eq!(&small.recv_publish().await.payload[..], b"fits");
    server.close().await;
}

#[tokio::test]
async fn server_reports_a_keepalive_timeout() {
    let (tx, mut rx) = tokio::sync::mpsc::channel(64);
    let server = start(config(), Some(tx)).await.expect("starts");
    let mut c = connect_packet("sleepy", Version::V311);
    c.keep_alive = 1;
    let (mut client, _) = Client::open(&server, c).await;
    client.closed().await;
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let event = tokio::time::timeout_at(deadline, rx.recv())
            .await
            .expect("a keepaliveTimeout event within 3 s")
            .expect("channel open");
        if let ServerEvent::KeepaliveTimeout(client) = event {
            assert_eq!(client.id, "sleepy");
            break;
        }
    }
    server.close().await;
}
