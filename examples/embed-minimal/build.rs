// The webview loads `ui/latchkey.js`, a copy of the plugin's guest JS (no
// bundler): the build fails when the copy drifts from the original.
fn main() {
    const COPY: &str = "ui/latchkey.js";
    const ORIGINAL: &str = "../../crates/tauri-plugin-latchkey/guest-js/index.js";
    println!("cargo:rerun-if-changed={COPY}");
    println!("cargo:rerun-if-changed={ORIGINAL}");
    // Another checkout sharing the target dir runs this again (scripts/common.sh).
    println!("cargo:rerun-if-env-changed=LATCHKEY_CHECKOUT");
    let read = |path| std::fs::read(path).unwrap_or_else(|err| panic!("cannot read {path}: {err}"));
    assert!(
        read(COPY) == read(ORIGINAL),
        "{COPY} differs from {ORIGINAL}: copy it again (cp {ORIGINAL} {COPY})"
    );
    tauri_build::build();
}
