//! Drives the real desktop app (`frontdesk`) through WebDriver: `tauri-driver` in front of
//! WebKitWebDriver, on the X display the test run provides (scripts/test.sh runs the
//! tests under Xvfb and a D-Bus session with gnome-keyring, which the app uses for its
//! sign-in). Elements are found by the `data-testid` handles of docs/app.md ("Test handles") only.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use tokio::process::{Child, Command};

use crate::{PATIENCE, workspace_binary};

pub fn app_binary() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| match std::env::var_os("FRONTDESK_APP_BIN") {
        Some(path) => PathBuf::from(path),
        None => workspace_binary("frontdesk-app", "frontdesk"),
    })
    .clone()
}

fn tauri_driver() -> PathBuf {
    if let Some(path) = std::env::var_os("TAURI_DRIVER") {
        return PathBuf::from(path);
    }
    let in_cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
        .map(|d| d.join("bin/tauri-driver"));
    match in_cargo_home {
        Some(p) if p.exists() => p,
        _ => PathBuf::from("tauri-driver"),
    }
}

/// App tests need a display, tauri-driver and a keychain; say so plainly.
pub fn require_desktop() {
    crate::agent::require_keychain();
    assert!(
        std::env::var_os("DISPLAY").is_some(),
        "app tests need an X display: run them through ./scripts/test.sh (it uses xvfb-run)"
    );
}

/// Where screenshots of each step go: `test-artifacts/<test>/` in the workspace.
pub fn artifacts_dir(test: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../test-artifacts").join(test);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create test-artifacts dir");
    dir
}

/// Two distinct free ports (both held while choosing, so they cannot coincide).
fn free_ports() -> (u16, u16) {
    let a = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let b = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    (a.local_addr().unwrap().port(), b.local_addr().unwrap().port())
}

pub struct App {
    pub client: Client,
    driver: Child,
    artifacts: PathBuf,
    shots: usize,
    /// When the WebDriver session (and so the app process) was asked for.
    pub launched_at: Instant,
}

impl App {
    /// Launches the app with `env` (its configuration: FRONTDESK_SERVER, …) through a
    /// fresh tauri-driver.
    pub async fn launch(env: &[(&str, String)], artifacts: PathBuf) -> App {
        require_desktop();
        let (port, native_port) = free_ports();
        let log = std::fs::File::create(artifacts.join("tauri-driver.log")).unwrap();
        let mut cmd = Command::new(tauri_driver());
        cmd.args(["--port", &port.to_string(), "--native-port", &native_port.to_string()])
            .stdout(Stdio::from(log.try_clone().unwrap()))
            .stderr(Stdio::from(log))
            .kill_on_drop(true);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let driver = cmd.spawn().unwrap_or_else(|e| {
            panic!("cannot start tauri-driver ({e}); install it with `cargo install --locked tauri-driver` (scripts/test.sh does)")
        });
        let url = format!("http://127.0.0.1:{port}");
        // tauri-driver listens at once but starts WebKitWebDriver (on the native port)
        // beside it; a session asked for before that one listens fails to connect.
        let deadline = Instant::now() + PATIENCE;
        for listening in [port, native_port] {
            while tokio::net::TcpStream::connect(("127.0.0.1", listening)).await.is_err() {
                assert!(
                    Instant::now() < deadline,
                    "tauri-driver or WebKitWebDriver did not listen on port {listening}"
                );
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        let mut caps = serde_json::Map::new();
        caps.insert("browserName".into(), "wry".into());
        caps.insert("tauri:options".into(), serde_json::json!({ "application": app_binary().display().to_string() }));
        let launched_at = Instant::now();
        let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps)
            .connect(&url)
            .await
            .unwrap_or_else(|e| panic!("the app did not start under WebDriver: {e}; see {}", artifacts.display()));
        App { client, driver, artifacts, shots: 0, launched_at }
    }

    fn by_testid(testid: &str) -> String {
        format!("[data-testid=\"{testid}\"]")
    }

    /// Waits for an element to exist.
    pub async fn wait(&self, testid: &str) -> Element {
        self.wait_css(&Self::by_testid(testid)).await
    }

    pub async fn wait_css(&self, css: &str) -> Element {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Ok(el) = self.client.find(Locator::Css(css)).await {
                return el;
            }
            assert!(Instant::now() < deadline, "no element {css} appeared");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until `check` holds for the element's (attribute value, text); returns them.
    pub async fn wait_until(
        &self,
        testid: &str,
        attribute: &str,
        what: &str,
        check: impl Fn(Option<&str>, &str) -> bool,
    ) -> (Option<String>, String) {
        let css = Self::by_testid(testid);
        let deadline = Instant::now() + PATIENCE;
        let mut last = (None, String::new());
        loop {
            if let Ok(el) = self.client.find(Locator::Css(&css)).await {
                let attr = el.attr(attribute).await.ok().flatten();
                let text = el.text().await.unwrap_or_default();
                if check(attr.as_deref(), &text) {
                    return (attr, text);
                }
                last = (attr, text);
            }
            if Instant::now() >= deadline {
                if let Ok(png) = self.client.screenshot().await {
                    let _ = std::fs::write(self.artifacts.join(format!("timeout-{testid}.png")), png);
                }
                panic!("{testid}: {what} did not happen; last {attribute}={:?} text={:?}", last.0, last.1);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn wait_attr(&self, testid: &str, attribute: &str, value: &str) -> String {
        self.wait_until(testid, attribute, &format!("{attribute}={value}"), |a, _| a == Some(value)).await.1
    }

    pub async fn wait_text(&self, testid: &str, text: &str) {
        self.wait_until(testid, "data-testid", &format!("text {text:?}"), |_, t| t.trim() == text).await;
    }

    pub async fn type_into(&self, testid: &str, text: &str) {
        self.wait(testid).await.send_keys(text).await.expect("type");
    }

    /// Replaces the text of a field (a prefilled one: a date, a suggestion).
    pub async fn retype(&self, testid: &str, text: &str) {
        let field = self.wait(testid).await;
        field.clear().await.expect("clear");
        field.send_keys(text).await.expect("type");
    }

    /// Presses a key (WebDriver key code, e.g. `"\u{E00C}"` for Escape) where the focus is.
    pub async fn press(&self, key: &str) {
        let focused = self.client.active_element().await.expect("a focused element");
        focused.send_keys(key).await.expect("key press");
    }

    /// Waits until the focused element is the one with this handle.
    pub async fn wait_focused(&self, testid: &str) {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let focused = match self.client.active_element().await {
                Ok(el) => el.attr("data-testid").await.ok().flatten(),
                Err(_) => None,
            };
            if focused.as_deref() == Some(testid) {
                return;
            }
            assert!(Instant::now() < deadline, "{testid} did not get the focus (focused: {focused:?})");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until a field holds `value` (its live value, not the HTML attribute).
    pub async fn wait_value(&self, testid: &str, value: &str) {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let current = self.wait(testid).await.prop("value").await.ok().flatten();
            if current.as_deref() == Some(value) {
                return;
            }
            assert!(Instant::now() < deadline, "{testid} does not hold {value:?} (holds {current:?})");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until no element has this handle (a form closed).
    pub async fn wait_gone(&self, testid: &str) {
        let deadline = Instant::now() + PATIENCE;
        while self.client.find(Locator::Css(&Self::by_testid(testid))).await.is_ok() {
            assert!(Instant::now() < deadline, "{testid} is still shown");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn click(&self, testid: &str) {
        self.wait(testid).await.click().await.expect("click");
    }

    pub async fn click_css(&self, css: &str) {
        self.wait_css(css).await.click().await.expect("click");
    }

    /// Scans a card as a keyboard-wedge reader does: the code, then Enter.
    pub async fn scan(&self, card: &str) {
        self.type_into("scan-input", &format!("{card}\u{E007}")).await;
    }

    pub async fn text(&self, testid: &str) -> String {
        self.wait(testid).await.text().await.expect("text")
    }

    /// Every element with this handle, as (attributes asked for, text).
    pub async fn all(&self, testid: &str, attributes: &[&str]) -> Vec<(Vec<Option<String>>, String)> {
        let mut out = Vec::new();
        for el in self.client.find_all(Locator::Css(&Self::by_testid(testid))).await.unwrap_or_default() {
            let mut attrs = Vec::new();
            for a in attributes {
                attrs.push(el.attr(a).await.ok().flatten());
            }
            out.push((attrs, el.text().await.unwrap_or_default()));
        }
        out
    }

    /// Sets the window's size (a front-desk PC's screen, say) and waits until the page
    /// has been laid out at it.
    pub async fn resize(&self, width: u32, height: u32) {
        self.client.set_window_size(width, height).await.expect("resize the window");
        let deadline = Instant::now() + PATIENCE;
        loop {
            let seen = self
                .client
                .execute("return [window.innerWidth, window.innerHeight];", vec![])
                .await
                .expect("read the viewport");
            let fits = |i: usize, want: u32| seen[i].as_u64().is_some_and(|v| v.abs_diff(u64::from(want)) <= 40);
            if fits(0, width) && fits(1, height) {
                return;
            }
            assert!(Instant::now() < deadline, "the window never took {width}x{height}: viewport {seen}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// What is cut off: each handle whose element is missing, empty or not wholly inside
    /// the viewport, and a page that scrolls sideways. Empty when everything shows.
    pub async fn cut_off(&self, testids: &[&str]) -> Vec<String> {
        const SCRIPT: &str = r#"
            const ids = arguments[0];
            const root = document.documentElement;
            const vw = root.clientWidth, vh = root.clientHeight;
            const out = [];
            if (root.scrollWidth > vw + 1) out.push(`the page scrolls sideways (${root.scrollWidth} > ${vw})`);
            for (const id of ids) {
                const el = document.querySelector(`[data-testid="${id}"]`);
                if (!el) { out.push(`${id}: missing`); continue; }
                const r = el.getBoundingClientRect();
                if (r.width < 1 || r.height < 1 || r.left < -1 || r.top < -1 || r.right > vw + 1 || r.bottom > vh + 1)
                    out.push(`${id}: ${Math.round(r.left)},${Math.round(r.top)} to ${Math.round(r.right)},${Math.round(r.bottom)} in ${vw}x${vh}`);
                if (el.scrollWidth > el.clientWidth + 1 && getComputedStyle(el).overflowX === "hidden"
                    && getComputedStyle(el).textOverflow !== "ellipsis")
                    out.push(`${id}: its text is clipped (${el.scrollWidth} > ${el.clientWidth})`);
            }
            return out;"#;
        let found = self.client.execute(SCRIPT, vec![serde_json::json!(testids)]).await.expect("measure the layout");
        found.as_array().map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect()).unwrap_or_default()
    }

    /// Saves a screenshot of the window as the next numbered artifact.
    pub async fn shot(&mut self, step: &str) {
        // What the page shows now, painted: wait for two animation frames, so the picture
        // is not the frame before the change the test just saw in the DOM.
        let _ = self
            .client
            .execute_async(
                "const done = arguments[arguments.length - 1]; \
                 requestAnimationFrame(() => requestAnimationFrame(() => done(true)));",
                vec![],
            )
            .await;
        self.shots += 1;
        let png = self.client.screenshot().await.expect("screenshot");
        std::fs::write(self.artifacts.join(format!("{:02}-{step}.png", self.shots)), png).expect("write screenshot");
    }

    /// Closes the window (the app exits) and stops the driver.
    pub async fn quit(mut self) {
        let _ = self.client.close().await;
        let _ = self.driver.kill().await;
    }

    /// Memory of the app and its WebKit helper processes (Linux /proc; for the bench):
    /// per process, its name, resident KiB and proportional KiB (shared pages split
    /// between the processes that map them, so the PSS figures add up honestly).
    pub fn app_memory(&self) -> Vec<(String, u64, u64)> {
        let Some(name) = app_binary().file_name().map(|n| n.to_string_lossy().chars().take(15).collect::<String>())
        else {
            return Vec::new();
        };
        let kib = |text: &str, key: &str| {
            text.lines()
                .find(|l| l.starts_with(key))
                .and_then(|l| l[key.len()..].split_whitespace().next()?.parse::<u64>().ok())
                .unwrap_or(0)
        };
        let mut procs = Vec::new();
        for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
            let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else { continue };
            let Ok(status) = std::fs::read_to_string(entry.path().join("status")) else { continue };
            let proc_name = status.lines().next().and_then(|l| l.strip_prefix("Name:")).unwrap_or("").trim().to_owned();
            procs.push((pid, kib(&status, "PPid:") as u32, proc_name, kib(&status, "VmRSS:")));
        }
        let mut tree: Vec<u32> = procs.iter().filter(|p| p.2 == name).map(|p| p.0).collect();
        let mut i = 0;
        while i < tree.len() {
            let parent = tree[i];
            tree.extend(procs.iter().filter(|p| p.1 == parent).map(|p| p.0));
            i += 1;
        }
        procs
            .iter()
            .filter(|p| tree.contains(&p.0))
            .map(|p| {
                let pss = std::fs::read_to_string(format!("/proc/{}/smaps_rollup", p.0))
                    .map(|t| kib(&t, "Pss:"))
                    .unwrap_or(0);
                (p.2.clone(), p.3, pss)
            })
            .collect()
    }
}
