//! The HTTP API as an OpenAPI 3 document, generated from the handlers' own annotations
//! and the wire types of `frontdesk-protocol` (never written by hand beside them). Served
//! at `GET /api/v1/openapi.json`; `docs/openapi.json` is the same document, kept equal by
//! a test (`UPDATE_OPENAPI=1` rewrites it).

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::{admin, auth, desks, locations, members, ops, poll, staff, visits};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Frontdesk",
        description = "The gym front-desk server's HTTP API (v1 and this server's extensions; docs/protocol.md). \
                       Errors are `{code, message}`. The WebSocket (`GET /ws`) is described in docs/protocol.md.",
    ),
    paths(
        auth::login, auth::refresh, auth::logout,
        members::search, members::fetch, members::sync, members::create, members::update,
        members::replace_card, members::renew, members::freeze, members::unfreeze, members::cards,
        locations::list, locations::create, locations::update,
        visits::check_in, visits::check_out, visits::list, visits::stats, visits::review,
        poll::events,
        admin::audit, admin::users, admin::disable, admin::enable,
        desks::report, desks::list,
        staff::create, staff::update, staff::set_password,
        ops::healthz, ops::readyz, ops::metrics,
    ),
    modifiers(&BearerAuth),
    tags(
        (name = "auth", description = "Signing in, refreshing, signing out"),
        (name = "commands", description = "Check-ins and check-outs over HTTP (each once per op_id)"),
        (name = "members", description = "The member list"),
        (name = "visits", description = "Visits, stats and review decisions"),
        (name = "events", description = "The event stream by long-poll (the HTTP fallback)"),
        (name = "presence", description = "Extension presence: which desks are online"),
        (name = "admin", description = "Gyms, staff and the audit log"),
        (name = "operations", description = "Health, readiness and metrics"),
    ),
)]
pub struct ApiDoc;

/// Access tokens go in `Authorization: Bearer`.
struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("JWT").build()),
        );
    }
}

/// The document as served and as kept in `docs/openapi.json`.
pub fn document() -> String {
    ApiDoc::openapi().to_pretty_json().expect("the OpenAPI document serialises")
}

/// `GET /api/v1/openapi.json`.
pub async fn serve() -> axum::response::Response {
    use axum::response::IntoResponse;
    static DOC: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let body = DOC.get_or_init(document).clone();
    ([(axum::http::header::CONTENT_TYPE, "application/json")], body).into_response()
}

#[cfg(test)]
mod tests {
    /// `docs/openapi.json` is the generated document; `UPDATE_OPENAPI=1` rewrites it.
    #[test]
    fn docs_openapi_json_is_the_generated_document() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/openapi.json");
        let generated = super::document() + "\n";
        if std::env::var_os("UPDATE_OPENAPI").is_some() {
            std::fs::write(&path, &generated).expect("write docs/openapi.json");
            return;
        }
        let kept = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            kept == generated,
            "docs/openapi.json is not the document the server generates; run \
             `UPDATE_OPENAPI=1 cargo test -p frontdesk-server openapi` and commit it"
        );
    }
}
