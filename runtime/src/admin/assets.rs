//! The editor page and every file the stock Node-RED editor loads: what Node-RED's
//! `editor-api/lib/editor/{ui,theme,locales}.js` and the debug node's `debug/view` route
//! serve (`shared/reference/node-red-compat.md` 4.1, 4.2).
//!
//! The files come from `@node-red/editor-client` and `@node-red/nodes` (pinned in
//! `editor-static/package.json`, fetched by `runtime/build.rs`) and from our own node
//! definitions in `editor-static/nodes/`. `rust-embed` puts them in release binaries, so a
//! gateway needs nothing next to the binary; debug builds read the same folders from disk.
//! Either way every file goes through [`lookup`], which refuses paths that could leave
//! their folder.

use std::borrow::Cow;
use std::collections::HashMap;

use axum::Json;
use axum::Router;
use axum::extract::{OriginalUri, Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get};
use rust_embed::RustEmbed;
use serde::Deserialize;
use serde_json::{Value as JsonValue, json};

use super::{AdminState, ApiError};

/// The pinned `@node-red/editor-client` version (from `editor-static/package.json`).
pub(super) const EDITOR_VERSION: &str = env!("FERRITE_EDITOR_VERSION");

/// Changes with either the editor or Ferrite, so browsers reload both after an upgrade.
const CACHE_BUSTER: &str = concat!(
    env!("FERRITE_EDITOR_VERSION"),
    "-",
    env!("CARGO_PKG_VERSION")
);

/// The language every catalog and help text exists in.
const DEFAULT_LANG: &str = "en-US";

/// The icon shown for any icon Ferrite does not have, as Node-RED does.
const DEFAULT_ICON: &str = "arrow-in.svg";

/// Our page template (`editor-static/index.mst`).
const PAGE_TEMPLATE: &str = include_str!("../../../editor-static/index.mst");

#[derive(RustEmbed)]
#[folder = "../editor-static/node_modules/@node-red/editor-client/public/"]
struct EditorPublic;

#[derive(RustEmbed)]
#[folder = "../editor-static/node_modules/@node-red/editor-client/locales/"]
struct EditorLocales;

/// Of `@node-red/nodes`, what the editor needs: definitions, catalogs, help, icons and the
/// debug node's pop-out view; not the Node.js runtime code.
#[derive(RustEmbed)]
#[folder = "../editor-static/node_modules/@node-red/nodes/"]
#[include = "core/*/*.html"]
#[include = "core/common/lib/debug/*"]
#[include = "locales/**"]
#[include = "icons/*"]
pub(super) struct CoreNodes;

/// Definitions of the node types Ferrite adds (`editor-static/nodes/<set name>.html`).
#[derive(RustEmbed)]
#[folder = "../editor-static/nodes/"]
#[include = "*.html"]
pub(super) struct OwnNodes;

pub(super) fn routes() -> Router<AdminState> {
    Router::new()
        // Every path no route takes is a missing file: answer it as every error is answered.
        .fallback(|| async { ApiError::not_found("No such file or endpoint") })
        .route("/", get(page))
        .route(
            "/favicon.ico",
            get(|| async { serve::<EditorPublic>("favicon.ico") }),
        )
        .route("/vendor/{*path}", public_under("vendor"))
        .route("/red/{*path}", public_under("red"))
        .route("/types/{*path}", public_under("types"))
        .route("/theme", get(theme))
        .route("/theme/{kind}/{*path}", get(no_theme_file))
        .route("/locales/{*namespace}", get(locale))
        .route("/icons", get(icon_list))
        .route("/icons/{module}/{file}", get(icon))
        .route("/icons/{scope}/{module}/{file}", get(scoped_icon))
        .route(
            "/debug/view/{*path}",
            get(|Path(path): Path<String>| async move {
                serve::<CoreNodes>(&format!("core/common/lib/debug/{path}"))
            }),
        )
}

/// A file of an embedded folder, when `path` names one without leaving the folder.
pub(super) fn lookup<E: RustEmbed>(path: &str) -> Option<Cow<'static, [u8]>> {
    if is_contained(path) {
        E::get(path).map(|file| file.data)
    } else {
        None
    }
}

/// Whether a relative path stays inside its folder: no `..`, no absolute path, no drive or
/// backslash tricks. The router has already percent-decoded it, so `%2e%2e` arrives as `..`.
fn is_contained(path: &str) -> bool {
    !path.is_empty()
        && path.split('/').all(|segment| {
            !segment.is_empty()
                && segment != "."
                && segment != ".."
                && !segment.contains(['\\', ':', '\0'])
        })
}

/// The languages to try for `lng`, best first: itself, its base language, then en-US.
pub(super) fn languages(lng: Option<&str>) -> Vec<String> {
    let mut out = Vec::with_capacity(3);
    // A language is a tag, never a path: anything else is treated as not asked for.
    if let Some(lng) = lng.filter(|l| {
        !l.is_empty()
            && l.len() <= 35
            && l.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    }) {
        out.push(lng.to_owned());
        if let Some((base, _)) = lng.split_once(['-', '_']) {
            out.push(base.to_owned());
        }
    }
    out.push(DEFAULT_LANG.to_owned());
    out
}

/// The first of `candidates` that exists in `E`.
pub(super) fn first_of<E: RustEmbed>(
    candidates: impl IntoIterator<Item = String>,
) -> Option<Cow<'static, [u8]>> {
    candidates.into_iter().find_map(|path| lookup::<E>(&path))
}

/// The languages the editor is translated into (`editorTheme.languages`).
pub(super) fn editor_languages() -> Vec<String> {
    let mut langs: Vec<String> = EditorLocales::iter()
        .filter_map(|path| path.split_once('/').map(|(lang, _)| lang.to_owned()))
        .collect();
    langs.sort();
    langs.dedup();
    langs
}

/// A `node-red` message catalog (`@node-red/nodes/locales/<lang>/messages.json`).
pub(super) fn core_messages(lng: Option<&str>) -> Option<Cow<'static, [u8]>> {
    first_of::<CoreNodes>(
        languages(lng)
            .into_iter()
            .map(|lang| format!("locales/{lang}/messages.json")),
    )
}

fn serve<E: RustEmbed>(path: &str) -> Response {
    match lookup::<E>(path) {
        Some(data) => file_response(path, data),
        None => ApiError::not_found(format!("No file {path}")).into_response(),
    }
}

fn public_under(folder: &'static str) -> MethodRouter<AdminState> {
    get(move |Path(path): Path<String>| async move {
        serve::<EditorPublic>(&format!("{folder}/{path}"))
    })
}

pub(super) fn file_response(path: &str, data: Cow<'static, [u8]>) -> Response {
    ([(header::CONTENT_TYPE, content_type(path))], data).into_response()
}

/// The media type of an editor file, by extension (the editor's files use only these).
fn content_type(path: &str) -> &'static str {
    let name = path.rsplit('/').next().unwrap_or(path);
    let ext = name
        .rsplit_once('.')
        .map(|(_, ext)| ext.to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "html" => "text/html; charset=utf-8",
        "js" => "application/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" => "application/json; charset=utf-8",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "gif" => "image/gif",
        "ico" => "image/x-icon",
        "woff" => "font/woff",
        "woff2" => "font/woff2",
        "ttf" => "font/ttf",
        "otf" => "font/otf",
        "eot" => "application/vnd.ms-fontobject",
        "md" => "text/markdown; charset=utf-8",
        // Typings (`.d.ts`), licences and `red/about` (the changelog) are text the editor
        // reads with XHR.
        "ts" | "txt" | "" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

/// What the page and `GET theme` show, from `editorTheme`; Node-RED's defaults otherwise,
/// but titled "Ferrite" so a user can tell which runtime the editor is talking to.
struct Theme {
    title: String,
    header_title: String,
    /// Extra stylesheets and scripts (`editorTheme.page.css` / `.scripts`). Node-RED reads
    /// these as files and serves them under `theme/`; Ferrite serves no theme files, so
    /// they are taken as URLs and linked as given.
    css: Vec<String>,
    scripts: Vec<String>,
    ace: bool,
}

const FAVICON: &str = "favicon.ico";
const TABICON: &str = "red/images/node-red-icon-black.svg";
const TABICON_COLOUR: &str = "#8f0000";
const ASSET_RED: &str = "red/red.min.js";
const ASSET_MAIN: &str = "red/main.min.js";
const MONACO: &str = "vendor/monaco/monaco-bootstrap.js";
const ACE: &str = "vendor/ace/ace-bootstrap.js";

impl Theme {
    fn from_settings(theme: Option<&JsonValue>) -> Self {
        let text = |pointer: &str| {
            theme
                .and_then(|t| t.pointer(pointer))
                .and_then(JsonValue::as_str)
                .map(str::to_owned)
        };
        let list = |pointer: &str| -> Vec<String> {
            match theme.and_then(|t| t.pointer(pointer)) {
                Some(JsonValue::String(one)) => vec![one.clone()],
                Some(JsonValue::Array(many)) => many
                    .iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect(),
                _ => Vec::new(),
            }
        };
        Self {
            title: text("/page/title").unwrap_or_else(|| "Ferrite".to_owned()),
            header_title: text("/header/title").unwrap_or_else(|| "Ferrite".to_owned()),
            css: list("/page/css"),
            scripts: list("/page/scripts"),
            ace: text("/codeEditor/lib").as_deref() == Some("ace"),
        }
    }
}

/// `GET /`: the editor page. Under a non-root `httpAdminRoot` the editor's relative URLs
/// only resolve below the root with its slash, so `/admin` is redirected to `/admin/`.
async fn page(State(state): State<AdminState>, OriginalUri(uri): OriginalUri) -> Response {
    let path = uri.path();
    if !path.ends_with('/') {
        let location = match uri.query() {
            Some(query) => format!("{path}/?{query}"),
            None => format!("{path}/"),
        };
        return (
            StatusCode::MOVED_PERMANENTLY,
            [(header::LOCATION, location)],
        )
            .into_response();
    }
    let theme = Theme::from_settings(state.runtime.settings().editor_theme.as_ref());
    let page = render_page(&theme);
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], page).into_response()
}

fn render_page(theme: &Theme) -> String {
    let css: String = theme
        .css
        .iter()
        .map(|href| format!("<link rel=\"stylesheet\" href=\"{}\">\n", escape(href)))
        .collect();
    let scripts: String = theme
        .scripts
        .iter()
        .map(|src| format!("<script src=\"{}\"></script>\n", escape(src)))
        .collect();
    let (code_editor_css, code_editor_script) = if theme.ace {
        (
            String::new(),
            format!("<script id=\"ace-bootstrap\" src=\"{ACE}?v={CACHE_BUSTER}\"></script>"),
        )
    } else {
        (
            format!("<link rel=\"stylesheet\" href=\"vendor/monaco/style.css?v={CACHE_BUSTER}\">"),
            format!("<script id=\"monaco-bootstrap\" src=\"{MONACO}?v={CACHE_BUSTER}\"></script>"),
        )
    };
    render(
        PAGE_TEMPLATE,
        &[
            ("title", &theme.title),
            ("favicon", FAVICON),
            ("tabicon", TABICON),
            ("tabicon_colour", TABICON_COLOUR),
            ("cache_buster", CACHE_BUSTER),
            ("red", ASSET_RED),
            ("main", ASSET_MAIN),
            ("css", &css),
            ("scripts", &scripts),
            ("code_editor_css", &code_editor_css),
            ("code_editor_script", &code_editor_script),
        ],
    )
}

/// Fills `{{name}}` (HTML-escaped) and `{{{name}}}` (as is) from `values`; a name without a
/// value becomes empty, as in mustache.
fn render(template: &str, values: &[(&str, &str)]) -> String {
    let value = |name: &str| {
        values
            .iter()
            .find(|(n, _)| *n == name.trim())
            .map_or("", |(_, v)| *v)
    };
    let mut out = String::with_capacity(template.len() + 1024);
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start..];
        let (raw, open, close) = if after.starts_with("{{{") {
            (true, 3, "}}}")
        } else {
            (false, 2, "}}")
        };
        let Some(end) = after[open..].find(close) else {
            // An unclosed tag is text.
            out.push_str(after);
            return out;
        };
        let name = &after[open..open + end];
        if raw {
            out.push_str(value(name));
        } else {
            out.push_str(&escape(value(name)));
        }
        rest = &after[open + end + close.len()..];
    }
    out.push_str(rest);
    out
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// `GET theme`: the theme context; the editor only reads `header` (title and logo).
async fn theme(State(state): State<AdminState>) -> Json<JsonValue> {
    let theme = Theme::from_settings(state.runtime.settings().editor_theme.as_ref());
    Json(json!({
        "page": {
            "title": theme.title,
            "favicon": FAVICON,
            "tabicon": {"icon": TABICON, "colour": TABICON_COLOUR},
        },
        "header": {"title": theme.header_title, "image": "red/images/node-red.svg"},
        "asset": {"red": ASSET_RED, "main": ASSET_MAIN, "vendorMonaco": if theme.ace { "" } else { MONACO }},
        "themes": [],
    }))
}

async fn no_theme_file(Path((kind, path)): Path<(String, String)>) -> ApiError {
    ApiError::not_found(format!(
        "No theme file {kind}/{path}: Ferrite serves no theme files"
    ))
}

#[derive(Deserialize)]
pub(super) struct LangQuery {
    pub lng: Option<String>,
}

/// `GET locales/<namespace>?lng=`: an i18next catalog; `{}` for a namespace we do not have,
/// so the editor shows keys rather than failing.
async fn locale(Path(namespace): Path<String>, Query(query): Query<LangQuery>) -> Response {
    let namespace = namespace.trim_end_matches('/');
    let namespace = namespace.strip_suffix(".json").unwrap_or(namespace);
    let lng = query.lng.as_deref();
    let catalog = match namespace {
        "editor" | "jsonata" | "infotips" => first_of::<EditorLocales>(
            languages(lng)
                .into_iter()
                .map(|lang| format!("{lang}/{namespace}.json")),
        ),
        "node-red" => core_messages(lng),
        _ => None,
    };
    json_bytes(catalog)
}

/// A JSON file as the response body, or `{}`.
pub(super) fn json_bytes(data: Option<Cow<'static, [u8]>>) -> Response {
    let data = data.unwrap_or(Cow::Borrowed(b"{}"));
    (
        [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
        data,
    )
        .into_response()
}

/// `GET icons`: the icon files per module. Only `node-red` has icon files: our own node
/// definitions use those or Font Awesome.
async fn icon_list() -> Json<HashMap<&'static str, Vec<String>>> {
    let mut icons: Vec<String> = CoreNodes::iter()
        .filter_map(|path| path.strip_prefix("icons/").map(str::to_owned))
        .collect();
    icons.sort();
    Json(HashMap::from([("node-red", icons)]))
}

/// `GET icons/<module>/<file>`: the icon, or the default one (never a 404: the editor
/// would show a broken image in the palette).
async fn icon(Path((module, file)): Path<(String, String)>) -> Response {
    let found = (module == "node-red")
        .then(|| lookup::<CoreNodes>(&format!("icons/{file}")))
        .flatten();
    match found {
        Some(data) => file_response(&file, data),
        None => default_icon(),
    }
}

/// `GET icons/@scope/<module>/<file>`: no scoped module of ours has icons.
async fn scoped_icon() -> Response {
    default_icon()
}

fn default_icon() -> Response {
    serve::<CoreNodes>(&format!("icons/{DEFAULT_ICON}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Paths with `..`, `.`, empty segments, absolute paths or backslashes never reach a folder.
    #[test]
    fn paths_that_could_leave_their_folder_are_refused() {
        for bad in [
            "",
            "..",
            "../x",
            "red/../../x",
            "/etc/passwd",
            "red//x",
            "./x",
            "a\\..\\b",
            "c:/x",
        ] {
            assert!(!is_contained(bad), "{bad:?} was accepted");
        }
        assert!(is_contained("red/images/node-red.svg"));
        assert!(lookup::<EditorPublic>("../package.json").is_none());
    }

    /// The template is filled: escaped values in double braces, raw in triple, unknown empty.
    #[test]
    fn the_template_is_filled_with_escaped_and_raw_values() {
        let out = render(
            "<t>{{ a }}</t>{{{b}}}{{c}}{{",
            &[("a", "<&>"), ("b", "<i>")],
        );
        assert_eq!(out, "<t>&lt;&amp;&gt;</t><i>{{");
    }

    /// Languages fall back from the region to the base language to en-US; a non-tag is ignored.
    #[test]
    fn languages_fall_back_to_the_base_language_then_en_us() {
        assert_eq!(languages(Some("de-AT")), ["de-AT", "de", "en-US"]);
        assert_eq!(languages(Some("../../x")), ["en-US"]);
        assert_eq!(languages(None), ["en-US"]);
    }
}
