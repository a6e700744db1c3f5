//! How a command or a desk reached the server. Its own room so that presence (which
//! remembers a desk's last transport) and the command path (which labels its metrics by
//! it) both use it without depending on each other.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    WebSocket,
    Http,
}

impl Transport {
    /// The metrics label.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::WebSocket => "ws",
            Self::Http => "http",
        }
    }

    /// The name in `DeskPresence.transport` (extension `presence`).
    pub fn presence_name(self) -> &'static str {
        match self {
            Self::WebSocket => "websocket",
            Self::Http => "http",
        }
    }
}
