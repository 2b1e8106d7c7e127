//! The subscription table: which sessions a topic goes to. Filters without wildcards are
//! found by one hash lookup; wildcard filters are matched one by one with
//! `topic::matches`. Shared subscriptions (`$share/<group>/<filter>`) hand each message to
//! one member of the group in turn, preferring members that are connected.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::session::Session;
use crate::network::mqtt::codec::QoS;
use crate::network::mqtt::topic;

/// What a SUBSCRIBE asked for one filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct SubOptions {
    pub qos: QoS,
    pub no_local: bool,
    pub retain_as_published: bool,
    pub retain_handling: u8,
    /// MQTT 5 subscription identifier.
    pub id: Option<u32>,
}

/// One session a message goes to, and how.
#[derive(Debug)]
pub(super) struct Delivery {
    pub session: Arc<Session>,
    pub qos: QoS,
    pub retain: bool,
    pub sub_ids: Vec<u32>,
}

#[derive(Debug)]
struct Sub {
    session: Arc<Session>,
    opts: SubOptions,
}

#[derive(Debug)]
struct Group {
    name: String,
    members: Vec<Sub>,
    next: AtomicUsize,
}

#[derive(Debug, Default)]
struct Entry {
    subs: Vec<Sub>,
    groups: Vec<Group>,
}

impl Entry {
    fn is_empty(&self) -> bool {
        self.subs.is_empty() && self.groups.is_empty()
    }

    fn members(&mut self, group: Option<&str>) -> &mut Vec<Sub> {
        let Some(name) = group else {
            return &mut self.subs;
        };
        let at = match self.groups.iter().position(|g| g.name == name) {
            Some(at) => at,
            None => {
                self.groups.push(Group {
                    name: name.to_owned(),
                    members: Vec::new(),
                    next: AtomicUsize::new(0),
                });
                self.groups.len() - 1
            }
        };
        &mut self.groups[at].members
    }

    fn remove(&mut self, group: Option<&str>, session: &Arc<Session>) -> bool {
        let members = match group {
            None => &mut self.subs,
            Some(name) => match self.groups.iter_mut().find(|g| g.name == name) {
                Some(g) => &mut g.members,
                None => return false,
            },
        };
        let before = members.len();
        members.retain(|s| !Arc::ptr_eq(&s.session, session));
        let removed = members.len() != before;
        self.groups.retain(|g| !g.members.is_empty());
        removed
    }

    fn deliver(&self, publisher: &str, qos: QoS, retain: bool, out: &mut Vec<Delivery>) {
        for sub in &self.subs {
            if sub.opts.no_local && *sub.session.id == *publisher {
                continue;
            }
            out.push(delivery(sub, qos, retain));
        }
        for group in &self.groups {
            let turn = group.next.fetch_add(1, Ordering::Relaxed);
            let online = group.members.iter().filter(|m| m.session.online()).count();
            let pick = match online {
                0 => &group.members[turn % group.members.len()],
                n => group
                    .members
                    .iter()
                    .filter(|m| m.session.online())
                    .nth(turn % n)
                    .unwrap_or(&group.members[0]),
            };
            out.push(delivery(pick, qos, retain));
        }
    }
}

fn delivery(sub: &Sub, qos: QoS, retain: bool) -> Delivery {
    Delivery {
        session: Arc::clone(&sub.session),
        qos: qos.min(sub.opts.qos),
        // MQTT 3.1.1 and 5 without retain-as-published: forwarded copies are not retained.
        retain: retain && sub.opts.retain_as_published,
        sub_ids: sub.opts.id.into_iter().collect(),
    }
}

fn has_wildcards(filter: &str) -> bool {
    filter.contains(['+', '#'])
}

#[derive(Debug, Default)]
pub(super) struct Router {
    exact: HashMap<String, Entry>,
    wild: Vec<(String, Entry)>,
}

impl Router {
    /// Adds `session`'s subscription to `filter` (already validated), or replaces its
    /// options.
    pub fn subscribe(&mut self, filter: &str, session: &Arc<Session>, opts: SubOptions) {
        let (group, inner) = topic::shared(filter);
        let entry = if has_wildcards(inner) {
            match self.wild.iter().position(|(f, _)| f == inner) {
                Some(at) => &mut self.wild[at].1,
                None => {
                    self.wild.push((inner.to_owned(), Entry::default()));
                    let last = self.wild.len() - 1;
                    &mut self.wild[last].1
                }
            }
        } else {
            self.exact.entry(inner.to_owned()).or_default()
        };
        let members = entry.members(group);
        match members
            .iter_mut()
            .find(|s| Arc::ptr_eq(&s.session, session))
        {
            Some(sub) => sub.opts = opts,
            None => members.push(Sub {
                session: Arc::clone(session),
                opts,
            }),
        }
    }

    /// Removes `session`'s subscription to `filter`; false when it had none.
    pub fn unsubscribe(&mut self, filter: &str, session: &Arc<Session>) -> bool {
        let (group, inner) = topic::shared(filter);
        if has_wildcards(inner) {
            let Some(at) = self.wild.iter().position(|(f, _)| f == inner) else {
                return false;
            };
            let removed = self.wild[at].1.remove(group, session);
            if self.wild[at].1.is_empty() {
                self.wild.swap_remove(at);
            }
            removed
        } else {
            let Some(entry) = self.exact.get_mut(inner) else {
                return false;
            };
            let removed = entry.remove(group, session);
            if entry.is_empty() {
                self.exact.remove(inner);
            }
            removed
        }
    }

    /// Appends to `out` every session `topic` goes to, once each: a session matched by
    /// several filters gets the highest QoS and every subscription identifier.
    pub fn route(
        &self,
        topic: &str,
        publisher: &str,
        qos: QoS,
        retain: bool,
        out: &mut Vec<Delivery>,
    ) {
        let mut entries = 0;
        if let Some(entry) = self.exact.get(topic) {
            entry.deliver(publisher, qos, retain, out);
            entries += 1;
        }
        for (filter, entry) in &self.wild {
            if topic::matches(filter, topic) {
                entry.deliver(publisher, qos, retain, out);
                entries += 1;
            }
        }
        if entries > 1 {
            merge_duplicates(out);
        }
    }
}

fn merge_duplicates(out: &mut Vec<Delivery>) {
    out.sort_by_key(|d| Arc::as_ptr(&d.session) as usize);
    let mut merged: Vec<Delivery> = Vec::with_capacity(out.len());
    for d in out.drain(..) {
        match merged.last_mut() {
            Some(last) if Arc::ptr_eq(&last.session, &d.session) => {
                last.qos = last.qos.max(d.qos);
                last.retain |= d.retain;
                last.sub_ids.extend(d.sub_ids);
            }
            _ => merged.push(d),
        }
    }
    *out = merged;
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::sync::Notify;

    fn session(id: &str, online: bool) -> Arc<Session> {
        let s = Arc::new(Session::new(id));
        if online {
            s.attach(Arc::new(Notify::new()), 0);
        }
        s
    }

    fn opts(qos: QoS) -> SubOptions {
        SubOptions {
            qos,
            no_local: false,
            retain_as_published: false,
            retain_handling: 0,
            id: None,
        }
    }

    fn targets(router: &Router, topic: &str, publisher: &str) -> Vec<(String, QoS)> {
        let mut out = Vec::new();
        router.route(topic, publisher, QoS::ExactlyOnce, false, &mut out);
        let mut ids: Vec<_> = out
            .into_iter()
            .map(|d| (d.session.id.to_string(), d.qos))
            .collect();
        ids.sort();
        ids
    }

    #[test]
    fn server_router_matches_exact_and_wildcard_filters_once_per_session() {
        let mut router = Router::default();
        let a = session("a", true);
        let b = session("b", true);
        router.subscribe("s/1/t", &a, opts(QoS::AtMostOnce));
        router.subscribe("s/+/t", &a, opts(QoS::ExactlyOnce));
        router.subscribe("s/#", &b, opts(QoS::AtLeastOnce));
        assert_eq!(
            targets(&router, "s/1/t", "x"),
            [
                ("a".to_owned(), QoS::ExactlyOnce),
                ("b".to_owned(), QoS::AtLeastOnce)
            ]
        );
        assert_eq!(
            targets(&router, "s/2", "x"),
            [("b".to_owned(), QoS::AtLeastOnce)]
        );
        assert!(router.unsubscribe("s/#", &b));
        assert!(!router.unsubscribe("s/#", &b));
        assert_eq!(targets(&router, "s/2", "x"), []);
        assert!(router.unsubscribe("s/1/t", &a));
        assert!(router.unsubscribe("s/+/t", &a));
        assert!(router.exact.is_empty() && router.wild.is_empty());
    }

    #[test]
    fn server_router_no_local_skips_the_publisher() {
        let mut router = Router::default();
        let a = session("a", true);
        router.subscribe(
            "t",
            &a,
            SubOptions {
                no_local: true,
                ..opts(QoS::AtMostOnce)
            },
        );
        assert_eq!(targets(&router, "t", "a"), []);
        assert_eq!(targets(&router, "t", "b").len(), 1);
    }

    #[test]
    fn server_router_shared_groups_take_turns_among_connected_members() {
        let mut router = Router::default();
        let (a, b, off) = (session("a", true), session("b", true), session("c", false));
        for s in [&a, &b, &off] {
            router.subscribe("$share/g/t/+", s, opts(QoS::AtLeastOnce));
        }
        router.subscribe("$share/h/t/+", &a, opts(QoS::AtLeastOnce));
        let mut seen = HashMap::new();
        for _ in 0..6 {
            let mut out = Vec::new();
            router.route("t/1", "x", QoS::AtLeastOnce, false, &mut out);
            for d in out {
                *seen.entry(d.session.id.to_string()).or_insert(0) += 1;
            }
        }
        // Group g: a and b three times each (c is offline); group h: a six times.
        assert_eq!(seen.get("a"), Some(&9));
        assert_eq!(seen.get("b"), Some(&3));
        assert_eq!(seen.get("c"), None);
    }
}
