//! Fetches the stock Node-RED editor (`@node-red/editor-client`), the core node
//! definitions (`@node-red/nodes`) and the dashboard's uPlot pinned in
//! `editor-static/package.json`, so that
//! `rust-embed` (runtime/src/admin/assets.rs) finds them: a release binary carries them,
//! a debug binary reads them from `editor-static/node_modules`.
//!
//! npm runs only when the installed editor is missing or is not the pinned version, so an
//! ordinary build neither needs the network nor npm.

use std::path::Path;
use std::process::Command;

fn main() {
    let manifest = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| ".".to_owned());
    let dir = Path::new(&manifest).join("../editor-static");
    let package = dir.join("package.json");
    let lock = dir.join("package-lock.json");
    let installed = dir.join("node_modules/@node-red/editor-client/package.json");
    // The dashboard's chart library (runtime/src/admin/dashboard.rs embeds it).
    let uplot = dir.join("node_modules/uplot/package.json");
    for watched in [&package, &lock, &dir.join("nodes"), &installed, &uplot] {
        println!("cargo::rerun-if-changed={}", watched.display());
    }

    let pin = match std::fs::read_to_string(&package)
        .ok()
        .and_then(|text| string_after(&text, "\"@node-red/editor-client\""))
    {
        Some(pin) => pin,
        None => {
            println!(
                "cargo::error={} must pin \"@node-red/editor-client\" to an exact version",
                package.display()
            );
            return;
        }
    };
    // The editor asks for this version in GET settings; it must be the one embedded.
    println!("cargo::rustc-env=FERRITE_EDITOR_VERSION={pin}");

    let version = |path: &Path| {
        std::fs::read_to_string(path)
            .ok()
            .and_then(|text| string_after(&text, "\"version\""))
    };
    let uplot_pin = std::fs::read_to_string(&package)
        .ok()
        .and_then(|text| string_after(&text, "\"uplot\""));
    // An install from before uPlot was pinned has the editor but not uPlot: install again.
    if version(&installed).as_deref() == Some(pin.as_str()) && version(&uplot) == uplot_pin {
        return;
    }
    // `npm ci` installs exactly what the committed lock says; without a lock (someone
    // changed the pin and removed it) `npm install` writes a new one.
    let verb = if lock.exists() { "ci" } else { "install" };
    let status = Command::new("npm")
        .args([verb, "--omit=dev", "--no-audit", "--no-fund"])
        .current_dir(&dir)
        .status();
    match status {
        Ok(status) if status.success() => {}
        Ok(status) => println!(
            "cargo::error=`npm {verb}` in {} failed ({status}); the editor assets \
             (@node-red/editor-client {pin}) could not be fetched",
            dir.display()
        ),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => println!(
            "cargo::error=npm was not found: building Ferrite fetches the Node-RED editor \
             (@node-red/editor-client {pin}) with npm. Install it (Debian/Ubuntu: \
             `apt-get install npm`) and build again"
        ),
        Err(e) => println!("cargo::error=could not run npm: {e}"),
    }
}

/// The JSON string value that follows `key` (`"key": "value"`), without parsing the
/// whole file: a build script with serde_json would build it a second time for the host.
fn string_after(text: &str, key: &str) -> Option<String> {
    let rest = &text[text.find(key)? + key.len()..];
    let rest = rest.trim_start().strip_prefix(':')?.trim_start();
    let rest = rest.strip_prefix('"')?;
    Some(rest[..rest.find('"')?].to_owned())
}
