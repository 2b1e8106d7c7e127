use super::wire::{Reader, Sink};
use super::*;

const ALL: [Version; 3] = [Version::V31, Version::V311, Version::V5];
const MAX: usize = 1 << 20;

fn enc(packet: &Packet, version: Version) -> Vec<u8> {
    let mut out = BytesMut::new();
    encode(packet, version, &mut out).unwrap();
    out.to_vec()
}

fn dec(bytes: &[u8], version: Version) -> Result<Option<Packet>, CodecError> {
    let mut buf = BytesMut::from(bytes);
    let packet = decode(&mut buf, version, MAX)?;
    if packet.is_some() {
        assert!(buf.is_empty(), "bytes left after {packet:?}");
    }
    Ok(packet)
}

fn dec_one(bytes: &[u8], version: Version) -> Packet {
    dec(bytes, version).unwrap().expect("a whole packet")
}

#[track_caller]
fn malformed_in(bytes: &[u8], version: Version, packet: &str, reason: &str) {
    match dec(bytes, version) {
        Err(CodecError::Malformed {
            packet: p,
            reason: r,
        }) => {
            assert_eq!(p, packet, "{bytes:02X?}: {r}");
            assert!(
                r.contains(reason),
                "{bytes:02X?}: '{r}' should say '{reason}'"
            );
        }
        other => panic!("{bytes:02X?} should be a malformed {packet}, got {other:?}"),
    }
}

fn props(f: impl FnOnce(&mut Properties)) -> Props {
    let mut p = Properties::default();
    f(&mut p);
    Some(Box::new(p))
}

fn user(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn publish(qos: QoS, pkid: u16, topic: &str, payload: &'static [u8]) -> Publish {
    Publish {
        qos,
        pkid,
        ..Publish::new(topic, Bytes::from_static(payload))
    }
}

fn filter(f: &str, qos: QoS) -> SubscribeFilter {
    SubscribeFilter {
        filter: f.into(),
        qos,
        no_local: false,
        retain_as_published: false,
        retain_handling: 0,
    }
}

/// Packets as `version` can carry them: every type the version has, in several shapes.
fn samples(version: Version) -> Vec<Packet> {
    let v5 = version == Version::V5;
    let p5 = |p: Props| if v5 { p } else { None };
    let ack = |pkid, reason, p: Props| Ack {
        pkid,
        reason: if v5 { reason } else { 0 },
        props: p5(p),
    };
    let reason_string = || props(|p| p.reason_string = Some("why not".into()));
    let mut packets = vec![
        Packet::Connect(Connect {
            version,
            client_id: "client-1".into(),
            keep_alive: 60,
            clean_start: true,
            username: None,
            password: None,
            will: None,
            props: None,
        }),
        Packet::Connect(Connect {
            version,
            client_id: String::new(),
            keep_alive: 0,
            clean_start: false,
            username: Some("ü-user".into()),
            password: Some(Bytes::from_static(b"\x00\xffsecret")),
            will: Some(Will {
                topic: "clients/1/status".into(),
                payload: Bytes::from_static(b"offline"),
                qos: QoS::ExactlyOnce,
                retain: true,
                props: p5(props(|p| {
                    p.will_delay_interval = Some(30);
                    p.payload_format_indicator = Some(1);
                    p.message_expiry_interval = Some(3600);
                    p.content_type = Some("text/plain".into());
                    p.response_topic = Some("r/t".into());
                    p.correlation_data = Some(Bytes::from_static(b"\x01\x02"));
                    p.user_properties = user(&[("k", "v")]);
                })),
            }),
            props: p5(props(|p| {
                p.session_expiry_interval = Some(u32::MAX);
                p.receive_maximum = Some(100);
                p.maximum_packet_size = Some(1 << 20);
                p.topic_alias_maximum = Some(10);
                p.request_response_information = Some(1);
                p.request_problem_information = Some(0);
                p.authentication_method = Some("SCRAM-SHA-1".into());
                p.authentication_data = Some(Bytes::from_static(b"data"));
                p.user_properties = user(&[("a", "1"), ("a", "2"), ("b", "")]);
            })),
        }),
        Packet::Connect(Connect {
            version,
            client_id: "c".into(),
            keep_alive: 10,
            clean_start: true,
            username: Some(String::new()),
            password: Some(Bytes::new()),
            will: Some(Will {
                topic: "w".into(),
                payload: Bytes::new(),
                qos: QoS::AtMostOnce,
                retain: false,
                props: None,
            }),
            props: None,
        }),
        Packet::ConnAck(ConnAck {
            session_present: version != Version::V31,
            code: 0,
            props: None,
        }),
        Packet::ConnAck(ConnAck {
            session_present: false,
            code: if v5 { 0x86 } else { 5 },
            props: p5(props(|p| {
                p.session_expiry_interval = Some(0);
                p.assigned_client_identifier = Some("auto-1".into());
                p.server_keep_alive = Some(30);
                p.authentication_method = Some("m".into());
                p.authentication_data = Some(Bytes::from_static(b"d"));
                p.response_information = Some("resp/".into());
                p.server_reference = Some("other:1883".into());
                p.reason_string = Some("bad password".into());
                p.receive_maximum = Some(65_535);
                p.topic_alias_maximum = Some(0);
                p.maximum_qos = Some(1);
                p.retain_available = Some(0);
                p.maximum_packet_size = Some(u32::MAX);
                p.wildcard_subscription_available = Some(1);
                p.subscription_identifier_available = Some(0);
                p.shared_subscription_available = Some(1);
                p.user_properties = user(&[("x", "y")]);
            })),
        }),
        Packet::Publish(publish(QoS::AtMostOnce, 0, "a/b", b"hello")),
        Packet::Publish(Publish {
            dup: true,
            retain: true,
            ..publish(QoS::AtLeastOnce, 1, "sensors/ünï/temp", b"")
        }),
        Packet::Publish(Publish {
            props: p5(props(|p| {
                p.payload_format_indicator = Some(0);
                p.message_expiry_interval = Some(0);
                p.content_type = Some("application/json".into());
                p.response_topic = Some("reply/here".into());
                p.correlation_data = Some(Bytes::from_static(b"\x00corr"));
                p.subscription_identifiers = vec![1, 268_435_455, 128];
                p.topic_alias = Some(3);
                p.user_properties = user(&[("z", "1"), ("a", "2"), ("z", "3")]);
            })),
            ..publish(QoS::ExactlyOnce, 65_535, "x", b"\x00\x01\x02\xff")
        }),
        Packet::PubAck(ack(1, 0, None)),
        Packet::PubAck(ack(2, 0x10, None)),
        Packet::PubAck(ack(3, 0x97, reason_string())),
        Packet::PubRec(ack(4, 0, None)),
        Packet::PubRec(ack(5, 0x80, reason_string())),
        Packet::PubRel(ack(6, 0, None)),
        Packet::PubRel(ack(7, 0x92, None)),
        Packet::PubComp(ack(8, 0, None)),
        Packet::PubComp(ack(
            9,
            0,
            props(|p| p.user_properties = user(&[("k", "v")])),
        )),
        Packet::Subscribe(Subscribe {
            pkid: 10,
            filters: vec![filter("a/+/c", QoS::AtLeastOnce)],
            props: None,
        }),
        Packet::Subscribe(Subscribe {
            pkid: 11,
            filters: vec![
                filter("#", QoS::AtMostOnce),
                SubscribeFilter {
                    no_local: v5,
                    retain_as_published: v5,
                    retain_handling: if v5 { 2 } else { 0 },
                    ..filter("$share/g/x/#", QoS::ExactlyOnce)
                },
                SubscribeFilter {
                    retain_handling: if v5 { 1 } else { 0 },
                    ..filter("y", QoS::AtLeastOnce)
                },
            ],
            props: p5(props(|p| {
                p.subscription_identifiers = vec![42];
                p.user_properties = user(&[("k", "v")]);
            })),
        }),
        Packet::SubAck(SubAck {
            pkid: 10,
            codes: vec![1],
            props: None,
        }),
        Packet::SubAck(SubAck {
            pkid: 11,
            codes: if v5 {
                vec![0, 2, 1, 0x80, 0x87, 0xA2]
            } else {
                vec![0, 2, 1, 0x80]
            },
            props: p5(reason_string()),
        }),
        Packet::Unsubscribe(Unsubscribe {
            pkid: 12,
            filters: vec!["a/+/c".into(), "#".into()],
            props: p5(props(|p| p.user_properties = user(&[("k", "v")]))),
        }),
        Packet::UnsubAck(UnsubAck {
            pkid: 12,
            codes: if v5 { vec![0, 0x11] } else { vec![] },
            props: p5(reason_string()),
        }),
        Packet::PingReq,
        Packet::PingResp,
        Packet::Disconnect(Disconnect {
            reason: 0,
            props: None,
        }),
    ];
    if v5 {
        packets.extend([
            Packet::Disconnect(Disconnect {
                reason: 4,
                props: None,
            }),
            Packet::Disconnect(Disconnect {
                reason: 0x8E,
                props: props(|p| {
                    p.session_expiry_interval = Some(0);
                    p.server_reference = Some("elsewhere".into());
                    p.reason_string = Some("taken over".into());
                }),
            }),
            Packet::Auth(Auth {
                reason: 0,
                props: None,
            }),
            Packet::Auth(Auth {
                reason: 0x18,
                props: None,
            }),
            Packet::Auth(Auth {
                reason: 0x19,
                props: props(|p| {
                    p.authentication_method = Some("SCRAM-SHA-1".into());
                    p.authentication_data = Some(Bytes::from_static(b"\x00\x01"));
                    p.reason_string = Some("again".into());
                }),
            }),
        ]);
    }
    packets
}

#[test]
fn every_packet_round_trips_in_every_version() {
    let mut types = std::collections::HashSet::new();
    for version in ALL {
        for packet in samples(version) {
            let bytes = enc(&packet, version);
            assert_eq!(packet_size(&packet, version), Ok(bytes.len()));
            assert_eq!(dec_one(&bytes, version), packet, "{version:?} {bytes:02X?}");
            types.insert((version, packet.name()));
        }
    }
    assert_eq!(types.len(), 14 + 14 + 15, "every type in every version");
}

#[test]
fn packet_names() {
    assert_eq!(Packet::PingReq.name(), "PINGREQ");
    assert_eq!(Packet::PubRel(Ack::new(1)).name(), "PUBREL");
    assert_eq!(Packet::Publish(Publish::new("t", "p")).name(), "PUBLISH");
}

#[test]
fn versions_name_their_protocol() {
    for version in ALL {
        assert_eq!(
            Version::from_protocol(version.protocol_name(), version.level()),
            Some(version)
        );
    }
    assert_eq!(Version::from_protocol("MQTT", 3), None);
    assert_eq!(Version::from_protocol("MQIsdp", 4), None);
}

/// MQTT 3.1.1 section 3.1.2.10's variable header (flags 0xCE, keep alive 10) with a payload.
#[test]
fn mqtt311_connect_bytes() {
    let bytes = [
        0x10, 0x19, 0x00, 0x04, b'M', b'Q', b'T', b'T', 0x04, 0xCE, 0x00, 0x0A, // header
        0x00, 0x01, b'c', 0x00, 0x01, b'w', 0x00, 0x01, b'm', 0x00, 0x01, b'u', 0x00, 0x01, b'p',
    ];
    let connect = Packet::Connect(Connect {
        version: Version::V311,
        client_id: "c".into(),
        keep_alive: 10,
        clean_start: true,
        username: Some("u".into()),
        password: Some(Bytes::from_static(b"p")),
        will: Some(Will {
            topic: "w".into(),
            payload: Bytes::from_static(b"m"),
            qos: QoS::AtLeastOnce,
            retain: false,
            props: None,
        }),
        props: None,
    });
    assert_eq!(dec_one(&bytes, Version::V311), connect);
    assert_eq!(enc(&connect, Version::V311), bytes);
    // v5 properties of a 3.1.1 CONNECT are not written, whatever the connection's version.
    let Packet::Connect(mut with_props) = connect.clone() else {
        unreachable!()
    };
    with_props.props = props(|p| p.session_expiry_interval = Some(1));
    assert_eq!(enc(&Packet::Connect(with_props), Version::V5), bytes);
}

#[test]
fn mqtt31_connect_bytes() {
    let bytes = [
        0x10, 0x10, 0x00, 0x06, b'M', b'Q', b'I', b's', b'd', b'p', 0x03, 0x02, 0x00, 0x3C, 0x00,
        0x02, b'i', b'd',
    ];
    let connect = Packet::Connect(Connect {
        version: Version::V31,
        client_id: "id".into(),
        keep_alive: 60,
        clean_start: true,
        username: None,
        password: None,
        will: None,
        props: None,
    });
    assert_eq!(enc(&connect, Version::V31), bytes);
    // A CONNECT names its own level, whatever the connection expects.
    for version in ALL {
        assert_eq!(dec_one(&bytes, version), connect);
    }
}

#[test]
fn mqtt5_connect_bytes() {
    let bytes = [
        0x10, 0x2A, 0x00, 0x04, b'M', b'Q', b'T', b'T', 0x05, 0xEE, 0x00, 0x1E, // header
        0x08, 0x11, 0x00, 0x00, 0x00, 0x78, 0x21, 0x00, 0x14, // properties
        0x00, 0x01, b'c', // client id
        0x05, 0x18, 0x00, 0x00, 0x00, 0x05, // will properties
        0x00, 0x01, b'w', 0x00, 0x03, b'b', b'y', b'e', // will
        0x00, 0x01, b'u', 0x00, 0x01, b'p',
    ];
    let connect = Packet::Connect(Connect {
        version: Version::V5,
        client_id: "c".into(),
        keep_alive: 30,
        clean_start: true,
        username: Some("u".into()),
        password: Some(Bytes::from_static(b"p")),
        will: Some(Will {
            topic: "w".into(),
            payload: Bytes::from_static(b"bye"),
            qos: QoS::AtLeastOnce,
            retain: true,
            props: props(|p| p.will_delay_interval = Some(5)),
        }),
        props: props(|p| {
            p.session_expiry_interval = Some(120);
            p.receive_maximum = Some(20);
        }),
    });
    assert_eq!(enc(&connect, Version::V311), bytes);
    assert_eq!(dec_one(&bytes, Version::V311), connect);
}

#[test]
fn mqtt5_publish_with_properties_bytes() {
    let bytes = [
        0x32, 0x1F, 0x00, 0x03, b'a', b'/', b'b', 0x00, 0x0A, // topic, packet id
        0x15, 0x01, 0x01, 0x02, 0x00, 0x00, 0x00, 0x3C, 0x03, 0x00, 0x04, b't', b'e', b'x', b't',
        0x26, 0x00, 0x01, b'k', 0x00, 0x01, b'v', // properties
        b'h', b'i',
    ];
    let packet = Packet::Publish(Publish {
        props: props(|p| {
            p.payload_format_indicator = Some(1);
            p.message_expiry_interval = Some(60);
            p.content_type = Some("text".into());
            p.user_properties = user(&[("k", "v")]);
        }),
        ..publish(QoS::AtLeastOnce, 10, "a/b", b"hi")
    });
    assert_eq!(dec_one(&bytes, Version::V5), packet);
    assert_eq!(enc(&packet, Version::V5), bytes);
    // 3.1.1 writes no properties.
    let v311 = [
        0x32, 0x09, 0x00, 0x03, b'a', b'/', b'b', 0x00, 0x0A, b'h', b'i',
    ];
    assert_eq!(enc(&packet, Version::V311), v311);
    assert_eq!(enc(&packet, Version::V31), v311);
}

#[test]
fn small_packet_bytes() {
    let cases: Vec<(Version, Packet, &[u8])> = vec![
        (
            Version::V311,
            Packet::ConnAck(ConnAck {
                session_present: true,
                code: 0,
                props: None,
            }),
            &[0x20, 0x02, 0x01, 0x00],
        ),
        (
            Version::V31,
            Packet::ConnAck(ConnAck {
                session_present: false,
                code: 2,
                props: None,
            }),
            &[0x20, 0x02, 0x00, 0x02],
        ),
        (
            Version::V5,
            Packet::ConnAck(ConnAck {
                session_present: false,
                code: 0x84,
                props: None,
            }),
            &[0x20, 0x03, 0x00, 0x84, 0x00],
        ),
        (
            Version::V311,
            Packet::Publish(publish(QoS::AtMostOnce, 0, "t", b"x")),
            &[0x30, 0x04, 0x00, 0x01, b't', b'x'],
        ),
        (
            Version::V311,
            Packet::Publish(Publish {
                dup: true,
                retain: true,
                ..publish(QoS::ExactlyOnce, 0x1234, "t", b"")
            }),
            &[0x3D, 0x05, 0x00, 0x01, b't', 0x12, 0x34],
        ),
        (
            Version::V5,
            Packet::Publish(publish(QoS::AtMostOnce, 0, "t", b"")),
            &[0x30, 0x04, 0x00, 0x01, b't', 0x00],
        ),
        (
            Version::V311,
            Packet::PubRel(Ack::new(1)),
            &[0x62, 0x02, 0x00, 0x01],
        ),
        (
            Version::V5,
            Packet::PubAck(Ack::new(1)),
            &[0x40, 0x02, 0x00, 0x01],
        ),
        (
            Version::V5,
            Packet::PubRec(Ack {
                reason: 0x10,
                ..Ack::new(1)
            }),
            &[0x50, 0x03, 0x00, 0x01, 0x10],
        ),
        (
            Version::V5,
            Packet::PubComp(Ack {
                reason: 0x92,
                props: props(|p| p.reason_string = Some("r".into())),
                ..Ack::new(0x0102)
            }),
            &[0x70, 0x08, 0x01, 0x02, 0x92, 0x04, 0x1F, 0x00, 0x01, b'r'],
        ),
        (
            Version::V311,
            Packet::Subscribe(Subscribe {
                pkid: 1,
                filters: vec![filter("a/b", QoS::AtLeastOnce)],
                props: None,
            }),
            &[0x82, 0x08, 0x00, 0x01, 0x00, 0x03, b'a', b'/', b'b', 0x01],
        ),
        (
            Version::V5,
            Packet::Subscribe(Subscribe {
                pkid: 1,
                filters: vec![SubscribeFilter {
                    no_local: true,
                    retain_as_published: true,
                    retain_handling: 2,
                    ..filter("a", QoS::AtLeastOnce)
                }],
                props: props(|p| p.subscription_identifiers = vec![200]),
            }),
            &[
                0x82, 0x0A, 0x00, 0x01, 0x03, 0x0B, 0xC8, 0x01, 0x00, 0x01, b'a', 0x2D,
            ],
        ),
        (
            Version::V311,
            Packet::SubAck(SubAck {
                pkid: 1,
                codes: vec![0, 1, 2, 0x80],
                props: None,
            }),
            &[0x90, 0x06, 0x00, 0x01, 0x00, 0x01, 0x02, 0x80],
        ),
        (
            Version::V5,
            Packet::SubAck(SubAck {
                pkid: 1,
                codes: vec![0x87],
                props: None,
            }),
            &[0x90, 0x04, 0x00, 0x01, 0x00, 0x87],
        ),
        (
            Version::V311,
            Packet::Unsubscribe(Unsubscribe {
                pkid: 2,
                filters: vec!["a".into()],
                props: None,
            }),
            &[0xA2, 0x05, 0x00, 0x02, 0x00, 0x01, b'a'],
        ),
        (
            Version::V311,
            Packet::UnsubAck(UnsubAck {
                pkid: 5,
                codes: vec![],
                props: None,
            }),
            &[0xB0, 0x02, 0x00, 0x05],
        ),
        (
            Version::V5,
            Packet::UnsubAck(UnsubAck {
                pkid: 5,
                codes: vec![0x00, 0x11],
                props: None,
            }),
            &[0xB0, 0x05, 0x00, 0x05, 0x00, 0x00, 0x11],
        ),
        (Version::V311, Packet::PingReq, &[0xC0, 0x00]),
        (Version::V5, Packet::PingResp, &[0xD0, 0x00]),
        (
            Version::V311,
            Packet::Disconnect(Disconnect {
                reason: 0,
                props: None,
            }),
            &[0xE0, 0x00],
        ),
        (
            Version::V5,
            Packet::Disconnect(Disconnect {
                reason: 0,
                props: None,
            }),
            &[0xE0, 0x00],
        ),
        (
            Version::V5,
            Packet::Disconnect(Disconnect {
                reason: 4,
                props: None,
            }),
            &[0xE0, 0x01, 0x04],
        ),
        (
            Version::V5,
            Packet::Auth(Auth {
                reason: 0,
                props: None,
            }),
            &[0xF0, 0x00],
        ),
    ];
    for (version, packet, bytes) in cases {
        assert_eq!(enc(&packet, version), bytes, "{version:?} {packet:?}");
        assert_eq!(dec_one(bytes, version), packet, "{version:?} {bytes:02X?}");
    }
}

/// Forms a peer may send that we never write ourselves.
#[test]
fn longer_forms_decode_too() {
    let empty = props(|_| {});
    let cases: Vec<(Version, &[u8], Packet)> = vec![
        // Reason and an empty property list where the short form would do.
        (
            Version::V5,
            &[0x40, 0x04, 0x00, 0x01, 0x00, 0x00],
            Packet::PubAck(Ack::new(1)),
        ),
        (
            Version::V5,
            &[0xE0, 0x02, 0x00, 0x00],
            Packet::Disconnect(Disconnect {
                reason: 0,
                props: None,
            }),
        ),
        // A v5 CONNACK without its property length.
        (
            Version::V5,
            &[0x20, 0x02, 0x01, 0x00],
            Packet::ConnAck(ConnAck {
                session_present: true,
                code: 0,
                props: None,
            }),
        ),
        // A remaining length that is not in its shortest form.
        (Version::V311, &[0xC0, 0x80, 0x00], Packet::PingReq),
        // 3.1 sets DUP on a SUBSCRIBE it sends again; its CONNACK's first byte is unused.
        (
            Version::V31,
            &[0x8A, 0x06, 0x00, 0x01, 0x00, 0x01, b'a', 0x00],
            Packet::Subscribe(Subscribe {
                pkid: 1,
                filters: vec![filter("a", QoS::AtMostOnce)],
                props: None,
            }),
        ),
        (
            Version::V31,
            &[0x20, 0x02, 0xFF, 0x00],
            Packet::ConnAck(ConnAck {
                session_present: false,
                code: 0,
                props: None,
            }),
        ),
    ];
    for (version, bytes, packet) in cases {
        assert_eq!(dec_one(bytes, version), packet, "{bytes:02X?}");
    }
    // Empty properties are written as none.
    let packet = Packet::PubAck(Ack {
        props: empty,
        ..Ack::new(1)
    });
    assert_eq!(enc(&packet, Version::V5), [0x40, 0x02, 0x00, 0x01]);
    assert!(Properties::default().is_empty());
    assert!(!props(|p| p.topic_alias = Some(1)).unwrap().is_empty());
}

#[test]
fn mqtt3_writes_no_v5_reason_codes_or_properties() {
    let rs = || props(|p| p.reason_string = Some("r".into()));
    for version in [Version::V31, Version::V311] {
        let ack = Ack {
            pkid: 1,
            reason: 0x97,
            props: rs(),
        };
        assert_eq!(enc(&Packet::PubAck(ack), version), [0x40, 0x02, 0x00, 0x01]);
        let suback = SubAck {
            pkid: 1,
            codes: vec![0, 0x87, 0x80, 0x9E, 2, 3],
            props: rs(),
        };
        assert_eq!(
            enc(&Packet::SubAck(suback), version),
            [0x90, 0x08, 0x00, 0x01, 0x00, 0x80, 0x80, 0x80, 0x02, 0x80]
        );
        let unsuback = UnsubAck {
            pkid: 1,
            codes: vec![0x11],
            props: rs(),
        };
        assert_eq!(
            enc(&Packet::UnsubAck(unsuback), version),
            [0xB0, 0x02, 0x00, 0x01]
        );
        let disconnect = Disconnect {
            reason: 4,
            props: rs(),
        };
        assert_eq!(enc(&Packet::Disconnect(disconnect), version), [0xE0, 0x00]);
        let sub = Subscribe {
            pkid: 1,
            filters: vec![SubscribeFilter {
                no_local: true,
                retain_as_published: true,
                retain_handling: 2,
                ..filter("a", QoS::ExactlyOnce)
            }],
            props: props(|p| p.subscription_identifiers = vec![1]),
        };
        assert_eq!(
            enc(&Packet::Subscribe(sub), version),
            [0x82, 0x06, 0x00, 0x01, 0x00, 0x01, b'a', 0x02]
        );
    }
}

#[test]
fn remaining_length_varint() {
    for (value, bytes) in [
        (0, &[0x00][..]),
        (127, &[0x7F]),
        (128, &[0x80, 0x01]),
        (321, &[0xC1, 0x02]),
        (16_383, &[0xFF, 0x7F]),
        (16_384, &[0x80, 0x80, 0x01]),
        (2_097_151, &[0xFF, 0xFF, 0x7F]),
        (2_097_152, &[0x80, 0x80, 0x80, 0x01]),
        (268_435_455, &[0xFF, 0xFF, 0xFF, 0x7F]),
    ] {
        let mut out = BytesMut::new();
        out.varint(value);
        assert_eq!(&out[..], bytes, "{value}");
        assert_eq!(wire::varint_len(value), bytes.len());
        let data = Bytes::copy_from_slice(bytes);
        assert_eq!(Reader::new(&data, 0, "test").varint("v"), Ok(value));
    }
    // A 321-byte remaining length in a real packet (the spec's example value).
    let payload = vec![7u8; 321 - 3];
    let packet = Packet::Publish(Publish::new("t", payload));
    let bytes = enc(&packet, Version::V311);
    assert_eq!(&bytes[..3], [0x30, 0xC1, 0x02]);
    assert_eq!(bytes.len(), 3 + 321);
    assert_eq!(dec_one(&bytes, Version::V311), packet);
}

#[test]
fn partial_packets_wait_and_leave_the_buffer_alone() {
    for version in ALL {
        for packet in samples(version) {
            let bytes = enc(&packet, version);
            for len in 0..bytes.len() {
                let mut buf = BytesMut::from(&bytes[..len]);
                assert_eq!(
                    decode(&mut buf, version, MAX),
                    Ok(None),
                    "{bytes:02X?}[..{len}]"
                );
                assert_eq!(&buf[..], &bytes[..len]);
            }
        }
    }
}

#[test]
fn several_packets_in_one_buffer_decode_one_by_one() {
    for version in ALL {
        let packets = samples(version);
        let mut buf = BytesMut::new();
        for p in &packets {
            encode(p, version, &mut buf).unwrap();
        }
        let next = enc(&Packet::Publish(Publish::new("next", "x")), version);
        buf.extend_from_slice(&next[..4]);
        for p in &packets {
            assert_eq!(decode(&mut buf, version, MAX).unwrap().as_ref(), Some(p));
        }
        assert_eq!(decode(&mut buf, version, MAX), Ok(None));
        assert_eq!(&buf[..], &next[..4]);
        buf.extend_from_slice(&next[4..]);
        assert_eq!(
            decode(&mut buf, version, MAX),
            Ok(Some(Packet::Publish(Publish::new("next", "x"))))
        );
        assert!(buf.is_empty());
    }
}

#[test]
fn payloads_are_slices_of_the_read_buffer() {
    for version in ALL {
        let mut buf = BytesMut::new();
        for p in samples(version) {
            encode(&p, version, &mut buf).unwrap();
        }
        // Decoding splits `buf` without moving it: every part must lie in this memory.
        let memory = buf.as_ptr_range();
        let mut checked = 0;
        while let Some(p) = decode(&mut buf, version, MAX).unwrap() {
            let mut parts: Vec<&Bytes> = Vec::new();
            match &p {
                Packet::Publish(p) => {
                    parts.push(&p.payload);
                    parts.extend(p.props.iter().flat_map(|p| &p.correlation_data));
                }
                Packet::Connect(c) => {
                    parts.extend(&c.password);
                    parts.extend(c.will.iter().map(|w| &w.payload));
                    parts.extend(c.props.iter().flat_map(|p| &p.authentication_data));
                }
                _ => {}
            }
            for part in parts.into_iter().filter(|part| !part.is_empty()) {
                let range = part.as_ptr_range();
                assert!(
                    memory.start <= range.start && range.end <= memory.end,
                    "{p:?}"
                );
                checked += 1;
            }
        }
        assert!(checked >= 4, "{version:?}: {checked}");
    }
}

#[test]
fn a_packet_over_the_maximum_fails_from_its_fixed_header() {
    let packet = Packet::Publish(Publish::new("t", vec![0u8; 200]));
    let bytes = enc(&packet, Version::V311);
    assert_eq!(bytes.len(), 206);
    // Only the fixed header has arrived.
    let mut buf = BytesMut::from(&bytes[..3]);
    assert_eq!(
        decode(&mut buf, Version::V311, 205),
        Err(CodecError::TooLarge {
            size: 206,
            max: 205
        })
    );
    let mut buf = BytesMut::from(&bytes[..3]);
    assert_eq!(decode(&mut buf, Version::V311, 206), Ok(None));
    buf.extend_from_slice(&bytes[3..]);
    assert_eq!(decode(&mut buf, Version::V311, 206), Ok(Some(packet)));
    // CONNECT too.
    let connect = enc(&samples(Version::V5)[1], Version::V5);
    assert!(connect.len() > 130, "a two-byte remaining length");
    let mut buf = BytesMut::from(&connect[..3]);
    assert!(matches!(
        decode(&mut buf, Version::V5, 10),
        Err(CodecError::TooLarge { max: 10, .. })
    ));
}

#[test]
fn bad_fixed_headers() {
    let v311 = Version::V311;
    assert_eq!(dec(&[0x00, 0x00], v311), Err(CodecError::InvalidType(0)));
    assert_eq!(dec(&[0x00], v311), Err(CodecError::InvalidType(0)));
    assert_eq!(dec(&[0xF0, 0x00], v311), Err(CodecError::InvalidType(15)));
    assert_eq!(
        dec(&[0xF0, 0x00], Version::V31),
        Err(CodecError::InvalidType(15))
    );
    // PUBREL, SUBSCRIBE and UNSUBSCRIBE need 0b0010, everything else but PUBLISH 0.
    for version in ALL {
        for (first, name) in [
            (0x60, "PUBREL"),
            (0x63, "PUBREL"),
            (0x80, "SUBSCRIBE"),
            (0x86, "SUBSCRIBE"),
            (0xA0, "UNSUBSCRIBE"),
            (0xA3, "UNSUBSCRIBE"),
            (0x11, "CONNECT"),
            (0x28, "CONNACK"),
            (0x41, "PUBACK"),
            (0x52, "PUBREC"),
            (0x74, "PUBCOMP"),
            (0x92, "SUBACK"),
            (0xB8, "UNSUBACK"),
            (0xC2, "PINGREQ"),
            (0xD1, "PINGRESP"),
            (0xE2, "DISCONNECT"),
        ] {
            // The flags are refused before the rest of the packet has arrived.
            malformed_in(&[first], version, name, "fixed header flags");
        }
    }
    malformed_in(&[0x8A, 0x00], v311, "SUBSCRIBE", "fixed header flags");
    malformed_in(&[0xF1, 0x00], Version::V5, "AUTH", "fixed header flags");
    malformed_in(&[0x36, 0x00], v311, "PUBLISH", "QoS 3");
    malformed_in(&[0x3E], Version::V5, "PUBLISH", "QoS 3");
}

#[test]
fn a_remaining_length_of_five_bytes_is_malformed() {
    malformed_in(
        &[0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x01],
        Version::V311,
        "PUBLISH",
        "4 bytes",
    );
    malformed_in(
        &[0x30, 0x80, 0x80, 0x80, 0x80],
        Version::V311,
        "PUBLISH",
        "4 bytes",
    );
    assert_eq!(dec(&[0x30, 0x80, 0x80, 0x80], Version::V311), Ok(None));
}

#[test]
fn malformed_publish() {
    let v = Version::V311;
    malformed_in(
        &[0x30, 0x03, 0x00, 0x05, b'a'],
        v,
        "PUBLISH",
        "inside the topic name",
    );
    malformed_in(&[0x30, 0x01, 0x00], v, "PUBLISH", "inside the topic name");
    malformed_in(&[0x30, 0x00], v, "PUBLISH", "inside the topic name");
    malformed_in(
        &[0x30, 0x04, 0x00, 0x02, 0xC3, 0x28],
        v,
        "PUBLISH",
        "not valid UTF-8",
    );
    // A UTF-16 surrogate written as UTF-8 is not UTF-8 either.
    malformed_in(
        &[0x30, 0x05, 0x00, 0x03, 0xED, 0xA0, 0x80],
        v,
        "PUBLISH",
        "UTF-8",
    );
    malformed_in(
        &[0x30, 0x04, 0x00, 0x02, b'a', 0x00],
        v,
        "PUBLISH",
        "U+0000",
    );
    malformed_in(
        &[0x32, 0x05, 0x00, 0x01, b'a', 0x00, 0x00],
        v,
        "PUBLISH",
        "identifier 0",
    );
    malformed_in(
        &[0x34, 0x04, 0x00, 0x01, b'a', 0x00],
        v,
        "PUBLISH",
        "packet identifier",
    );
    let v5 = Version::V5;
    malformed_in(
        &[0x30, 0x03, 0x00, 0x01, b'a'],
        v5,
        "PUBLISH",
        "property length",
    );
    malformed_in(
        &[0x30, 0x05, 0x00, 0x01, b'a', 0x05, 0x01],
        v5,
        "PUBLISH",
        "properties",
    );
}

#[test]
fn malformed_acks_and_control_packets() {
    for version in ALL {
        malformed_in(&[0x40, 0x02, 0x00, 0x00], version, "PUBACK", "identifier 0");
        malformed_in(&[0x62, 0x01, 0x00], version, "PUBREL", "packet identifier");
        malformed_in(&[0xC0, 0x01, 0x00], version, "PINGREQ", "1 unexpected byte");
        malformed_in(&[0xD0, 0x02, 0x00, 0x00], version, "PINGRESP", "unexpected");
        malformed_in(&[0x20, 0x01, 0x00], version, "CONNACK", "return code");
    }
    for version in [Version::V31, Version::V311] {
        malformed_in(
            &[0x90, 0x02, 0x00, 0x01],
            version,
            "SUBACK",
            "no return code",
        );
        malformed_in(
            &[0x90, 0x03, 0x00, 0x01, 0x03],
            version,
            "SUBACK",
            "return code 3",
        );
        malformed_in(
            &[0x90, 0x03, 0x00, 0x01, 0x87],
            version,
            "SUBACK",
            "return code 135",
        );
        malformed_in(
            &[0x40, 0x03, 0x00, 0x01, 0x00],
            version,
            "PUBACK",
            "unexpected",
        );
        malformed_in(
            &[0xB0, 0x03, 0x00, 0x01, 0x00],
            version,
            "UNSUBACK",
            "unexpected",
        );
        malformed_in(&[0xE0, 0x01, 0x00], version, "DISCONNECT", "unexpected");
        malformed_in(
            &[0x20, 0x03, 0x00, 0x00, 0x00],
            version,
            "CONNACK",
            "unexpected",
        );
    }
    malformed_in(
        &[0x20, 0x02, 0x02, 0x00],
        Version::V311,
        "CONNACK",
        "reserved",
    );
    malformed_in(
        &[0xB0, 0x03, 0x00, 0x01, 0x00],
        Version::V5,
        "UNSUBACK",
        "no reason code",
    );
    malformed_in(
        &[0x90, 0x03, 0x00, 0x01, 0x00],
        Version::V5,
        "SUBACK",
        "no reason code",
    );
}

#[test]
fn malformed_subscribe_and_unsubscribe() {
    let v = Version::V311;
    malformed_in(&[0x82, 0x02, 0x00, 0x01], v, "SUBSCRIBE", "no topic filter");
    malformed_in(
        &[0x82, 0x05, 0x00, 0x01, 0x00, 0x01, b'a'],
        v,
        "SUBSCRIBE",
        "options",
    );
    malformed_in(
        &[0x82, 0x06, 0x00, 0x01, 0x00, 0x01, b'a', 0x03],
        v,
        "SUBSCRIBE",
        "QoS 3",
    );
    // v3 has only QoS in the options byte.
    malformed_in(
        &[0x82, 0x06, 0x00, 0x01, 0x00, 0x01, b'a', 0x04],
        v,
        "SUBSCRIBE",
        "reserved",
    );
    let v5 = Version::V5;
    let sub5 = |options| [0x82, 0x07, 0x00, 0x01, 0x00, 0x00, 0x01, b'a', options];
    malformed_in(&sub5(0x40), v5, "SUBSCRIBE", "reserved");
    malformed_in(&sub5(0x80), v5, "SUBSCRIBE", "reserved");
    malformed_in(&sub5(0x30), v5, "SUBSCRIBE", "retain handling 3");
    malformed_in(&sub5(0x03), v5, "SUBSCRIBE", "QoS 3");
    assert!(matches!(
        dec(&sub5(0x2E), v5),
        Ok(Some(Packet::Subscribe(_)))
    ));
    malformed_in(
        &[0x82, 0x03, 0x00, 0x00, 0x00],
        v5,
        "SUBSCRIBE",
        "identifier 0",
    );
    malformed_in(
        &[0xA2, 0x02, 0x00, 0x01],
        v,
        "UNSUBSCRIBE",
        "no topic filter",
    );
    malformed_in(
        &[0xA2, 0x03, 0x00, 0x01, 0x00],
        v5,
        "UNSUBSCRIBE",
        "no topic filter",
    );
    malformed_in(
        &[0xA2, 0x04, 0x00, 0x01, 0x00, 0x01],
        v,
        "UNSUBSCRIBE",
        "topic filter",
    );
}

/// A v5 SUBSCRIBE with the given property bytes and one filter "a" at QoS 0.
fn subscribe5(props: &[u8]) -> Vec<u8> {
    let mut body = vec![0x00, 0x01, props.len() as u8];
    body.extend_from_slice(props);
    body.extend_from_slice(&[0x00, 0x01, b'a', 0x00]);
    let mut bytes = vec![0x82, body.len() as u8];
    bytes.extend(body);
    bytes
}

/// A v5 PUBLISH to "a" at QoS 0 with the given property bytes.
fn publish5(props: &[u8]) -> Vec<u8> {
    let mut bytes = vec![
        0x30,
        (4 + props.len()) as u8,
        0x00,
        0x01,
        b'a',
        props.len() as u8,
    ];
    bytes.extend_from_slice(props);
    bytes
}

#[test]
fn malformed_properties() {
    let v5 = Version::V5;
    let p = "PUBLISH";
    malformed_in(
        &publish5(&[0x7F, 0x00]),
        v5,
        p,
        "unknown property identifier 0x7F",
    );
    malformed_in(
        &publish5(&[0x80, 0x01]),
        v5,
        p,
        "unknown property identifier 0x80",
    );
    malformed_in(
        &publish5(&[0x11, 0, 0, 0, 1]),
        v5,
        p,
        "Session Expiry Interval (0x11)",
    );
    malformed_in(
        &publish5(&[0x01, 0x00, 0x01, 0x01]),
        v5,
        p,
        "Payload Format Indicator appears twice",
    );
    malformed_in(&publish5(&[0x01, 0x02]), v5, p, "it can only be 0 or 1");
    malformed_in(&publish5(&[0x23, 0x00, 0x00]), v5, p, "Topic Alias is 0");
    malformed_in(
        &publish5(&[0x0B, 0x00]),
        v5,
        p,
        "Subscription Identifier is 0",
    );
    malformed_in(
        &publish5(&[0x0B, 0x80, 0x80, 0x80, 0x80]),
        v5,
        p,
        "longer than 4 bytes",
    );
    malformed_in(
        &publish5(&[0x03, 0x00, 0x05, b'a']),
        v5,
        p,
        "inside the Content Type",
    );
    malformed_in(
        &publish5(&[0x03, 0x00, 0x01, 0xFF]),
        v5,
        p,
        "Content Type is not valid UTF-8",
    );
    malformed_in(
        &publish5(&[0x26, 0x00, 0x01, b'k']),
        v5,
        p,
        "User Property value",
    );
    malformed_in(
        &publish5(&[0x02, 0x00, 0x00]),
        v5,
        p,
        "inside the Message Expiry Interval",
    );
    let s = "SUBSCRIBE";
    malformed_in(
        &subscribe5(&[0x0B, 0x01, 0x0B, 0x02]),
        v5,
        s,
        "Subscription Identifier appears twice",
    );
    malformed_in(
        &subscribe5(&[0x23, 0x00, 0x01]),
        v5,
        s,
        "Topic Alias (0x23) is not allowed",
    );
    assert!(matches!(dec(&subscribe5(&[0x0B, 0x01]), v5), Ok(Some(_))));
    // Property length past the end of the packet.
    malformed_in(
        &[0x40, 0x05, 0x00, 0x01, 0x00, 0x05, 0x1F],
        v5,
        "PUBACK",
        "inside the properties",
    );
    // Properties each packet may not carry.
    malformed_in(
        &[0x40, 0x06, 0x00, 0x01, 0x00, 0x02, 0x23, 0x01],
        v5,
        "PUBACK",
        "not allowed",
    );
    malformed_in(
        &[0x20, 0x05, 0x00, 0x00, 0x02, 0x17, 0x01],
        v5,
        "CONNACK",
        "Request Problem",
    );
    malformed_in(
        &[0x20, 0x06, 0x00, 0x00, 0x03, 0x21, 0x00, 0x00],
        v5,
        "CONNACK",
        "Receive Maximum is 0",
    );
    malformed_in(
        &[0x20, 0x08, 0x00, 0x00, 0x05, 0x27, 0x00, 0x00, 0x00, 0x00],
        v5,
        "CONNACK",
        "Maximum Packet Size is 0",
    );
    malformed_in(
        &[0x20, 0x05, 0x00, 0x00, 0x02, 0x24, 0x02],
        v5,
        "CONNACK",
        "Maximum QoS is 2",
    );
    malformed_in(
        &[0xE0, 0x04, 0x00, 0x02, 0x15, 0x00],
        v5,
        "DISCONNECT",
        "Authentication Method",
    );
    malformed_in(
        &[0xF0, 0x04, 0x00, 0x02, 0x11, 0x00],
        v5,
        "AUTH",
        "Session Expiry",
    );
}

/// A CONNECT with the given protocol name and level, flags, keep alive 0 and client id "c".
fn connect_bytes(name: &[u8], level: u8, flags: u8, tail: &[u8]) -> Vec<u8> {
    let mut body = vec![0x00, name.len() as u8];
    body.extend_from_slice(name);
    body.extend_from_slice(&[level, flags, 0x00, 0x00]);
    if level == 5 {
        body.push(0x00);
    }
    body.extend_from_slice(&[0x00, 0x01, b'c']);
    body.extend_from_slice(tail);
    let mut bytes = vec![0x10, body.len() as u8];
    bytes.extend(body);
    bytes
}

#[test]
fn connect_names_its_protocol() {
    for (name, level) in [
        (&b"MQTT"[..], 3),
        (b"MQTT", 6),
        (b"MQIsdp", 4),
        (b"HTTP", 4),
        (b"", 4),
    ] {
        assert_eq!(
            dec(&connect_bytes(name, level, 0x02, &[]), Version::V311),
            Err(CodecError::UnsupportedProtocol {
                name: String::from_utf8(name.to_vec()).unwrap(),
                level
            })
        );
    }
    malformed_in(
        &[0x10, 0x02, 0x00, 0x04],
        Version::V5,
        "CONNECT",
        "protocol name",
    );
    malformed_in(
        &[0x10, 0x04, 0x00, 0x02, 0xFF, 0xFE],
        Version::V5,
        "CONNECT",
        "UTF-8",
    );
    for (version, name, level) in [
        (Version::V31, &b"MQIsdp"[..], 3),
        (Version::V311, b"MQTT", 4),
        (Version::V5, b"MQTT", 5),
    ] {
        let Packet::Connect(c) = dec_one(&connect_bytes(name, level, 0x00, &[]), Version::V5)
        else {
            panic!("not a CONNECT")
        };
        assert_eq!(c.version, version);
        assert!(!c.clean_start);
    }
}

#[test]
fn malformed_connect() {
    let v = Version::V311;
    let c = "CONNECT";
    malformed_in(
        &connect_bytes(b"MQTT", 4, 0x03, &[]),
        v,
        c,
        "reserved connect flag",
    );
    malformed_in(
        &connect_bytes(b"MQTT", 4, 0x08, &[]),
        v,
        c,
        "without a will",
    );
    malformed_in(
        &connect_bytes(b"MQTT", 4, 0x20, &[]),
        v,
        c,
        "without a will",
    );
    let will = [0x00, 0x01, b'w', 0x00, 0x00];
    malformed_in(&connect_bytes(b"MQTT", 4, 0x1C, &will), v, c, "QoS 3");
    assert!(matches!(
        dec(&connect_bytes(b"MQTT", 4, 0x14, &will), v),
        Ok(Some(_))
    ));
    malformed_in(
        &connect_bytes(b"MQTT", 4, 0x04, &will[..3]),
        v,
        c,
        "will payload",
    );
    malformed_in(&connect_bytes(b"MQTT", 4, 0x04, &[]), v, c, "will topic");
    malformed_in(&connect_bytes(b"MQTT", 4, 0x80, &[]), v, c, "user name");
    malformed_in(
        &connect_bytes(b"MQTT", 4, 0x80, &[0x00, 0x01, 0x00]),
        v,
        c,
        "U+0000",
    );
    malformed_in(
        &connect_bytes(b"MQTT", 4, 0xC0, &[0x00, 0x00]),
        v,
        c,
        "password",
    );
    let password = [0x00, 0x01, b'p'];
    malformed_in(
        &connect_bytes(b"MQTT", 4, 0x40, &password),
        v,
        c,
        "without a user name",
    );
    malformed_in(
        &connect_bytes(b"MQIsdp", 3, 0x40, &password),
        v,
        c,
        "without a user name",
    );
    malformed_in(
        &connect_bytes(b"MQTT", 4, 0x00, &password),
        v,
        c,
        "3 unexpected bytes",
    );
    // MQTT 5 allows a password alone.
    let Packet::Connect(connect) = dec_one(&connect_bytes(b"MQTT", 5, 0x40, &password), v) else {
        panic!("not a CONNECT")
    };
    assert_eq!(connect.password.as_deref(), Some(&b"p"[..]));
    assert_eq!(connect.username, None);
    // Will properties may not be CONNECT properties.
    let will5 = [0x02, 0x11, 0x00];
    malformed_in(
        &connect_bytes(b"MQTT", 5, 0x04, &will5),
        v,
        c,
        "Session Expiry",
    );
}

#[test]
fn encoding_refuses_what_cannot_be_sent_and_appends_nothing() {
    let long = "x".repeat(65_536);
    let cases: Vec<(Version, Packet, &str)> = vec![
        (
            Version::V311,
            Packet::Publish(Publish::new(long.clone(), "")),
            "65535",
        ),
        (
            Version::V311,
            Packet::Publish(Publish::new("a\0b", "")),
            "U+0000",
        ),
        (
            Version::V311,
            Packet::Publish(publish(QoS::AtLeastOnce, 0, "t", b"")),
            "identifier 0",
        ),
        (Version::V5, Packet::PubAck(Ack::new(0)), "identifier 0"),
        (
            Version::V311,
            Packet::Subscribe(Subscribe {
                pkid: 1,
                filters: vec![],
                props: None,
            }),
            "no topic filter",
        ),
        (
            Version::V5,
            Packet::Subscribe(Subscribe {
                pkid: 1,
                filters: vec![SubscribeFilter {
                    retain_handling: 3,
                    ..filter("a", QoS::AtMostOnce)
                }],
                props: None,
            }),
            "retain handling 3",
        ),
        (
            Version::V311,
            Packet::Unsubscribe(Unsubscribe {
                pkid: 1,
                filters: vec![],
                props: None,
            }),
            "no topic filter",
        ),
        (
            Version::V311,
            Packet::SubAck(SubAck {
                pkid: 1,
                codes: vec![],
                props: None,
            }),
            "no return code",
        ),
        (
            Version::V5,
            Packet::UnsubAck(UnsubAck {
                pkid: 1,
                codes: vec![],
                props: None,
            }),
            "no reason code",
        ),
        (
            Version::V311,
            Packet::Auth(Auth {
                reason: 0,
                props: None,
            }),
            "only in MQTT 5",
        ),
        (
            Version::V5,
            Packet::Publish(Publish {
                props: props(|p| p.subscription_identifiers = vec![0]),
                ..Publish::new("t", "")
            }),
            "subscription identifier 0",
        ),
        (
            Version::V5,
            Packet::Publish(Publish {
                props: props(|p| p.user_properties = user(&[("k", &long)])),
                ..Publish::new("t", "")
            }),
            "User Property value",
        ),
        (
            Version::V311,
            Packet::Connect(Connect {
                version: Version::V311,
                client_id: "c".into(),
                keep_alive: 0,
                clean_start: true,
                username: None,
                password: Some(Bytes::from_static(b"p")),
                will: None,
                props: None,
            }),
            "without a user name",
        ),
    ];
    for (version, packet, reason) in cases {
        let mut out = BytesMut::from(&b"before"[..]);
        match encode(&packet, version, &mut out) {
            Err(CodecError::Malformed {
                packet: name,
                reason: r,
            }) => {
                assert_eq!(name, packet.name());
                assert!(r.contains(reason), "'{r}' should say '{reason}'");
            }
            other => panic!("{packet:?} should not encode, got {other:?}"),
        }
        assert_eq!(&out[..], b"before");
        assert!(packet_size(&packet, version).is_err());
    }
}

#[test]
fn a_packet_too_large_for_mqtt_does_not_encode() {
    let packet = Packet::Publish(Publish::new("t", vec![0u8; 268_435_455 - 3 + 1]));
    let mut out = BytesMut::new();
    assert_eq!(
        encode(&packet, Version::V311, &mut out),
        Err(CodecError::TooLarge {
            size: 268_435_461,
            max: 268_435_460
        })
    );
    assert!(out.is_empty());
}

#[test]
fn user_properties_keep_their_order_and_repeats() {
    let pairs = user(&[("b", "1"), ("a", "2"), ("b", "3"), ("b", "1")]);
    let packet = Packet::Publish(Publish {
        props: props(|p| {
            p.user_properties = pairs.clone();
            p.subscription_identifiers = vec![7, 3, 7];
        }),
        ..Publish::new("t", "")
    });
    let Packet::Publish(back) = dec_one(&enc(&packet, Version::V5), Version::V5) else {
        panic!("not a PUBLISH")
    };
    let props = back.props.unwrap();
    assert_eq!(props.user_properties, pairs);
    assert_eq!(props.subscription_identifiers, [7, 3, 7]);
}

/// A tiny deterministic generator for the fuzz test.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Decodes everything in `bytes`; whatever decodes re-encodes to bytes that decode to the
/// same packet. Returns how many packets decoded.
fn decode_all(bytes: &[u8], version: Version) -> usize {
    let mut buf = BytesMut::from(bytes);
    let mut decoded = 0;
    while let Ok(Some(packet)) = decode(&mut buf, version, 4096) {
        decoded += 1;
        // A CONNECT is written in its own version.
        let version = match &packet {
            Packet::Connect(c) => c.version,
            _ => version,
        };
        let again = enc(&packet, version);
        assert_eq!(dec_one(&again, version), packet, "{bytes:02X?}");
    }
    decoded
}

#[test]
fn fuzz_prefixes_and_mutations_never_panic() {
    let mut rng = XorShift(0x2545_F491_4F6C_DD1D);
    let mut mutants_decoded = 0;
    for version in ALL {
        for packet in samples(version) {
            let bytes = enc(&packet, version);
            for len in 0..=bytes.len() {
                decode_all(&bytes[..len], version);
            }
            for _ in 0..1000 {
                let mut mutated = bytes.clone();
                for _ in 0..1 + rng.below(3) {
                    let at = rng.below(mutated.len());
                    match rng.below(4) {
                        0 => mutated[at] ^= 1 << rng.below(8),
                        1 => mutated[at] = rng.next() as u8,
                        2 => mutated.truncate(at.max(1)),
                        _ => mutated.insert(at, rng.next() as u8),
                    }
                }
                mutants_decoded += decode_all(&mutated, version);
            }
        }
        for _ in 0..2000 {
            let garbage: Vec<u8> = (0..rng.below(40)).map(|_| rng.next() as u8).collect();
            decode_all(&garbage, version);
        }
    }
    // Enough mutants are still packets for the re-encoding check to mean something.
    assert!(mutants_decoded > 5000, "{mutants_decoded}");
}
