/// The commands the webview may call; each becomes a permission `allow-<name>` that
/// `capabilities/main-window.json` grants. A command missing here cannot be called.
const COMMANDS: &[&str] = &[
    "app_info",
    "session",
    "sign_in",
    "sign_out",
    "check_in",
    "check_out",
    "search_members",
    "snapshot",
    "retry_now",
    "manager_overview",
    "review",
    "create_member",
    "update_member_contact",
    "replace_card",
    "renew_member",
    "freeze_member",
    "unfreeze_member",
    "locations",
    "users",
    "create_user",
    "update_user",
    "reset_password",
    "set_user_disabled",
];

fn main() {
    // The app's config lives at the workspace root (the project's given layout), so
    // point tauri-build at it; paths inside it are relative to the root.
    let attributes = tauri_build::Attributes::new()
        .config_path("../tauri.conf.json")
        .app_manifest(tauri_build::AppManifest::new().commands(COMMANDS));
    // The binary embeds the built UI; rebuild it whenever `ui/dist` changes (the macro
    // that embeds it is not tracked by cargo on its own).
    println!("cargo:rerun-if-changed=../ui/dist");
    tauri_build::try_build(attributes).expect("tauri.conf.json at the workspace root could not be used");
}
