//! The typed boundary between Rust and the webview: every command and the update event,
//! collected once. `ui/src/bindings.ts` is generated from here by the test below and
//! never edited by hand; the test fails when the committed file is stale.

use crate::commands;
use crate::view::DeskUpdate;

pub fn builder() -> tauri_specta::Builder<tauri::Wry> {
    tauri_specta::Builder::<tauri::Wry>::new()
        // One TypeScript type per Rust type (not one per serde direction).
        .disable_serde_phases()
        .commands(tauri_specta::collect_commands![
            commands::app_info,
            commands::session,
            commands::sign_in,
            commands::sign_out,
            commands::check_in,
            commands::check_out,
            commands::search_members,
            commands::snapshot,
            commands::retry_now,
            commands::manager_overview,
            commands::review,
            commands::create_member,
            commands::update_member_contact,
            commands::replace_card,
            commands::renew_member,
            commands::freeze_member,
            commands::unfreeze_member,
            commands::locations,
            commands::users,
            commands::create_user,
            commands::update_user,
            commands::reset_password,
            commands::set_user_disabled,
        ])
        .events(tauri_specta::collect_events![DeskUpdate])
}

/// Writes the TypeScript bindings to `path`. Integers cross as JS numbers: each i64/u64
/// field is marked `specta(type = u32)` where it is defined (counts, seqs, minutes and
/// milliseconds a desk shows stay far below 2^32).
pub fn export_bindings(path: &std::path::Path) -> Result<(), String> {
    let typescript = specta_typescript::Typescript::default().header(
        "// Generated from src-tauri/src/view.rs and commands.rs by `cargo test -p frontdesk-app`. Do not edit.",
    );
    builder().export(typescript, path).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    /// The committed bindings match the Rust types. `UPDATE_BINDINGS=1` rewrites them.
    #[test]
    fn typescript_bindings_are_current() {
        let committed = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../ui/src/bindings.ts");
        let fresh = std::env::temp_dir().join(format!("frontdesk-bindings-{}.ts", std::process::id()));
        super::export_bindings(&fresh).expect("bindings export");
        let fresh_text = std::fs::read_to_string(&fresh).expect("read fresh bindings");
        let _ = std::fs::remove_file(&fresh);
        if std::env::var_os("UPDATE_BINDINGS").is_some() {
            std::fs::write(&committed, &fresh_text).expect("write ui/src/bindings.ts");
            return;
        }
        let current = std::fs::read_to_string(&committed).unwrap_or_default();
        assert!(
            current == fresh_text,
            "ui/src/bindings.ts is out of date with the Rust types: run `UPDATE_BINDINGS=1 cargo test -p frontdesk-app typescript_bindings` and commit it"
        );
    }
}
