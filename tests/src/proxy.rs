//! A fault-injecting TCP proxy on 127.0.0.1 between desks and the server. It can cut
//! connections (FIN), reset them (RST), blackhole them (stop delivering bytes, keep the
//! sockets open), delay every chunk, refuse new connections, refuse WebSocket upgrades
//! the way a corporate proxy does, and follow the server to a new port after a restart.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Pass,
    /// Bytes vanish in both directions; connections stay open.
    Blackhole,
    /// New connections are closed at once.
    Refuse,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kill {
    None,
    Cut,
    Reset,
    /// Only the connections open now go dark; new ones pass.
    Blackhole,
}

struct Settings {
    target: String,
    mode: Mode,
    delay: Duration,
    block_upgrades: bool,
}

pub struct Proxy {
    pub addr: SocketAddr,
    settings: Arc<Mutex<Settings>>,
    kill: watch::Sender<(u64, Kill)>,
    /// The accept loop; aborted (and its listener closed) while the proxy is down.
    task: Mutex<tokio::task::JoinHandle<()>>,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.lock().unwrap().abort();
        self.cut();
    }
}

const BLOCKED_RESPONSE: &[u8] = b"HTTP/1.1 403 Forbidden\r\nContent-Type: text/html\r\nContent-Length: 30\r\n\
Connection: close\r\n\r\n<h1>Blocked by web filter</h1>";

impl Proxy {
    pub async fn start(target: &str) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let addr = listener.local_addr().expect("proxy addr");
        let settings = Arc::new(Mutex::new(Settings {
            target: target.to_owned(),
            mode: Mode::Pass,
            delay: Duration::ZERO,
            block_upgrades: false,
        }));
        let (kill, _) = watch::channel((0, Kill::None));
        let task = Mutex::new(accept_loop(listener, settings.clone(), kill.clone()));
        Proxy { addr, settings, kill, task }
    }

    /// Nothing listens on the proxy's address any more (every connection open is cut and
    /// new ones are refused by the OS, as when the server's machine is off the network).
    pub async fn go_down(&self) {
        let task = self.task.lock().unwrap();
        task.abort();
        drop(task);
        self.cut();
        // The listener is dropped with the aborted task; wait until the port refuses.
        let deadline = std::time::Instant::now() + crate::PATIENCE;
        while TcpStream::connect(self.addr).await.is_ok() {
            assert!(std::time::Instant::now() < deadline, "the proxy's port never closed");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Listens on the same address again after [`Proxy::go_down`].
    pub async fn come_back(&self) {
        let listener = TcpListener::bind(self.addr).await.expect("bind the proxy's address again");
        *self.task.lock().unwrap() = accept_loop(listener, self.settings.clone(), self.kill.clone());
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn with<R>(&self, f: impl FnOnce(&mut Settings) -> R) -> R {
        f(&mut self.settings.lock().unwrap())
    }

    fn kill_all(&self, kind: Kill) {
        self.kill.send_modify(|(epoch, k)| {
            *epoch += 1;
            *k = kind;
        });
    }

    /// The server moved (restart on a new port).
    pub fn set_target(&self, target: &str) {
        self.with(|s| s.target = target.to_owned());
    }

    pub fn set_mode(&self, mode: Mode) {
        self.with(|s| s.mode = mode);
    }

    pub fn set_delay(&self, delay: Duration) {
        self.with(|s| s.delay = delay);
    }

    pub fn block_upgrades(&self, on: bool) {
        self.with(|s| s.block_upgrades = on);
    }

    /// Closes every open connection (FIN).
    pub fn cut(&self) {
        self.kill_all(Kill::Cut);
    }

    /// Resets every open connection (RST).
    pub fn reset(&self) {
        self.kill_all(Kill::Reset);
    }

    /// Connections open now stop carrying bytes (a half-dead link); new ones work.
    pub fn blackhole_current(&self) {
        self.kill_all(Kill::Blackhole);
    }
}

fn accept_loop(
    listener: TcpListener,
    settings: Arc<Mutex<Settings>>,
    kill: watch::Sender<(u64, Kill)>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let Ok((client, _)) = listener.accept().await else { return };
            let settings = settings.clone();
            let kill = kill.subscribe();
            tokio::spawn(async move {
                let _ = handle(client, settings, kill).await;
            });
        }
    })
}

async fn handle(
    mut client: TcpStream,
    settings: Arc<Mutex<Settings>>,
    mut kill: watch::Receiver<(u64, Kill)>,
) -> std::io::Result<()> {
    kill.borrow_and_update();
    let (target, mode, block_upgrades) = {
        let s = settings.lock().unwrap();
        (s.target.clone(), s.mode, s.block_upgrades)
    };
    match mode {
        Mode::Refuse => return Ok(()),
        Mode::Blackhole => {
            // Accept, then never answer.
            let mut sink = [0u8; 4096];
            loop {
                tokio::select! {
                    r = client.read(&mut sink) => if matches!(r, Ok(0) | Err(_)) { return Ok(()) },
                    _ = kill.changed() => return Ok(()),
                }
            }
        }
        Mode::Pass => {}
    }
    // Read the request head, to refuse upgrades like a filtering proxy would.
    let mut head = Vec::new();
    let mut buf = [0u8; 8192];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 64 * 1024 {
        let n = client.read(&mut buf).await?;
        if n == 0 {
            return Ok(());
        }
        head.extend_from_slice(&buf[..n]);
    }
    if block_upgrades && String::from_utf8_lossy(&head).to_ascii_lowercase().contains("upgrade: websocket") {
        client.write_all(BLOCKED_RESPONSE).await?;
        client.shutdown().await?;
        return Ok(());
    }
    let mut server = TcpStream::connect(&target).await?;
    server.write_all(&head).await?;
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    pump(client, server, settings, kill).await
}

async fn pump(
    client: TcpStream,
    server: TcpStream,
    settings: Arc<Mutex<Settings>>,
    mut kill: watch::Receiver<(u64, Kill)>,
) -> std::io::Result<()> {
    let (mut cr, mut cw) = client.into_split();
    let (mut sr, mut sw) = server.into_split();
    let mut dark = false;
    let mut up = [0u8; 16384];
    let mut down = [0u8; 16384];
    loop {
        let delay = settings.lock().unwrap().delay;
        tokio::select! {
            r = cr.read(&mut up) => {
                let n = r?;
                if n == 0 { return Ok(()) }
                if !dark {
                    if !delay.is_zero() { tokio::time::sleep(delay).await; }
                    sw.write_all(&up[..n]).await?;
                }
            }
            r = sr.read(&mut down) => {
                let n = r?;
                if n == 0 { return Ok(()) }
                if !dark {
                    if !delay.is_zero() { tokio::time::sleep(delay).await; }
                    cw.write_all(&down[..n]).await?;
                }
            }
            changed = kill.changed() => {
                if changed.is_err() { return Ok(()) }
                let kind = kill.borrow_and_update().1;
                match kind {
                    Kill::Cut => return Ok(()),
                    Kill::Reset => {
                        let client = cr.reunite(cw).map_err(|e| std::io::Error::other(e.to_string()))?;
                        let server = sr.reunite(sw).map_err(|e| std::io::Error::other(e.to_string()))?;
                        // Zero linger: close sends RST at once (and does not block).
                        let _ = socket2::SockRef::from(&client).set_linger(Some(Duration::ZERO));
                        let _ = socket2::SockRef::from(&server).set_linger(Some(Duration::ZERO));
                        return Ok(());
                    }
                    Kill::Blackhole => dark = true,
                    Kill::None => {}
                }
            }
        }
    }
}
