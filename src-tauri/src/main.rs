// No console window behind the app on Windows release builds.
#![cfg_attr(all(not(debug_assertions), target_os = "windows"), windows_subsystem = "windows")]

fn main() {
    // `frontdesk doctor [--json]` checks the desk for IT and exits; no window opens.
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("doctor") {
        std::process::exit(frontdesk_app::doctor::run(&args[1..]));
    }
    frontdesk_app::run();
}
