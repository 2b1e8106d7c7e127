//! The editor page and its files (`runtime/src/admin/assets.rs`): page, static files,
//! theme, locales, icons and the debug node's view, over real HTTP.

use serde_json::json;

use super::support::{Reply, Server, request};

/// The local URLs a page loads through `src="..."` and `href="..."`, without `?v=`.
fn page_assets(page: &str) -> Vec<String> {
    let mut out = Vec::new();
    for attr in ["src=\"", "href=\""] {
        for piece in page.split(attr).skip(1) {
            let url = piece.split('"').next().unwrap_or_default();
            let url = url.split('?').next().unwrap_or_default();
            if !url.contains("://") {
                out.push(url.to_owned());
            }
        }
    }
    out
}

fn assert_not_found(reply: &Reply, what: &str) {
    assert_eq!(reply.status, 404, "{what}: {}", reply.text());
    assert_eq!(reply.json()["code"], "not_found", "{what}");
}

/// GET / renders our page, loading the stock editor's scripts and styles in Node-RED's
/// order, and every file it references is served.
#[tokio::test]
async fn the_page_loads_the_stock_editor_and_every_file_it_references() {
    let server = Server::start().await;
    let reply = server.get("/").await;
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    let page = reply.text();
    assert!(page.contains("<title>Ferrite</title>"), "{page}");
    let order = [
        "vendor/jquery/css/base/jquery-ui.min.css",
        "vendor/font-awesome/css/font-awesome.min.css",
        "red/style.min.css",
        "vendor/monaco/style.css",
        "vendor/vendor.js",
        "vendor/monaco/monaco-bootstrap.js",
        "red/red.min.js",
        "red/main.min.js",
    ];
    let positions: Vec<usize> = order
        .iter()
        .map(|asset| {
            page.find(&format!("{asset}?v="))
                .unwrap_or_else(|| panic!("{asset} missing from the page"))
        })
        .collect();
    assert!(positions.is_sorted(), "assets out of order: {page}");
    assert!(!page.contains("{{"), "unfilled placeholder: {page}");

    let assets = page_assets(&page);
    assert!(assets.len() >= 9, "{assets:?}");
    for asset in assets {
        let reply = server.get(&asset).await;
        assert_eq!(reply.status, 200, "{asset}");
        assert!(!reply.body.is_empty(), "{asset}");
    }
}

/// editorTheme sets the page title, adds stylesheets and scripts, and can pick ace.
#[tokio::test]
async fn the_page_follows_the_editor_theme() {
    let theme = json!({"editorTheme": {
        "page": {"title": "Plant <1>", "css": "https://x.test/a.css", "scripts": ["https://x.test/b.js"]},
        "codeEditor": {"lib": "ace"},
    }});
    let server = Server::with(theme, json!([])).await;
    let page = server.get("/").await.text();
    assert!(page.contains("<title>Plant &lt;1&gt;</title>"), "{page}");
    assert!(page.contains("<link rel=\"stylesheet\" href=\"https://x.test/a.css\">"));
    assert!(page.contains("<script src=\"https://x.test/b.js\"></script>"));
    assert!(page.contains("vendor/ace/ace-bootstrap.js?v="));
    assert!(!page.contains("monaco"), "{page}");
}

/// Under httpAdminRoot /admin, /admin answers 301 to /admin/ (relative URLs need the
/// slash) and /admin/ serves the page and its files.
#[tokio::test]
async fn under_an_admin_root_the_page_gets_its_slash_and_files_resolve() {
    let server = Server::with(json!({"httpAdminRoot": "/admin"}), json!([])).await;
    let bare = request("GET", &server.base, &[], None).await;
    assert_eq!(bare.status, 301);
    assert_eq!(bare.header("location"), Some("/admin/"));

    let with_query = request("GET", &format!("{}?x=1", server.base), &[], None).await;
    assert_eq!(with_query.header("location"), Some("/admin/?x=1"));

    let page = server.get("/").await;
    assert_eq!(page.status, 200, "{}", page.text());
    assert!(page.text().contains("red/red.min.js"));
    assert_eq!(server.get("red/keymap.json").await.status, 200);
}

/// Static files answer with the media type of their kind.
#[tokio::test]
async fn static_files_have_their_content_type() {
    let server = Server::start().await;
    for (path, kind) in [
        ("red/keymap.json", "application/json; charset=utf-8"),
        ("red/style.min.css", "text/css; charset=utf-8"),
        ("vendor/vendor.js", "application/javascript; charset=utf-8"),
        ("favicon.ico", "image/x-icon"),
        ("red/images/node-red.svg", "image/svg+xml"),
        (
            "red/tours/first-flow.js",
            "application/javascript; charset=utf-8",
        ),
        ("types/node/buffer.d.ts", "text/plain; charset=utf-8"),
        ("red/about", "text/plain; charset=utf-8"),
    ] {
        let reply = server.get(path).await;
        assert_eq!(reply.status, 200, "{path}");
        assert_eq!(reply.header("content-type"), Some(kind), "{path}");
    }
    let keymap = server.get("red/keymap.json").await.json();
    assert!(keymap.is_object(), "{keymap}");
    assert!(server.get("red/about").await.text().contains("5.0.7"));
}

/// A file that is not there is a 404 with a {code, message} body.
#[tokio::test]
async fn a_missing_static_file_is_a_json_404() {
    let server = Server::start().await;
    assert_not_found(&server.get("red/nothing.js").await, "red/nothing.js");
    assert_not_found(&server.get("vendor/").await, "vendor/");
}

/// `..`, `%2e%2e`, encoded slashes and absolute paths never leave the editor's folders.
#[tokio::test]
async fn path_traversal_on_static_files_is_refused() {
    let server = Server::start().await;
    for path in [
        "red/../package.json",
        "red/../../package.json",
        "red/%2e%2e/%2e%2e/package.json",
        "red/..%2f..%2fpackage.json",
        "vendor/..%2f..%2f..%2f..%2fCargo.toml",
        "types/%2e%2e%2f%2e%2e%2fpackage.json",
        "red//etc/passwd",
        "red/%2fetc%2fpasswd",
        "debug/view/..%2f..%2f..%2fpackage.json",
        "debug/view/../../../21-debug.js",
        "red/..%5c..%5cpackage.json",
    ] {
        let reply = request("GET", &format!("{}/{path}", server.base), &[], None).await;
        assert!(
            reply.status == 404 || reply.status == 400,
            "{path}: {} {}",
            reply.status,
            reply.text()
        );
        let text = reply.text();
        assert!(!text.contains("\"version\""), "{path} leaked {text}");
        assert!(!text.contains("root:"), "{path} leaked {text}");
        assert!(!text.contains("[package]"), "{path} leaked {text}");
    }
}

/// GET theme answers the theme context with the header; theme css and scripts are 404s.
#[tokio::test]
async fn the_theme_context_names_the_header_and_theme_files_are_absent() {
    let server = Server::with(
        json!({"editorTheme": {"header": {"title": "Line 3"}}}),
        json!([]),
    )
    .await;
    let theme = server.get("theme").await.json();
    assert_eq!(theme["header"]["title"], "Line 3");
    assert_eq!(theme["header"]["image"], "red/images/node-red.svg");
    assert_eq!(theme["asset"]["red"], "red/red.min.js");
    assert_eq!(theme["themes"], json!([]));
    assert_not_found(&server.get("theme/css/x.css").await, "theme css");
    assert_not_found(&server.get("theme/scripts/x.js").await, "theme scripts");
}

/// Locales: the editor's namespaces and node-red's messages, with the base language and
/// en-US as fallbacks, `.json` tolerated, and `{}` for a namespace Ferrite does not have.
#[tokio::test]
async fn locales_fall_back_to_en_us_and_unknown_namespaces_are_empty() {
    let server = Server::start().await;
    let editor = server.get("locales/editor?lng=en-US").await;
    assert_eq!(editor.status, 200);
    assert_eq!(
        editor.header("content-type"),
        Some("application/json; charset=utf-8")
    );
    let editor = editor.json();
    assert_eq!(editor["common"]["label"]["cancel"], "Cancel");
    for ns in ["jsonata", "infotips"] {
        let catalog = server.get(&format!("locales/{ns}?lng=en-US")).await.json();
        assert!(
            catalog.as_object().is_some_and(|o| !o.is_empty()),
            "{ns}: {catalog}"
        );
    }
    let german = server.get("locales/editor?lng=de").await.json();
    assert_eq!(german["common"]["label"]["cancel"], "Abbrechen");
    // No "de-AT" catalog: its base language answers.
    assert_eq!(server.get("locales/editor?lng=de-AT").await.json(), german);
    // No "en-GB" nor "en": en-US answers, as for no language and for a non-tag.
    for query in ["?lng=en-GB", "", "?lng=xx", "?lng=..%2F..%2Fx"] {
        let reply = server.get(&format!("locales/editor{query}")).await.json();
        assert_eq!(reply, editor, "{query}");
    }
    let nodes = server.get("locales/node-red.json?lng=en-US").await.json();
    assert_eq!(nodes["inject"]["inject"], "inject");
    assert_eq!(
        server
            .get("locales/no-such-namespace?lng=en-US")
            .await
            .json(),
        json!({})
    );
    assert_eq!(
        server.get("locales/..%2Fpackage?lng=en-US").await.json(),
        json!({})
    );
}

/// GET icons lists node-red's icons; an icon is served as SVG; an unknown icon, module,
/// scoped module or a traversal attempt answers the default arrow-in.svg, never a 404.
#[tokio::test]
async fn icons_are_listed_and_unknown_ones_get_the_default_icon() {
    let server = Server::start().await;
    let list = server.get("icons").await.json();
    let core = list["node-red"].as_array().expect("node-red icons");
    for icon in ["arrow-in.svg", "inject.svg", "debug.svg", "function.svg"] {
        assert!(core.contains(&json!(icon)), "{icon} missing: {list}");
    }
    let inject = server.get("icons/node-red/inject.svg").await;
    assert_eq!(inject.status, 200);
    assert_eq!(inject.header("content-type"), Some("image/svg+xml"));
    let default = server.get("icons/node-red/arrow-in.svg").await;
    assert_ne!(inject.body, default.body);
    for path in [
        "icons/node-red/no-such.svg",
        "icons/no-module/inject.svg",
        "icons/@scope/module/inject.svg",
        "icons/node-red/..%2f..%2fpackage.json",
        "icons/node-red/%2e%2e%2fpackage.json",
        "icons/node-red/%2fetc%2fpasswd",
    ] {
        let reply = server.get(path).await;
        assert_eq!(reply.status, 200, "{path}");
        assert_eq!(
            reply.header("content-type"),
            Some("image/svg+xml"),
            "{path}"
        );
        assert_eq!(reply.body, default.body, "{path}");
    }
}

/// The debug node's scripts and pop-out view are served under debug/view.
#[tokio::test]
async fn the_debug_view_files_are_served() {
    let server = Server::start().await;
    let utils = server.get("debug/view/debug-utils.js").await;
    assert_eq!(utils.status, 200);
    assert_eq!(
        utils.header("content-type"),
        Some("application/javascript; charset=utf-8")
    );
    assert!(utils.text().contains("RED.debug"), "{}", utils.text());
    let view = server.get("debug/view/view.html").await;
    assert_eq!(view.status, 200);
    assert!(view.text().contains("<html"));
    assert_eq!(server.get("debug/view/debug.js").await.status, 200);
    assert_not_found(&server.get("debug/view/nothing.js").await, "debug/view");
}
