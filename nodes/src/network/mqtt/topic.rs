//! MQTT topic names and topic filters, for the client (`mqtt in`/`mqtt out`) and the embedded
//! broker alike.
//!
//! * [`validate_topic_name`]: Node-RED's rule for a topic to publish to (`isValidPublishTopic`
//!   in 10-mqtt.js), which is a little stricter than MQTT's;
//! * [`validate_filter`]: MQTT's rules for a subscription's filter, `$share/<group>/<filter>`
//!   included;
//! * [`shared`] splits a shared subscription into group and filter;
//! * [`matches`] tells whether a filter matches a topic name.

/// The longest string MQTT can carry (a two-byte length).
const MAX_LEN: usize = u16::MAX as usize;

const SHARE_PREFIX: &str = "$share/";

/// Why a topic or filter cannot be used. The messages are for users.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TopicError {
    #[error("topic is empty")]
    Empty,
    #[error(
        "topic '{topic}' contains the wildcard '{wildcard}': a publish topic must name one topic"
    )]
    Wildcard { topic: String, wildcard: char },
    #[error(
        "topic '{}' contains the control character '{}', which a publish topic must not contain",
        .topic.escape_debug(),
        .character.escape_debug()
    )]
    ControlCharacter { topic: String, character: char },
    #[error("topic filter is empty")]
    EmptyFilter,
    #[error("topic filter '{}' contains the NUL character", .filter.escape_debug())]
    NulInFilter { filter: String },
    #[error("{what} is {len} bytes long; MQTT allows at most 65535")]
    TooLong { what: &'static str, len: usize },
    #[error(
        "topic filter '{filter}' has '#' before its last level: '#' must be the whole last \
         level, as in 'a/#'"
    )]
    HashNotLast { filter: String },
    #[error(
        "topic filter '{filter}' has '{wildcard}' inside a level: a wildcard must be a whole \
         level, as in 'a/+/c' or 'a/#'"
    )]
    WildcardInsideLevel { filter: String, wildcard: char },
    #[error(
        "shared subscription '{filter}' has an empty group name: write '$share/<group>/<filter>'"
    )]
    EmptyShareGroup { filter: String },
    #[error(
        "shared subscription '{filter}' has a wildcard in its group name '{group}': the group \
         must be a plain name"
    )]
    WildcardInShareGroup { filter: String, group: String },
    #[error(
        "shared subscription '{filter}' has no topic filter after the group: write \
         '$share/<group>/<filter>'"
    )]
    NoShareFilter { filter: String },
}

/// Checks a topic to publish to: non-empty, without the wildcards `+` `#` and without the
/// control characters Node-RED rejects (`\b \f \n \r \t \v \0`).
pub fn validate_topic_name(topic: &str) -> Result<(), TopicError> {
    if topic.is_empty() {
        return Err(TopicError::Empty);
    }
    if topic.len() > MAX_LEN {
        return Err(TopicError::TooLong {
            what: "topic",
            len: topic.len(),
        });
    }
    // All of them are ASCII, so a byte search cannot hit inside a multi-byte character.
    let bad = topic
        .bytes()
        .find(|b| matches!(b, b'+' | b'#' | b'\0' | b'\x08'..=b'\x0D'));
    match bad {
        None => Ok(()),
        Some(wildcard @ (b'+' | b'#')) => Err(TopicError::Wildcard {
            topic: topic.to_owned(),
            wildcard: char::from(wildcard),
        }),
        Some(control) => Err(TopicError::ControlCharacter {
            topic: topic.to_owned(),
            character: char::from(control),
        }),
    }
}

/// Checks a subscription's topic filter: non-empty, no NUL, `#` only as the whole last level,
/// `+` only as a whole level; `$share/<group>/<filter>` needs a group without wildcards and a
/// valid filter.
pub fn validate_filter(filter: &str) -> Result<(), TopicError> {
    if filter.is_empty() {
        return Err(TopicError::EmptyFilter);
    }
    if filter.len() > MAX_LEN {
        return Err(TopicError::TooLong {
            what: "topic filter",
            len: filter.len(),
        });
    }
    if filter.contains('\0') {
        return Err(TopicError::NulInFilter {
            filter: filter.to_owned(),
        });
    }
    let inner = match filter.strip_prefix(SHARE_PREFIX) {
        None => filter,
        Some(rest) => {
            let owned = || filter.to_owned();
            let Some((group, inner)) = rest.split_once('/') else {
                return Err(TopicError::NoShareFilter { filter: owned() });
            };
            if group.is_empty() {
                return Err(TopicError::EmptyShareGroup { filter: owned() });
            }
            if group.contains(['+', '#']) {
                return Err(TopicError::WildcardInShareGroup {
                    filter: owned(),
                    group: group.to_owned(),
                });
            }
            if inner.is_empty() {
                return Err(TopicError::NoShareFilter { filter: owned() });
            }
            inner
        }
    };
    let mut levels = inner.split('/').peekable();
    while let Some(level) = levels.next() {
        let wildcard = if level.contains('#') {
            '#'
        } else if level.contains('+') {
            '+'
        } else {
            continue;
        };
        if level.len() != 1 {
            return Err(TopicError::WildcardInsideLevel {
                filter: filter.to_owned(),
                wildcard,
            });
        }
        if wildcard == '#' && levels.peek().is_some() {
            return Err(TopicError::HashNotLast {
                filter: filter.to_owned(),
            });
        }
    }
    Ok(())
}

/// Splits `$share/<group>/<filter>` into `(Some(group), filter)`; any other filter is
/// `(None, filter)`.
pub fn shared(filter: &str) -> (Option<&str>, &str) {
    match filter
        .strip_prefix(SHARE_PREFIX)
        .and_then(|rest| rest.split_once('/'))
    {
        Some((group, inner)) => (Some(group), inner),
        None => (None, filter),
    }
}

/// Whether `filter` (assumed valid) matches the topic name `topic`: `+` matches one level,
/// `#` any number of levels including none (`a/#` matches `a`), and a filter starting with a
/// wildcard does not match a topic starting with `$` (spec 4.7.2). A shared subscription
/// matches as its filter does.
pub fn matches(filter: &str, topic: &str) -> bool {
    let filter = if filter.starts_with('$') {
        shared(filter).1
    } else {
        filter
    };
    let (f, t) = (filter.as_bytes(), topic.as_bytes());
    if t.first() == Some(&b'$') && matches!(f.first(), Some(b'+' | b'#')) {
        return false;
    }
    // A byte walk rather than two `split('/')`s: this runs for every message and every
    // subscription, and is several times faster. `i` and `j` start a level of each.
    let (mut i, mut j) = (0, 0);
    loop {
        match f.get(i) {
            Some(b'#') => return true,
            Some(b'+') if f.get(i + 1).is_none_or(|&b| b == b'/') => {
                i += 1;
                while j < t.len() && t[j] != b'/' {
                    j += 1;
                }
            }
            _ => {
                while i < f.len() && f[i] != b'/' {
                    if t.get(j) != Some(&f[i]) {
                        return false;
                    }
                    i += 1;
                    j += 1;
                }
                if j < t.len() && t[j] != b'/' {
                    return false;
                }
            }
        }
        // Both levels end here.
        match (i == f.len(), j == t.len()) {
            (true, true) => return true,
            (true, false) => return false,
            // `a/#` matches `a` too.
            (false, true) => return &f[i..] == b"/#",
            (false, false) => {
                i += 1;
                j += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn publish_topics_follow_node_red() {
        for ok in [
            "a",
            "a/b",
            "/",
            "a//b",
            "$SYS/x",
            "ünï/コード",
            "a b",
            "a\u{1}b",
        ] {
            assert_eq!(validate_topic_name(ok), Ok(()), "{ok:?}");
        }
        assert_eq!(validate_topic_name(""), Err(TopicError::Empty));
        for (topic, wildcard) in [("a/+/b", '+'), ("#", '#'), ("a/b#", '#'), ("+", '+')] {
            assert_eq!(
                validate_topic_name(topic),
                Err(TopicError::Wildcard {
                    topic: topic.into(),
                    wildcard
                })
            );
        }
        for c in ['\u{8}', '\u{c}', '\n', '\r', '\t', '\u{b}', '\0'] {
            let topic = format!("a{c}b");
            assert_eq!(
                validate_topic_name(&topic),
                Err(TopicError::ControlCharacter {
                    topic: topic.clone(),
                    character: c
                }),
                "{topic:?}"
            );
        }
    }

    #[test]
    fn topic_errors_read_well() {
        assert_eq!(
            validate_topic_name("a/+/b").unwrap_err().to_string(),
            "topic 'a/+/b' contains the wildcard '+': a publish topic must name one topic"
        );
        assert_eq!(
            validate_topic_name("").unwrap_err().to_string(),
            "topic is empty"
        );
        assert_eq!(
            validate_topic_name("a\nb").unwrap_err().to_string(),
            "topic 'a\\nb' contains the control character '\\n', which a publish topic must not \
             contain"
        );
        assert_eq!(
            validate_filter("a/#/b").unwrap_err().to_string(),
            "topic filter 'a/#/b' has '#' before its last level: '#' must be the whole last \
             level, as in 'a/#'"
        );
        assert_eq!(
            validate_filter("$share//a").unwrap_err().to_string(),
            "shared subscription '$share//a' has an empty group name: write \
             '$share/<group>/<filter>'"
        );
    }

    #[test]
    fn overlong_topics_and_filters_are_refused() {
        let long = "a".repeat(65_536);
        assert_eq!(
            validate_topic_name(&long),
            Err(TopicError::TooLong {
                what: "topic",
                len: 65_536
            })
        );
        assert_eq!(
            validate_filter(&long),
            Err(TopicError::TooLong {
                what: "topic filter",
                len: 65_536
            })
        );
        assert_eq!(validate_topic_name(&long[1..]), Ok(()));
        assert_eq!(validate_filter(&long[1..]), Ok(()));
    }

    #[test]
    fn valid_filters() {
        for ok in [
            "a",
            "#",
            "+",
            "/",
            "a/#",
            "+/+",
            "/+",
            "+/b/#",
            "sport/tennis/+",
            "sport/+/player1",
            "a//b",
            "$SYS/#",
            "$share",
            "$share/group/a/+/c",
            "$share/g/#",
            "$share/g/$SYS/x",
            "ü/+",
        ] {
            assert_eq!(validate_filter(ok), Ok(()), "{ok}");
        }
    }

    #[test]
    fn invalid_filters() {
        let f = |s: &str| s.to_owned();
        assert_eq!(validate_filter(""), Err(TopicError::EmptyFilter));
        assert_eq!(
            validate_filter("a\0b"),
            Err(TopicError::NulInFilter { filter: f("a\0b") })
        );
        for bad in ["a/#/b", "#/a", "#/"] {
            assert_eq!(
                validate_filter(bad),
                Err(TopicError::HashNotLast { filter: f(bad) }),
                "{bad}"
            );
        }
        for (bad, wildcard) in [
            ("sport/tennis#", '#'),
            ("a/b#/c", '#'),
            ("sport+", '+'),
            ("a/+b", '+'),
            ("++", '+'),
            ("+#", '#'),
        ] {
            assert_eq!(
                validate_filter(bad),
                Err(TopicError::WildcardInsideLevel {
                    filter: f(bad),
                    wildcard
                }),
                "{bad}"
            );
        }
    }

    #[test]
    fn shared_subscription_filters() {
        let f = |s: &str| s.to_owned();
        assert_eq!(
            validate_filter("$share//a"),
            Err(TopicError::EmptyShareGroup {
                filter: f("$share//a")
            })
        );
        for bad in ["$share/", "$share/g", "$share/g/"] {
            assert_eq!(
                validate_filter(bad),
                Err(TopicError::NoShareFilter { filter: f(bad) }),
                "{bad}"
            );
        }
        for (bad, group) in [("$share/g+/a", "g+"), ("$share/#/a", "#")] {
            assert_eq!(
                validate_filter(bad),
                Err(TopicError::WildcardInShareGroup {
                    filter: f(bad),
                    group: f(group)
                })
            );
        }
        assert_eq!(
            validate_filter("$share/g/a/#/b"),
            Err(TopicError::HashNotLast {
                filter: f("$share/g/a/#/b")
            })
        );
    }

    #[test]
    fn shared_splits_group_and_filter() {
        assert_eq!(shared("$share/g/a/b"), (Some("g"), "a/b"));
        assert_eq!(shared("$share/g/#"), (Some("g"), "#"));
        assert_eq!(shared("$share/g/"), (Some("g"), ""));
        assert_eq!(shared("$share/g"), (None, "$share/g"));
        assert_eq!(shared("$share"), (None, "$share"));
        assert_eq!(shared("$SYS/a"), (None, "$SYS/a"));
        assert_eq!(shared("a/b"), (None, "a/b"));
        assert_eq!(shared("share/g/a"), (None, "share/g/a"));
    }

    #[track_caller]
    fn check(filter: &str, yes: &[&str], no: &[&str]) {
        for topic in yes {
            assert!(matches(filter, topic), "{filter} should match {topic}");
        }
        for topic in no {
            assert!(!matches(filter, topic), "{filter} should not match {topic}");
        }
    }

    /// The examples of MQTT 3.1.1 / 5.0 section 4.7.
    #[test]
    fn spec_examples() {
        check(
            "sport/tennis/player1/#",
            &[
                "sport/tennis/player1",
                "sport/tennis/player1/ranking",
                "sport/tennis/player1/score/wimbledon",
            ],
            &[
                "sport/tennis/player2",
                "sport/tennis",
                "sport/tennis/player10",
            ],
        );
        check("sport/#", &["sport", "sport/", "sport/a/b"], &["sports"]);
        check(
            "sport/tennis/+",
            &["sport/tennis/player1", "sport/tennis/player2"],
            &["sport/tennis/player1/ranking", "sport/tennis"],
        );
        check("sport/+", &["sport/"], &["sport", "sport/a/b"]);
        check("+/+", &["/finance", "a/b"], &["a", "a/b/c"]);
        check("/+", &["/finance", "/"], &["finance", "a/b"]);
        check("+", &["finance", ""], &["/finance", "a/b"]);
        check(
            "+/tennis/#",
            &["sport/tennis", "sport/tennis/x"],
            &["sport/golf"],
        );
        check(
            "#",
            &["a", "/", "a/b/c", ""],
            &["$SYS", "$SYS/monitor/Clients"],
        );
        check(
            "+/monitor/Clients",
            &["x/monitor/Clients"],
            &["$SYS/monitor/Clients"],
        );
        check(
            "$SYS/#",
            &["$SYS", "$SYS/monitor/Clients"],
            &["SYS/a", "a/$SYS"],
        );
        check(
            "$SYS/monitor/+",
            &["$SYS/monitor/Clients"],
            &["$SYS/other/Clients"],
        );
    }

    #[test]
    fn literal_levels_match_exactly() {
        check(
            "a/b",
            &["a/b"],
            &["a", "a/b/c", "a/bc", "ab", "A/b", "a/b/", "/a/b"],
        );
        check("a//b", &["a//b"], &["a/b", "a/x/b"]);
        check("a/", &["a/"], &["a"]);
        check("a/+/c", &["a/b/c", "a//c"], &["a/c", "a/b/d", "a/b/c/d"]);
        check("ü/+", &["ü/x"], &["u/x"]);
        check("a/$b", &["a/$b"], &["a/b"]);
        // Only the first character of the topic counts for the '$' rule.
        check("+/#", &["a/$b"], &["$a/b"]);
    }

    /// The definition, level by level, to check the byte walk of [`matches`] against.
    fn matches_by_levels(filter: &str, topic: &str) -> bool {
        let filter = shared(filter).1;
        if topic.starts_with('$') && filter.starts_with(['+', '#']) {
            return false;
        }
        let (mut f, mut t) = (filter.split('/'), topic.split('/'));
        loop {
            match (f.next(), t.next()) {
                (Some("#"), _) => return true,
                (Some(f), Some(t)) if f == "+" || f == t => {}
                (None, None) => return true,
                _ => return false,
            }
        }
    }

    #[test]
    fn matching_agrees_with_the_level_by_level_definition() {
        const LEVELS: [&str; 7] = ["a", "b", "", "ab", "$a", "+", "#"];
        let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = |n: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % n as u64) as usize
        };
        let mut random = |wildcards: bool| {
            let count = 1 + next(4);
            let levels: Vec<&str> = (0..count)
                .map(|_| LEVELS[next(if wildcards { 7 } else { 5 })])
                .collect();
            levels.join("/")
        };
        let mut matched = 0;
        for _ in 0..50_000 {
            let filter = random(true);
            let topic = random(false);
            if validate_filter(&filter).is_err() {
                continue;
            }
            let expected = matches_by_levels(&filter, &topic);
            assert_eq!(matches(&filter, &topic), expected, "{filter} vs {topic}");
            matched += usize::from(expected);
        }
        assert!(matched > 1000, "{matched}");
    }

    #[test]
    fn shared_filters_match_as_their_inner_filter() {
        check("$share/g/a/+", &["a/b"], &["a", "$share/g/a/b"]);
        check("$share/g/#", &["a", "a/b"], &["$SYS/x"]);
        check("$share/g/$SYS/#", &["$SYS/x"], &["a/x"]);
        // Not a shared subscription: a filter like any other.
        check("$share/g", &["$share/g"], &["g"]);
    }
}
