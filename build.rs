//! Link settings for the `ferrite` binary's release build, which shape its memory after start.
//!
//! * `scripts/hot-functions.txt` lists the functions a start and the first messages run
//!   (`scripts/hot-functions` records it under callgrind, with the names both the release
//!   and the `cargo bench` builds give them). The linker places them together,
//!   so a start touches about 3 MB of code instead of faulting in 64 KB windows scattered
//!   over all 13 MB of `.text`. Names it no longer finds are skipped silently: a stale list
//!   costs memory, never a failed build.
//! * Relative relocations are packed (`DT_RELR`), so the 900 KB `.rela.dyn` table is not
//!   read in at every start.
//!
//! Both need LLD, rustc's default linker for x86_64-unknown-linux-gnu since 1.90; with any
//! other target or a linker chosen in RUSTFLAGS the defaults are kept.

use std::env;

fn main() {
    println!("cargo:rerun-if-changed=scripts/hot-functions.txt");
    println!("cargo:rerun-if-env-changed=CARGO_ENCODED_RUSTFLAGS");
    let release = env::var("PROFILE").is_ok_and(|p| p == "release");
    let default_lld = env::var("TARGET").is_ok_and(|t| t == "x86_64-unknown-linux-gnu")
        && !env::var("CARGO_ENCODED_RUSTFLAGS")
            .is_ok_and(|flags| flags.contains("linker") || flags.contains("link-self-contained"));
    if !(release && default_lld) {
        return;
    }
    let order = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/hot-functions.txt");
    println!("cargo:rustc-link-arg-bins=-Wl,--symbol-ordering-file={order}");
    println!("cargo:rustc-link-arg-bins=-Wl,--no-warn-symbol-ordering");
    println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
}
