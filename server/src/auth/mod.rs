//! Identities: password hashes, access tokens (JWT), refresh tokens, login throttling.

pub mod jwt;
pub mod limiter;
pub mod password;
pub mod refresh;

use frontdesk_protocol::Role;

/// The staff member behind a request or session, from a verified access token.
#[derive(Debug, Clone)]
pub struct Actor {
    pub user_id: String,
    pub username: String,
    /// Display name, as shown to managers (desk presence).
    pub name: String,
    pub role: Role,
    pub locations: Vec<String>,
}

impl Actor {
    /// The server's own command line (`frontdesk-server admin …`), as the audit log names
    /// it: whoever can run it already holds the database.
    pub fn command_line() -> Self {
        Self {
            user_id: "command-line".into(),
            username: "server command line".into(),
            name: "Server command line".into(),
            role: frontdesk_protocol::Role::Admin,
            locations: Vec::new(),
        }
    }

    /// Admins work for every location; everyone else for the locations they are bound to.
    pub fn may_use_location(&self, location_id: &str) -> bool {
        self.role == Role::Admin || self.locations.iter().any(|l| l == location_id)
    }
}
