//! The desk's log files: one per day under `<data dir>/logs`, the oldest deleted so a
//! front-desk PC that runs for years never fills its disk. The app and the agent both
//! log through this.

use std::path::Path;

use tracing_appender::rolling::{InitError, RollingFileAppender, Rotation};

/// Days of logs kept (IT collects them when something went wrong this week or last).
pub const LOG_DAYS: usize = 14;

/// A daily file `<dir>/<name>.<date>`, keeping the newest [`LOG_DAYS`] files of that name.
pub fn daily_files(dir: &Path, name: &str) -> Result<RollingFileAppender, InitError> {
    RollingFileAppender::builder().rotation(Rotation::DAILY).filename_prefix(name).max_log_files(LOG_DAYS).build(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn old_days_are_pruned_to_the_limit_and_other_files_kept() {
        let dir = tempfile::tempdir().unwrap();
        for day in 1..=20 {
            std::fs::write(dir.path().join(format!("app.log.2026-01-{day:02}")), "old").unwrap();
        }
        std::fs::write(dir.path().join("notes.txt"), "IT's own file").unwrap();
        let mut files = daily_files(dir.path(), "app.log").unwrap();
        // Pruning happens when a file is opened for a new day, which the first write does.
        std::io::Write::write_all(&mut files, b"today\n").unwrap();
        std::io::Write::flush(&mut files).unwrap();
        drop(files);
        let mut names: Vec<_> =
            std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
        names.sort();
        let logs = names.iter().filter(|n| n.starts_with("app.log")).count();
        assert!(logs <= LOG_DAYS, "{names:?}");
        assert!(names.contains(&"notes.txt".to_owned()));
        // tracing-appender deletes the files created longest ago; these were all made
        // within a moment, so which 7 of them went is not known, only that today's stays.
        let today = format!("app.log.{}", chrono::Utc::now().format("%Y-%m-%d"));
        assert!(names.contains(&today), "{names:?}");
    }
}
