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
    /// Admins work for every location; everyone else for the locations they are bound to.
    pub fn may_use_location(&self, location_id: &str) -> bool {
        self.role == Role::Admin || self.locations.iter().any(|l| l == location_id)
    }
}
