//! A config file as IT writes it: the desk's `config.toml` (first byte even) or the
//! server's `server.toml` (odd), read through the same functions as at start. A broken
//! file is an error naming the problem, never a panic.
#![no_main]

use std::io::Write;

use clap::Parser;
use libfuzzer_sys::fuzz_target;

struct NoEnv;

impl frontdesk_server::config::Env for NoEnv {
    fn var(&self, _: &str) -> Option<String> {
        None
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&pick, text)) = data.split_first() else { return };
    let mut file = tempfile::NamedTempFile::new().expect("temp file");
    file.write_all(text).expect("write");
    let path = file.path().to_owned();
    if pick & 1 == 0 {
        if let Ok(layer) = frontdesk_desk::config::ConfigLayer::from_file(&path) {
            let _ = frontdesk_desk::config::resolve(layer, Default::default(), Default::default());
        }
    } else {
        let cli = frontdesk_server::config::Cli::parse_from(["frontdesk-server", "--config", &path.to_string_lossy()]);
        let _ = frontdesk_server::config::Settings::load(&cli, &NoEnv);
    }
});
