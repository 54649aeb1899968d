fn main() {
    // Paths of this checkout end up in the build's outputs: another checkout
    // sharing the target dir (scripts/common.sh sets LATCHKEY_CHECKOUT) must
    // run this again.
    println!("cargo:rerun-if-env-changed=LATCHKEY_CHECKOUT");
    tauri_build::try_build(tauri_build::Attributes::new().app_manifest(
        tauri_build::AppManifest::new().commands(&[
            "get_state",
            "dismiss_notice",
            "subscribe",
            "start_sign_in",
            "start_device_sign_in",
            "open_sign_in_again",
            "cancel_sign_in",
            "rename_account",
            "make_default_account",
            "reauthenticate_account",
            "sign_out_account",
            "retry_account",
            "refresh_account",
            "sign_in_link",
            "open_folder",
            "provider_presets",
            "provider_draft",
            "check_provider",
            "save_provider",
            "remove_provider",
        ]),
    ))
    .expect("failed to run tauri-build");
}
