//! The node registry as the editor sees it: what Node-RED's `editor-api/lib/admin/nodes.js`
//! and `plugins.js` answer (`shared/reference/node-red-compat.md` 4.2, 4.3).
//!
//! The palette holds exactly the node types Ferrite registers, grouped in node sets by
//! `NodeDef::set_id`. A core set (`node-red/<name>`) takes its definition from
//! `@node-red/nodes/core/<category>/NN-<name>.html` and its help from
//! `locales/<lang>/<category>/NN-<name>.html`; any other set takes both from
//! `editor-static/nodes/<last segment of the set id>.html`.

use std::collections::HashMap;
use std::sync::OnceLock;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use indexmap::IndexMap;
use serde_json::json;

use super::AdminState;
use super::assets::{
    self, CoreNodes, EDITOR_VERSION, LangQuery, OwnNodes, first_of, json_bytes, languages,
};
use crate::registry::Registry;

/// The module of Node-RED's own nodes.
const CORE_MODULE: &str = "node-red";

pub(super) fn routes() -> Router<AdminState> {
    Router::new()
        .route("/nodes", get(nodes))
        .route("/nodes/messages", get(set_catalogs))
        .route("/nodes/{module}/{set}/messages", get(set_catalog))
        .route("/plugins", get(plugins))
        .route("/plugins/messages", get(|| async { json_bytes(None) }))
}

/// Node-RED answers JSON only when the editor asks for exactly that; anything else
/// (`text/html`, `*/*`, none) gets the HTML.
fn wants_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim() == "application/json")
}

/// One node set: the registered types that share a `set_id`.
struct NodeSet<'a> {
    id: &'a str,
    module: &'a str,
    name: &'a str,
    types: Vec<&'a str>,
}

/// The registry's node sets, in registration order.
fn node_sets(registry: &Registry) -> Vec<NodeSet<'_>> {
    let mut sets: IndexMap<&str, Vec<&str>> = IndexMap::new();
    for def in registry.defs() {
        sets.entry(def.set_id).or_default().push(def.type_name);
    }
    sets.into_iter()
        .map(|(id, types)| {
            let (module, name) = id.rsplit_once('/').unwrap_or(("", id));
            NodeSet {
                id,
                module,
                name,
                types,
            }
        })
        .collect()
}

/// `GET nodes`: the node sets as JSON, or every set's definition and help as HTML.
async fn nodes(State(state): State<AdminState>, headers: HeaderMap) -> Response {
    let sets = node_sets(state.runtime.registry());
    if wants_json(&headers) {
        let list: Vec<_> = sets
            .iter()
            .map(|set| {
                let version = if set.module == CORE_MODULE {
                    EDITOR_VERSION
                } else {
                    env!("CARGO_PKG_VERSION")
                };
                json!({
                    "id": set.id,
                    "name": set.name,
                    "types": set.types,
                    "enabled": true,
                    "local": false,
                    "user": false,
                    "module": set.module,
                    "version": version,
                })
            })
            .collect();
        return axum::Json(list).into_response();
    }
    let lang = headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .and_then(first_language);
    let mut html = String::new();
    for set in &sets {
        match set_html(set, lang) {
            Some(definition) => {
                html.push_str("\n<!-- --- [red-module:");
                html.push_str(set.id);
                html.push_str("] --- -->\n");
                html.push_str(&definition);
            }
            // The palette lacks these types: the editor shows their nodes as unknown.
            None => {
                tracing::warn!(set = set.id, types = ?set.types, "No editor definition for node set.")
            }
        }
    }
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], html).into_response()
}

/// The first language of an `Accept-Language` header (`de-DE,de;q=0.9` → `de-DE`).
fn first_language(header: &str) -> Option<&str> {
    header
        .split(',')
        .next()
        .and_then(|tag| tag.split(';').next())
        .map(str::trim)
        .filter(|tag| !tag.is_empty() && *tag != "*")
}

/// A set's definition followed by its help text in `lang`.
fn set_html(set: &NodeSet<'_>, lang: Option<&str>) -> Option<String> {
    if set.module != CORE_MODULE {
        let file = assets::lookup::<OwnNodes>(&format!("{}.html", set.name))?;
        return Some(String::from_utf8_lossy(&file).into_owned());
    }
    let (category, stem) = core_files().get(&set.name.to_ascii_lowercase())?;
    let definition = assets::lookup::<CoreNodes>(&format!("core/{category}/{stem}.html"))?;
    let help = first_of::<CoreNodes>(
        languages(lang)
            .into_iter()
            .map(|lang| format!("locales/{lang}/{category}/{stem}.html")),
    );
    let mut html = String::from_utf8_lossy(&definition).into_owned();
    if let Some(help) = help {
        html.push_str(&String::from_utf8_lossy(&help));
    }
    Some(html)
}

/// Core definition files by lowercased set name: `inject` → (`common`, `20-inject`),
/// `json` → (`parsers`, `70-JSON`). Node-RED's set names are the file names without the
/// number prefix, with their case (`node-red/JSON`).
fn core_files() -> &'static HashMap<String, (String, String)> {
    static FILES: OnceLock<HashMap<String, (String, String)>> = OnceLock::new();
    FILES.get_or_init(|| {
        CoreNodes::iter()
            .filter_map(|path| {
                let (category, file) = path.strip_prefix("core/")?.split_once('/')?;
                let stem = file.strip_suffix(".html")?;
                let name = match stem.split_once('-') {
                    Some((number, name)) if number.chars().all(|c| c.is_ascii_digit()) => name,
                    _ => stem,
                };
                Some((
                    name.to_ascii_lowercase(),
                    (category.to_owned(), stem.to_owned()),
                ))
            })
            .collect()
    })
}

/// `GET nodes/messages?lng=`: catalogs of the non-core sets. Our own definitions carry
/// their text inline, so there are none; the editor still needs the `{}` to go on.
async fn set_catalogs() -> Response {
    json_bytes(None)
}

/// `GET nodes/<module>/<set>/messages?lng=`: a set's catalog; the core sets share
/// `@node-red/nodes`' `messages.json`.
async fn set_catalog(
    Path((module, _set)): Path<(String, String)>,
    Query(query): Query<LangQuery>,
) -> Response {
    let catalog = (module == CORE_MODULE)
        .then(|| assets::core_messages(query.lng.as_deref()))
        .flatten();
    json_bytes(catalog)
}

/// `GET plugins`: Ferrite has no editor plugins; `[]` as JSON, empty HTML otherwise.
async fn plugins(headers: HeaderMap) -> Response {
    if wants_json(&headers) {
        axum::Json(json!([])).into_response()
    } else {
        ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], "").into_response()
    }
}
