//! Runs the real `frontdesk-agent` binary as a desk: scans in on stdin, JSON lines read
//! from stdout, the real keychain (the test run provides a D-Bus session with
//! gnome-keyring; see scripts/test.sh).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::OnceLock;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, Command};
use tokio::sync::mpsc;

use crate::{PATIENCE, workspace_binary};

pub fn agent_binary() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| workspace_binary("frontdesk-agent", "frontdesk-agent")).clone()
}

/// Agents keep their refresh token in the real keychain; say so plainly when the test
/// run has none instead of failing obscurely.
pub fn require_keychain() {
    assert!(
        std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some(),
        "desk tests need a real keychain: run them through ./scripts/test.sh, which starts a D-Bus \\
         session with gnome-keyring (or run `dbus-run-session` yourself)"
    );
}

pub struct AgentOptions {
    pub server: String,
    pub desk_id: String,
    pub data_dir: PathBuf,
    /// Sign-in for the first start; later starts use the keychain.
    pub credentials: Option<(String, String)>,
    pub extra_args: Vec<String>,
}

pub struct Agent {
    child: Option<Child>,
    stdin: Option<ChildStdin>,
    lines: mpsc::UnboundedReceiver<Value>,
    /// Every line read so far, in order.
    pub seen: Vec<Value>,
    pub data_dir: PathBuf,
    stderr_log: PathBuf,
}

impl Agent {
    pub async fn start(options: AgentOptions) -> Agent {
        require_keychain();
        std::fs::create_dir_all(&options.data_dir).unwrap();
        let stderr_log = options.data_dir.join("agent-stderr.log");
        let mut cmd = Command::new(agent_binary());
        cmd.args([
            "--server",
            &options.server,
            "--location",
            crate::LOCATION,
            "--desk-id",
            &options.desk_id,
            "--data-dir",
        ])
        .arg(&options.data_dir)
        .args(&options.extra_args)
        .env_remove("FRONTDESK_USERNAME")
        .env_remove("FRONTDESK_PASSWORD")
        .env("FRONTDESK_LOG", "info")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::from(
            std::fs::OpenOptions::new().create(true).append(true).open(&stderr_log).expect("stderr log"),
        ))
        .kill_on_drop(true);
        if let Some((user, password)) = &options.credentials {
            cmd.env("FRONTDESK_USERNAME", user).env("FRONTDESK_PASSWORD", password);
        }
        let mut child = cmd.spawn().expect("spawn frontdesk-agent");
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().expect("stdout");
        let (tx, lines) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            let mut reader = BufReader::new(stdout).lines();
            while let Ok(Some(line)) = reader.next_line().await {
                let value: Value = serde_json::from_str(&line)
                    .unwrap_or_else(|e| panic!("agent stdout must be JSON lines only, got {line:?}: {e}"));
                assert!(value["kind"].is_string(), "every line has a kind: {line}");
                if tx.send(value).is_err() {
                    return;
                }
            }
        });
        Agent { child: Some(child), stdin, lines, seen: Vec::new(), data_dir: options.data_dir, stderr_log }
    }

    pub async fn send_line(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("stdin open");
        stdin.write_all(format!("{line}\n").as_bytes()).await.expect("write scan");
        stdin.flush().await.expect("flush scan");
    }

    /// Closes standard input (end of scans).
    pub fn close_stdin(&mut self) {
        self.stdin = None;
    }

    /// Reads lines until one matches; everything read is kept in `seen`.
    pub async fn wait_for(&mut self, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        if let Some(v) = self.seen.iter().find(|v| pred(v)) {
            return v.clone();
        }
        self.next_matching(what, pred).await
    }

    /// Like [`Agent::wait_for`] but only among lines not read yet.
    /// One deadline for the whole wait: an agent that keeps printing other lines (state
    /// changes while it retries) must not keep a test waiting for ever.
    pub async fn next_matching(&mut self, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        let deadline = tokio::time::Instant::now() + PATIENCE * 4;
        loop {
            let line = tokio::time::timeout_at(deadline, self.lines.recv())
                .await
                .unwrap_or_else(|_| panic!("agent never printed {what}; last lines: {:?}", self.tail()))
                .unwrap_or_else(|| panic!("agent exited before printing {what}; last lines: {:?}", self.tail()));
            self.seen.push(line.clone());
            if pred(&line) {
                return line;
            }
        }
    }

    pub async fn next_state(&mut self, state: &str) -> Value {
        self.next_matching(&format!("state {state}"), |v| v["kind"] == "state" && v["state"] == state).await
    }

    /// Reads until `n` acks (first answers) have been seen in total.
    pub async fn acks(&mut self, n: usize) -> Vec<Value> {
        while self.of_kind("ack").len() < n {
            let have = self.of_kind("ack").len();
            self.next_matching(&format!("ack #{}", have + 1), |v| v["kind"] == "ack").await;
        }
        self.of_kind("ack")
    }

    /// Reads until the event with `seq` has been seen.
    pub async fn event_seq(&mut self, seq: i64) {
        if self.of_kind("event").iter().any(|e| e["seq"] == seq) {
            return;
        }
        self.next_matching(&format!("event {seq}"), |v| v["kind"] == "event" && v["seq"].as_i64() >= Some(seq)).await;
    }

    pub fn of_kind(&self, kind: &str) -> Vec<Value> {
        self.seen.iter().filter(|v| v["kind"] == kind).cloned().collect()
    }

    fn tail(&self) -> Vec<Value> {
        self.seen.iter().rev().take(8).rev().cloned().collect()
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().and_then(|c| c.id()).expect("agent running")
    }

    /// SIGKILL: a desk crash at an arbitrary instant.
    pub async fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill().await;
        }
        // Lines already printed are still readable.
        while let Ok(Some(line)) = tokio::time::timeout(std::time::Duration::from_millis(200), self.lines.recv()).await
        {
            self.seen.push(line);
        }
    }

    pub fn terminate(&self) {
        use nix::sys::signal::{Signal, kill};
        use nix::unistd::Pid;
        kill(Pid::from_raw(self.pid() as i32), Signal::SIGTERM).expect("SIGTERM");
    }

    pub async fn wait_exit(&mut self) -> std::process::ExitStatus {
        let mut child = self.child.take().expect("agent running");
        let status = tokio::time::timeout(PATIENCE * 4, child.wait()).await.expect("agent exits").expect("wait");
        while let Some(line) = self.lines.recv().await {
            self.seen.push(line);
        }
        status
    }

    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr_log).unwrap_or_default()
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        if let Some(child) = self.child.as_mut() {
            let _ = child.start_kill();
        }
    }
}

/// `frontdesk-agent status --data-dir …` as JSON.
pub async fn status(data_dir: &Path) -> Value {
    let out =
        Command::new(agent_binary()).arg("status").arg("--data-dir").arg(data_dir).output().await.expect("status");
    assert!(out.status.success(), "status failed: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("status prints JSON")
}

/// Waits until a desk's cached member list holds at least `members` (it must be cached
/// before the server goes away, or offline scans are rightly turned away as unknown).
/// Reads the desk's own store, which WAL lets a reader share.
pub async fn wait_for_roster(data_dir: &Path, members: i64) {
    let deadline = std::time::Instant::now() + PATIENCE;
    loop {
        if let Ok(outbox) = frontdesk_desk::outbox::Outbox::open(data_dir)
            && outbox.roster_size().unwrap_or(0) >= members
        {
            return;
        }
        assert!(std::time::Instant::now() < deadline, "the desk did not cache the member list");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}
