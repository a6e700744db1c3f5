//! The server's HTTP API as the desk uses it: sign-in, refresh, roster sync, and the
//! fallback transport (commands by POST with `Idempotency-Key`, events by long-poll).

use std::sync::Arc;
use std::time::Duration;

use chrono::NaiveDate;
use frontdesk_protocol::api::{
    CardReplacement, DeskPresence, ErrorBody, EventsPage, Freeze, LoginRequest, MemberPatch, MemberSyncPage, NewMember,
    NewUser, PasswordReset, RefreshRequest, Renewal, ReviewRequest, TokenPair, UserPatch, UserSummary,
};
use frontdesk_protocol::ws::{Ack, Command, PresenceReport};
use frontdesk_protocol::{IDEMPOTENCY_KEY_HEADER, Location, Member, RejectionCode, Stats, Visit};
use reqwest::StatusCode;

use crate::classify::Failure;
use crate::error::DeskError;
use crate::secrets::Secret;

/// How an HTTP call failed, in the terms the supervisor acts on.
#[derive(Debug, Clone, PartialEq)]
pub enum ApiFailure {
    /// 401: the access token (or, for refresh, the refresh token) was refused.
    Unauthorized { code: String },
    /// 403: this user may not do this (disabled, location revoked).
    Forbidden { message: String },
    /// 410: resume point too old; reload the view and follow from `last_seq`.
    ResyncRequired { last_seq: i64 },
    /// 429/5xx: the server asks to come back later.
    Busy { status: u16, retry_after: Option<Duration> },
    /// Any other answer the desk cannot use.
    Unexpected { status: u16, message: String },
    /// The request did not get an HTTP answer.
    Network(Failure),
}

impl ApiFailure {
    pub fn describe(&self) -> String {
        match self {
            Self::Unauthorized { .. } => "The sign-in is no longer valid.".into(),
            Self::Forbidden { message } => message.clone(),
            Self::ResyncRequired { .. } => "The desk's view is out of date and is being reloaded.".into(),
            Self::Busy { status, .. } => format!("The server is busy (HTTP {status}); the desk will retry."),
            Self::Unexpected { status, message } => format!("The server answered HTTP {status}: {message}"),
            Self::Network(f) => crate::classify::describe(f),
        }
    }
}

/// Maps a transport error to the failure table.
pub fn network_failure(err: &reqwest::Error) -> Failure {
    if err.is_timeout() {
        return Failure::ConnectTimeout;
    }
    let chain = error_chain(err);
    if chain.contains("dns error") || chain.contains("failed to lookup") || chain.contains("Name or service not known")
    {
        Failure::Dns
    } else if chain.contains("certificate") || chain.contains("tls") || chain.contains("TLS") {
        Failure::Tls(chain)
    } else if err.is_connect() {
        Failure::ConnectionRefused
    } else {
        Failure::Dropped
    }
}

pub fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// One path segment (an id), percent-encoded.
fn segment(id: &str) -> String {
    form_urlencoded::byte_serialize(id.as_bytes()).collect()
}

fn retry_after(response: &reqwest::Response) -> Option<Duration> {
    response
        .headers()
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()
        .map(Duration::from_secs)
}

#[derive(Clone)]
pub struct Api {
    http: reqwest::Client,
    base: String,
    /// The TLS settings the WebSocket uses too, so both trust the same certificates.
    tls: Arc<rustls::ClientConfig>,
}

impl Api {
    /// `server` is `http(s)://host:port`, with or without a trailing slash.
    pub fn new(server: &str) -> Result<Self, DeskError> {
        Self::with_ca_file(server, None)
    }

    /// As [`Api::new`], also trusting the gym's private CA (PEM) in `ca_file`.
    pub fn with_ca_file(server: &str, ca_file: Option<&std::path::Path>) -> Result<Self, DeskError> {
        let base = server.trim().trim_end_matches('/').to_owned();
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(DeskError::invalid_input(format!(
                "The server address {server:?} must start with http:// or https://, e.g. https://frontdesk.example:8080."
            )));
        }
        crate::tls::install_crypto_provider();
        let tls = crate::tls::client_config(ca_file).map_err(|e| {
            DeskError::invalid_input(format!("The desk's TLS settings cannot be used: {e}. Fix or remove ca_file."))
        })?;
        let http = reqwest::Client::builder()
            .tls_backend_preconfigured((*tls).clone())
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(40))
            .user_agent(concat!("frontdesk-desk/", env!("CARGO_PKG_VERSION")))
            // A Frontdesk server never redirects. Following one would send a sign-in's
            // password (307/308 resend the body) or a token to wherever it points, a
            // captive portal or worse; it is reported instead.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| {
                DeskError::new(crate::error::ErrorCode::HttpClient, format!("cannot set up HTTP: {e}"), false)
            })?;
        Ok(Self { http, base, tls })
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    pub fn tls_config(&self) -> Arc<rustls::ClientConfig> {
        self.tls.clone()
    }

    fn url(&self, path: &str) -> String {
        format!("{}/api/v1{path}", self.base)
    }

    /// The WebSocket address for a location, resuming after `after_seq`.
    pub fn ws_url(&self, location: &str, after_seq: Option<i64>) -> String {
        let ws_base = if let Some(rest) = self.base.strip_prefix("https://") {
            format!("wss://{rest}")
        } else {
            format!("ws://{}", self.base.trim_start_matches("http://"))
        };
        let location: String = form_urlencoded::byte_serialize(location.as_bytes()).collect();
        match after_seq {
            Some(seq) => format!("{ws_base}/ws?location={location}&after_seq={seq}"),
            None => format!("{ws_base}/ws?location={location}"),
        }
    }

    async fn failure(response: reqwest::Response) -> ApiFailure {
        let status = response.status();
        let retry = retry_after(&response);
        let body: Option<ErrorBody> = response.json().await.ok();
        let last_seq = body.as_ref().and_then(|b| b.last_seq).unwrap_or(0);
        let code = body.as_ref().map(|b| b.code.clone()).unwrap_or_default();
        let message = body.map(|b| b.message).unwrap_or_else(|| status.canonical_reason().unwrap_or("").to_owned());
        match status {
            StatusCode::UNAUTHORIZED => ApiFailure::Unauthorized { code },
            StatusCode::FORBIDDEN => ApiFailure::Forbidden { message },
            StatusCode::GONE => ApiFailure::ResyncRequired { last_seq },
            s if s == StatusCode::TOO_MANY_REQUESTS || s.is_server_error() => {
                ApiFailure::Busy { status: s.as_u16(), retry_after: retry }
            }
            s => ApiFailure::Unexpected { status: s.as_u16(), message },
        }
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> Result<reqwest::Response, ApiFailure> {
        request.send().await.map_err(|e| ApiFailure::Network(network_failure(&e)))
    }

    pub async fn login(&self, username: &str, password: &str, device_name: &str) -> Result<TokenPair, ApiFailure> {
        let body = LoginRequest {
            username: username.to_owned(),
            password: password.to_owned(),
            device_name: Some(device_name.to_owned()),
        };
        let response = self.send(self.http.post(self.url("/auth/login")).json(&body)).await?;
        if response.status().is_success() {
            return response.json().await.map_err(|e| ApiFailure::Network(Failure::Protocol(e.to_string())));
        }
        Err(Self::failure(response).await)
    }

    pub async fn refresh(&self, refresh: &Secret) -> Result<TokenPair, ApiFailure> {
        let body = RefreshRequest { refresh_token: refresh.expose().to_owned() };
        let response = self.send(self.http.post(self.url("/auth/refresh")).json(&body)).await?;
        if response.status().is_success() {
            return response.json().await.map_err(|e| ApiFailure::Network(Failure::Protocol(e.to_string())));
        }
        Err(Self::failure(response).await)
    }

    pub async fn logout(&self, refresh: &Secret) -> Result<(), ApiFailure> {
        let body = RefreshRequest { refresh_token: refresh.expose().to_owned() };
        let response = self.send(self.http.post(self.url("/auth/logout")).json(&body)).await?;
        if response.status().is_success() { Ok(()) } else { Err(Self::failure(response).await) }
    }

    pub async fn roster_page(&self, token: &Secret, after: Option<&str>) -> Result<MemberSyncPage, ApiFailure> {
        let mut request = self.http.get(self.url("/members/sync")).bearer_auth(token.expose());
        if let Some(cursor) = after {
            request = request.query(&[("after", cursor)]);
        }
        let response = self.send(request).await?;
        if response.status().is_success() {
            return response.json().await.map_err(|e| ApiFailure::Network(Failure::Protocol(e.to_string())));
        }
        Err(Self::failure(response).await)
    }

    /// Sends one command by HTTP. Business answers (accepted, rejected) come back as the
    /// same [`Ack`] the WebSocket would give.
    pub async fn post_command(&self, token: &Secret, command: &Command) -> Result<Ack, ApiFailure> {
        let path = match command {
            Command::CheckIn(_) => "/check-ins",
            Command::CheckOut(_) => "/check-outs",
        };
        let op_id = command.op_id();
        let response = self
            .send(
                self.http
                    .post(self.url(path))
                    .bearer_auth(token.expose())
                    .header(IDEMPOTENCY_KEY_HEADER, op_id.to_string())
                    .json(command),
            )
            .await?;
        let status = response.status();
        match status {
            StatusCode::CREATED | StatusCode::OK => {
                let body: frontdesk_protocol::api::CommandAccepted =
                    response.json().await.map_err(|e| ApiFailure::Network(Failure::Protocol(e.to_string())))?;
                let mut ack = Ack::accepted(op_id, body.check_in);
                ack.duplicate = body.duplicate;
                Ok(ack)
            }
            StatusCode::UNPROCESSABLE_ENTITY | StatusCode::BAD_REQUEST => {
                let body: ErrorBody =
                    response.json().await.map_err(|e| ApiFailure::Network(Failure::Protocol(e.to_string())))?;
                let code: RejectionCode = serde_json::from_value(serde_json::Value::String(body.code.clone()))
                    .unwrap_or(RejectionCode::InvalidRequest);
                let mut ack = Ack::rejected(op_id, code, body.message);
                ack.duplicate = body.duplicate.unwrap_or(false);
                Ok(ack)
            }
            _ => Err(Self::failure(response).await),
        }
    }

    /// Long-poll for events after `after_seq`, waiting up to `wait`.
    pub async fn events(
        &self,
        token: &Secret,
        location: &str,
        after_seq: i64,
        wait: Duration,
    ) -> Result<EventsPage, ApiFailure> {
        let request = self
            .http
            .get(self.url("/events"))
            .bearer_auth(token.expose())
            .query(&[
                ("location", location.to_owned()),
                ("after_seq", after_seq.to_string()),
                ("wait", wait.as_secs().to_string()),
            ])
            .timeout(wait + Duration::from_secs(10));
        let response = self.send(request).await?;
        if response.status().is_success() {
            return response.json().await.map_err(|e| ApiFailure::Network(Failure::Protocol(e.to_string())));
        }
        Err(Self::failure(response).await)
    }

    pub async fn stats(&self, token: &Secret, location: &str) -> Result<Stats, ApiFailure> {
        let response = self
            .send(self.http.get(self.url("/stats")).bearer_auth(token.expose()).query(&[("location", location)]))
            .await?;
        if response.status().is_success() {
            return response.json().await.map_err(|e| ApiFailure::Network(Failure::Protocol(e.to_string())));
        }
        Err(Self::failure(response).await)
    }

    pub async fn open_visits(&self, token: &Secret, location: &str) -> Result<Vec<Visit>, ApiFailure> {
        let response = self
            .send(
                self.http
                    .get(self.url("/check-ins"))
                    .bearer_auth(token.expose())
                    .query(&[("location", location), ("open", "true")]),
            )
            .await?;
        if response.status().is_success() {
            return response.json().await.map_err(|e| ApiFailure::Network(Failure::Protocol(e.to_string())));
        }
        Err(Self::failure(response).await)
    }

    /// A signed-in GET whose 2xx body is JSON.
    async fn get_json<T: serde::de::DeserializeOwned>(
        &self,
        token: &Secret,
        path: &str,
        query: &[(&str, &str)],
    ) -> Result<T, ApiFailure> {
        let response = self.send(self.http.get(self.url(path)).bearer_auth(token.expose()).query(query)).await?;
        if response.status().is_success() {
            return response.json().await.map_err(|e| ApiFailure::Network(Failure::Protocol(e.to_string())));
        }
        Err(Self::failure(response).await)
    }

    /// Members by name, card code or phone (partial), as the server finds them.
    pub async fn search_members(&self, token: &Secret, query: &str, limit: u32) -> Result<Vec<Member>, ApiFailure> {
        self.get_json(token, "/members", &[("q", query), ("limit", &limit.to_string())]).await
    }

    /// The visits of one (UTC) day at a location.
    pub async fn visits_on(&self, token: &Secret, location: &str, date: NaiveDate) -> Result<Vec<Visit>, ApiFailure> {
        self.get_json(token, "/check-ins", &[("location", location), ("date", &date.to_string())]).await
    }

    /// Extension `presence`: the desks of a location (manager, admin).
    pub async fn desks(&self, token: &Secret, location: &str) -> Result<Vec<DeskPresence>, ApiFailure> {
        self.get_json(token, "/desks", &[("location", location)]).await
    }

    /// Extension `presence`: reports this desk while it works over HTTP. A v1 server
    /// answers 404, which the caller ignores.
    pub async fn report_presence(&self, token: &Secret, report: &PresenceReport) -> Result<(), ApiFailure> {
        let response =
            self.send(self.http.post(self.url("/desks/presence")).bearer_auth(token.expose()).json(report)).await?;
        if response.status().is_success() { Ok(()) } else { Err(Self::failure(response).await) }
    }

    /// A manager's decision on a visit flagged `needs_review`.
    pub async fn review(&self, token: &Secret, check_in_id: &str, request: &ReviewRequest) -> Result<(), ApiFailure> {
        let id: String = form_urlencoded::byte_serialize(check_in_id.as_bytes()).collect();
        let response = self
            .send(
                self.http.post(self.url(&format!("/check-ins/{id}/review"))).bearer_auth(token.expose()).json(request),
            )
            .await?;
        if response.status().is_success() { Ok(()) } else { Err(Self::failure(response).await) }
    }

    /// A signed-in write (`POST`, `PATCH`) with a JSON body whose 2xx answer is JSON.
    async fn write_json<B: serde::Serialize + ?Sized, T: serde::de::DeserializeOwned>(
        &self,
        method: reqwest::Method,
        token: &Secret,
        path: &str,
        body: &B,
    ) -> Result<T, ApiFailure> {
        let response =
            self.send(self.http.request(method, self.url(path)).bearer_auth(token.expose()).json(body)).await?;
        if response.status().is_success() {
            return response.json().await.map_err(|e| ApiFailure::Network(Failure::Protocol(e.to_string())));
        }
        Err(Self::failure(response).await)
    }

    /// A signed-in `POST` whose 2xx answer carries nothing the desk needs (204).
    async fn post_empty<B: serde::Serialize + ?Sized>(
        &self,
        token: &Secret,
        path: &str,
        body: &B,
    ) -> Result<(), ApiFailure> {
        let response = self.send(self.http.post(self.url(path)).bearer_auth(token.expose()).json(body)).await?;
        if response.status().is_success() { Ok(()) } else { Err(Self::failure(response).await) }
    }

    // Extension `admin` (members, gyms, staff): the calls of the setup screens.

    /// `POST /members`: a new member (a walk-in), as stored.
    pub async fn create_member(&self, token: &Secret, member: &NewMember) -> Result<Member, ApiFailure> {
        self.write_json(reqwest::Method::POST, token, "/members", member).await
    }

    /// `PATCH /members/{id}`: contact details.
    pub async fn update_member(&self, token: &Secret, id: &str, patch: &MemberPatch) -> Result<Member, ApiFailure> {
        self.write_json(reqwest::Method::PATCH, token, &format!("/members/{}", segment(id)), patch).await
    }

    /// `POST /members/{id}/card`: a replacement card.
    pub async fn replace_card(&self, token: &Secret, id: &str, card: &CardReplacement) -> Result<Member, ApiFailure> {
        self.write_json(reqwest::Method::POST, token, &format!("/members/{}/card", segment(id)), card).await
    }

    /// `POST /members/{id}/renew` (manager).
    pub async fn renew_member(&self, token: &Secret, id: &str, renewal: &Renewal) -> Result<Member, ApiFailure> {
        self.write_json(reqwest::Method::POST, token, &format!("/members/{}/renew", segment(id)), renewal).await
    }

    /// `POST /members/{id}/freeze` (manager).
    pub async fn freeze_member(&self, token: &Secret, id: &str, freeze: &Freeze) -> Result<Member, ApiFailure> {
        self.write_json(reqwest::Method::POST, token, &format!("/members/{}/freeze", segment(id)), freeze).await
    }

    /// `POST /members/{id}/unfreeze` (manager).
    pub async fn unfreeze_member(&self, token: &Secret, id: &str) -> Result<Member, ApiFailure> {
        self.write_json(
            reqwest::Method::POST,
            token,
            &format!("/members/{}/unfreeze", segment(id)),
            &serde_json::json!({}),
        )
        .await
    }

    /// `GET /locations`: the gyms the signed-in user works at.
    pub async fn locations(&self, token: &Secret) -> Result<Vec<Location>, ApiFailure> {
        self.get_json(token, "/locations", &[]).await
    }

    /// `GET /users` (manager, admin): the staff accounts the caller may see.
    pub async fn users(&self, token: &Secret) -> Result<Vec<UserSummary>, ApiFailure> {
        self.get_json(token, "/users", &[]).await
    }

    /// `POST /users`: a new staff account.
    pub async fn create_user(&self, token: &Secret, user: &NewUser) -> Result<UserSummary, ApiFailure> {
        self.write_json(reqwest::Method::POST, token, "/users", user).await
    }

    /// `PATCH /users/{id}`: name, role, gyms.
    pub async fn update_user(&self, token: &Secret, id: &str, patch: &UserPatch) -> Result<UserSummary, ApiFailure> {
        self.write_json(reqwest::Method::PATCH, token, &format!("/users/{}", segment(id)), patch).await
    }

    /// `POST /users/{id}/password`: a new password; the user's devices are signed out.
    pub async fn reset_password(&self, token: &Secret, id: &str, reset: &PasswordReset) -> Result<(), ApiFailure> {
        self.post_empty(token, &format!("/users/{}/password", segment(id)), reset).await
    }

    /// `POST /users/{id}/disable|enable`.
    pub async fn set_user_disabled(&self, token: &Secret, id: &str, disabled: bool) -> Result<(), ApiFailure> {
        let action = if disabled { "disable" } else { "enable" };
        self.post_empty(token, &format!("/users/{}/{action}", segment(id)), &serde_json::json!({})).await
    }

    /// Whether plain HTTP reaches a Frontdesk server (used to tell "WebSockets blocked"
    /// from "server unreachable").
    pub async fn probe(&self) -> Result<(), ApiFailure> {
        let response = self.send(self.http.get(self.url("/healthz")).timeout(Duration::from_secs(5))).await?;
        if response.status().is_success() { Ok(()) } else { Err(Self::failure(response).await) }
    }

    /// `GET /healthz` for `doctor`: whether a Frontdesk server answers, its version and
    /// its clock (the `Date` header).
    pub async fn health(&self) -> Result<HealthAnswer, HealthFailure> {
        let response = self
            .http
            .get(self.url("/healthz"))
            .timeout(Duration::from_secs(5))
            .send()
            .await
            .map_err(|e| HealthFailure::Network(crate::classify::describe(&network_failure(&e))))?;
        let status = response.status().as_u16();
        let date = response
            .headers()
            .get(reqwest::header::DATE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| chrono::DateTime::parse_from_rfc2822(v).ok())
            .map(|d| d.with_timezone(&chrono::Utc));
        match response.json::<frontdesk_protocol::api::Health>().await {
            Ok(health) if status == 200 => Ok(HealthAnswer { health, date }),
            _ => Err(HealthFailure::NotFrontdesk { status, date }),
        }
    }
}

/// A Frontdesk server's health answer, with its clock.
#[derive(Debug, Clone)]
pub struct HealthAnswer {
    pub health: frontdesk_protocol::api::Health,
    pub date: Option<chrono::DateTime<chrono::Utc>>,
}

#[derive(Debug, Clone)]
pub enum HealthFailure {
    /// Something answered, but not as a Frontdesk server does.
    NotFrontdesk {
        status: u16,
        date: Option<chrono::DateTime<chrono::Utc>>,
    },
    Network(String),
}
