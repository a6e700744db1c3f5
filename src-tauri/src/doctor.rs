//! `frontdesk doctor [--json]`: the desk library's checks with the app's own
//! configuration (docs/app.md, "Configuration (for IT)"), run before any window opens.
//! On Windows the app has no console of its own; redirect the output
//! (`frontdesk doctor > report.txt`) or run `frontdesk-agent doctor` there.

use std::sync::Arc;

use frontdesk_desk::Keychain;
use frontdesk_desk::doctor;
use frontdesk_desk::secrets::SecretStore;

/// Runs the checks and returns the exit status: 0 when the desk can work live.
pub fn run(args: &[String]) -> i32 {
    let json = match args {
        [] => false,
        [flag] if flag == "--json" => true,
        _ => {
            eprintln!("usage: frontdesk doctor [--json]");
            return 2;
        }
    };
    let (target, settings) = doctor::app_target();
    let entries = target.as_ref().ok().map(|t| {
        let desk: Arc<dyn SecretStore> = Arc::new(Keychain::for_desk(&t.server, &t.desk_id));
        let probe: Arc<dyn SecretStore> = Arc::new(probe_entry(&t.desk_id));
        (desk, probe)
    });
    let (desk_entry, probe_entry) = match entries {
        Some((d, p)) => (Some(d), Some(p)),
        None => (None, Some(Arc::new(probe_entry("unconfigured")) as Arc<dyn SecretStore>)),
    };
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("frontdesk doctor: cannot start: {e}");
            return 2;
        }
    };
    let report = runtime.block_on(doctor::examine(target, settings, desk_entry, probe_entry));
    if json {
        println!("{}", serde_json::to_string(&report).expect("reports serialise"));
    } else {
        print!("{}", report.human());
    }
    if report.ok { 0 } else { 1 }
}

/// A scratch keychain entry of its own for each run, so two doctors never race.
fn probe_entry(desk_id: &str) -> Keychain {
    Keychain::for_desk("frontdesk-doctor", &format!("{desk_id}-{}", uuid::Uuid::new_v4()))
}
