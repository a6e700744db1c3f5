//! `frontdesk-bench import`: how fast `frontdesk-server admin import-members` takes a
//! member CSV file while the server runs (docs/server.md "Setting up a real gym").
//!
//! Starts a server without demo data (SQLite in a temporary directory), creates a
//! location from the command line, writes a file of `--rows` generated members (every
//! column filled), and imports it three times: new (every row creates a member), the same
//! file again (every row unchanged), and a file renewing every member (every row
//! updates). Reports rows per second inside the command (its `elapsed_ms`: parsing,
//! matching and the one transaction) and for the whole process (start, open the store,
//! exit), and the database size.
//!
//! ```text
//! cargo run --release -p frontdesk-tests --bin frontdesk-bench -- import [--rows 50000]
//! ```

use std::time::Instant;

use anyhow::{Context, anyhow, bail};
use frontdesk_tests::{Server, ServerOptions, admin_command, write_member_csv};

#[derive(Debug, Clone)]
pub struct ImportArgs {
    rows: usize,
}

impl ImportArgs {
    pub const USAGE: &str = "usage: frontdesk-bench import [--rows 50000]";

    pub fn parse(mut raw: impl Iterator<Item = String>) -> anyhow::Result<Self> {
        let mut args = ImportArgs { rows: 50_000 };
        while let Some(flag) = raw.next() {
            let value = raw.next().ok_or_else(|| anyhow!("{flag} needs a value\n{}", Self::USAGE))?;
            match flag.as_str() {
                "--rows" => {
                    args.rows = value.trim().parse().with_context(|| format!("--rows {value}: not a whole number"))?
                }
                _ => bail!("unknown option {flag}\n{}", Self::USAGE),
            }
        }
        if args.rows == 0 {
            bail!("--rows must be above 0");
        }
        Ok(args)
    }
}

pub async fn run(args: ImportArgs) -> anyhow::Result<()> {
    let server = Server::start_with(ServerOptions { no_demo: true, ..Default::default() }).await;
    let created =
        admin_command(&server.data_dir, &["create-location", "--id", "main", "--name", "Bench Gym"], &[]).await;
    if created.code != Some(0) {
        bail!("create-location failed: {}", created.json);
    }
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("members.csv");
    write_member_csv(&file, "M", args.rows, "2099-12-31");
    let renewed = dir.path().join("renewed.csv");
    write_member_csv(&renewed, "M", args.rows, "2100-12-31");
    let bytes = std::fs::metadata(&file)?.len();
    println!(
        "import: {} rows, {:.1} MiB of CSV, server running on the same store",
        args.rows,
        bytes as f64 / 1048576.0
    );

    for (what, path, key) in
        [("new", &file, "created"), ("unchanged", &file, "unchanged"), ("renewed", &renewed, "updated")]
    {
        let started = Instant::now();
        let run =
            admin_command(&server.data_dir, &["import-members", "--location", "main", path.to_str().unwrap()], &[])
                .await;
        let wall = started.elapsed().as_secs_f64();
        if run.code != Some(0) || run.json[key].as_u64() != Some(args.rows as u64) {
            bail!("import ({what}) did not do what was expected: {} / {}", run.json, run.stderr);
        }
        let inside = run.json["elapsed_ms"].as_f64().unwrap_or(f64::NAN) / 1000.0;
        println!(
            "  {what:<9} {:>8.0} rows/s in the command ({:.2} s), {:>8.0} rows/s for the whole process ({:.2} s)",
            args.rows as f64 / inside,
            inside,
            args.rows as f64 / wall,
            wall
        );
    }
    let db = std::fs::metadata(server.data_dir.join("frontdesk.db")).map(|m| m.len()).unwrap_or(0);
    println!("  database: {:.1} MiB (WAL not included)", db as f64 / 1048576.0);
    Ok(())
}
