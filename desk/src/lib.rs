//! The desk side of the Frontdesk contract, as one library for the desktop app and the
//! headless agent: the connection supervisor, tokens and keychain, the durable outbox,
//! the offline roster, and the HTTP fallback. No Tauri here; the app's shell is thin.
//!
//! ```text
//! scan ─► outbox (SQLite, committed) ─► supervisor ─► WebSocket session ─► server
//!                                          │  └──► HTTP fallback (POST + long-poll)
//!           status (watch) ◄───────────────┤
//!           DeskEvent stream ◄─────────────┘  (queued, ack, event, resync, error)
//! ```

pub mod api;
pub mod backoff;
pub mod classify;
pub mod config;
pub mod doctor;
pub mod error;
mod fallback;
pub mod logs;
pub mod offline;
pub mod outbox;
mod roster;
pub mod scan;
pub mod secrets;
mod session;
mod shared;
pub mod state;
mod stranded;
mod supervisor;
pub mod tls;
pub mod tokens;

use std::sync::Arc;

use chrono::Utc;
use frontdesk_protocol::api::{self as api_types, UserInfo};
use frontdesk_protocol::ws::{CheckInCommand, CheckOutCommand, Command, MemberSelector};
use frontdesk_protocol::{Location, Member, Override};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use uuid::Uuid;

pub use crate::error::{DeskError, ErrorCode, Result};
pub use crate::outbox::{Counts, Entry, EntryState, Provisional};
pub use crate::scan::{Outcome, ScanAction, ScanReport, ScanRequest};
pub use crate::secrets::{Keychain, Secret, SecretStore};
pub use crate::shared::{DeskConfig, DeskEvent};
pub use crate::state::{ConnectionState, Status};
pub use crate::stranded::Delivery;
pub use crate::tokens::{GymChoice, SignInError};

use crate::shared::Shared;

/// Who a scan is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Who {
    Card(String),
    MemberId(String),
    /// A check-out of a known visit.
    Visit(String),
}

/// What the desk knows right after a scan is committed.
#[derive(Debug, Clone, PartialEq)]
pub struct Scanned {
    pub entry: Entry,
    /// The cached member, if the roster knows them.
    pub member: Option<Member>,
    /// The desk's own verdict on a check-in.
    pub provisional: Option<Provisional>,
    /// Why, in words, when the provisional verdict is not "accepted".
    pub reason: Option<String>,
}

/// A desk: one location, one desk id, one data dir.
pub struct Desk {
    shared: Arc<Shared>,
    task: std::sync::Mutex<Option<JoinHandle<()>>>,
    repeat_window: std::sync::Mutex<std::time::Duration>,
    recent_read: std::sync::Mutex<Option<scan::RecentRead>>,
}

impl Desk {
    /// Opens the desk's store. Nothing connects until [`Desk::start`].
    pub fn open(config: DeskConfig, secrets: Arc<dyn SecretStore>) -> Result<Self> {
        if config.location_id.trim().is_empty() || config.desk_id.trim().is_empty() {
            return Err(DeskError::invalid_input("Set both the location and the desk id in the desk's configuration."));
        }
        let mut config = config;
        config.server = config::normalize_server(&config.server);
        let api = api::Api::with_ca_file(&config.server, config.ca_file.as_deref())?;
        let outbox = outbox::Outbox::open(&config.data_dir)?;
        outbox.bind(&config.server, &config.location_id)?;
        let tokens = tokens::Tokens::new(api.clone(), secrets);
        Ok(Self {
            shared: Arc::new(Shared::new(config, api, tokens, outbox)),
            task: std::sync::Mutex::new(None),
            repeat_window: std::sync::Mutex::new(std::time::Duration::ZERO),
            recent_read: std::sync::Mutex::new(None),
        })
    }

    /// Starts the supervisor (once).
    pub fn start(&self) {
        let mut task = self.task.lock().unwrap_or_else(|p| p.into_inner());
        if task.is_none() {
            *task = Some(tokio::spawn(supervisor::run(self.shared.clone())));
            tokio::spawn(roster::periodic(self.shared.clone()));
        }
    }

    pub fn config(&self) -> &DeskConfig {
        &self.shared.config
    }

    /// Whether a sign-in is kept in the keychain.
    pub fn has_sign_in(&self) -> Result<bool> {
        self.shared.tokens.has_sign_in()
    }

    /// Signs in for this desk's gym. An account that does not work there (an admin works
    /// everywhere) is signed out again at once and told so.
    pub async fn sign_in(&self, username: &str, password: &str) -> std::result::Result<UserInfo, SignInError> {
        self.forget_recent_read();
        let user = self.shared.tokens.sign_in(username, password, &self.shared.config.device_name).await?;
        let location = &self.shared.config.location_id;
        if !works_at(&user, location) {
            let _ = self.shared.tokens.sign_out().await;
            return Err(SignInError::WrongLocation(format!(
                "{} does not work at gym \"{location}\". Sign in with an account for this gym, or ask an admin to add yours.",
                user.name
            )));
        }
        let _ = self.shared.outbox.set_meta("user_id", &user.id);
        let _ = self.shared.outbox.set_meta("user", &serde_json::to_string(&user).unwrap_or_default());
        self.shared.signed_in.notify_one();
        Ok(user)
    }

    /// Signs out: the live session closes at once (1000), the refresh token is revoked on
    /// the server and deleted from the keychain, and nothing more is sent or recorded as
    /// this user. The outbox stays (its entries keep the user who scanned them) and is
    /// sent after the next sign-in, under that session.
    pub async fn sign_out(&self) -> Result<()> {
        self.shared.sign_outs.send_modify(|n| *n += 1);
        self.forget_recent_read();
        let _ = self.shared.outbox.delete_meta("user_id");
        let _ = self.shared.outbox.delete_meta("user");
        self.shared.tokens.sign_out().await?;
        self.shared.retry_now.notify_one();
        Ok(())
    }

    /// The last user who signed in here, if any.
    pub fn user(&self) -> Option<UserInfo> {
        self.shared.outbox.meta("user").ok().flatten().and_then(|u| serde_json::from_str(&u).ok())
    }

    pub fn status(&self) -> Status {
        self.shared.status.borrow().clone()
    }

    pub fn watch_status(&self) -> watch::Receiver<Status> {
        self.shared.status.subscribe()
    }

    /// Every [`DeskEvent`] from now on, in order.
    pub fn subscribe(&self) -> mpsc::UnboundedReceiver<DeskEvent> {
        self.shared.subscribe()
    }

    /// "Retry now": the next connection attempt happens at once. Pressed while live it
    /// does nothing (a stored wake-up would skip the first wait of the next outage).
    pub fn retry_now(&self) {
        if self.shared.state() != ConnectionState::Live {
            self.shared.retry_now.notify_one();
        }
    }

    pub fn counts(&self) -> Result<Counts> {
        self.shared.outbox.counts()
    }

    pub fn recent_entries(&self, limit: usize) -> Result<Vec<Entry>> {
        self.shared.outbox.recent(limit)
    }

    pub fn last_seq(&self) -> Result<i64> {
        self.shared.outbox.last_seq()
    }

    pub fn roster_synced_at(&self) -> Result<Option<chrono::DateTime<Utc>>> {
        self.shared.outbox.roster_synced_at()
    }

    pub fn rtt_ms(&self) -> Option<i64> {
        let v = self.shared.rtt_ms.load(std::sync::atomic::Ordering::Relaxed);
        (v >= 0).then_some(v)
    }

    /// The desk's own verdict on a check-in, without committing anything: what the
    /// cached roster says (docs/protocol.md, "The outbox and offline work").
    /// [`Desk::scan`] asks before committing, so a member the cache turns away while the
    /// server cannot answer is saved only with an override.
    pub fn judge_check_in(&self, who: &Who) -> Result<(Option<Member>, offline::Verdict)> {
        let member = self.cached(who)?;
        let verdict = offline::judge(member.as_ref(), offline::today());
        Ok((member, verdict))
    }

    /// Runs a signed-in HTTP call; a refused access token is refreshed (single-flight,
    /// shared with the transports) and the call made once more.
    async fn signed_in<T, F, Fut>(&self, call: F) -> Result<T>
    where
        F: Fn(Secret) -> Fut,
        Fut: std::future::Future<Output = std::result::Result<T, api::ApiFailure>>,
    {
        self.signed_in_as(call, api_error).await
    }

    /// [`Desk::signed_in`] for a change made on the server (a member, a staff account):
    /// a refusal is told in the server's own words ("This card already belongs to …").
    async fn signed_in_write<T, F, Fut>(&self, call: F) -> Result<T>
    where
        F: Fn(Secret) -> Fut,
        Fut: std::future::Future<Output = std::result::Result<T, api::ApiFailure>>,
    {
        self.signed_in_as(call, write_error).await
    }

    async fn signed_in_as<T, F, Fut>(&self, call: F, failed: fn(api::ApiFailure) -> DeskError) -> Result<T>
    where
        F: Fn(Secret) -> Fut,
        Fut: std::future::Future<Output = std::result::Result<T, api::ApiFailure>>,
    {
        let access = self.shared.tokens.access().await.map_err(token_error)?;
        match call(access.token.clone()).await {
            Err(api::ApiFailure::Unauthorized { .. }) => {
                let fresh = self.shared.tokens.refresh(access.generation).await.map_err(token_error)?;
                call(fresh.token).await.map_err(failed)
            }
            other => other.map_err(failed),
        }
    }

    /// A member as the server answered a change: kept in the cached roster at once, so
    /// this desk judges the next scan by it even if the link drops right after.
    fn remember(&self, member: Member) -> Result<Member> {
        // A read of this member's card a moment ago was judged on what the desk knew
        // then (a walk-in's unknown card, an expired membership just renewed): the next
        // read is a new scan, not a repeat.
        self.forget_recent_read();
        if let Err(e) = self.shared.remember_member(&member) {
            // The server has the change; the cache catches up at the next sync.
            tracing::warn!(error = %e, member = %member.id, "changed member not cached");
        }
        Ok(member)
    }

    // ------------------------------------------------------------ extension `admin`

    /// Adds a member (a walk-in) whose home gym is `member.home_location_id` (this
    /// desk's location when empty). Any staff of that gym may.
    pub async fn create_member(&self, mut member: api_types::NewMember) -> Result<Member> {
        if member.home_location_id.trim().is_empty() {
            member.home_location_id = self.shared.config.location_id.clone();
        }
        let (api, member) = (&self.shared.api, &member);
        let created = self.signed_in_write(|token| async move { api.create_member(&token, member).await }).await?;
        self.remember(created)
    }

    /// Changes a member's contact details (name, phone, e-mail; `""` clears phone and e-mail).
    pub async fn update_member_contact(&self, member_id: &str, patch: api_types::MemberPatch) -> Result<Member> {
        let (api, patch) = (&self.shared.api, &patch);
        let member =
            self.signed_in_write(|token| async move { api.update_member(&token, member_id, patch).await }).await?;
        self.remember(member)
    }

    /// Gives a member a new card; the old one no longer admits anyone.
    pub async fn replace_card(&self, member_id: &str, card: &str, reason: Option<String>) -> Result<Member> {
        let request = api_types::CardReplacement { card: card.trim().to_owned(), reason };
        let (api, request) = (&self.shared.api, &request);
        let member =
            self.signed_in_write(|token| async move { api.replace_card(&token, member_id, request).await }).await?;
        self.remember(member)
    }

    /// A manager renews a membership until `valid_until` (inclusive).
    pub async fn renew_member(&self, member_id: &str, valid_until: chrono::NaiveDate) -> Result<Member> {
        let renewal = api_types::Renewal { valid_until };
        let (api, renewal) = (&self.shared.api, &renewal);
        let member =
            self.signed_in_write(|token| async move { api.renew_member(&token, member_id, renewal).await }).await?;
        self.remember(member)
    }

    /// A manager freezes a membership (from today unless `from`; until `until` or unfrozen).
    pub async fn freeze_member(&self, member_id: &str, freeze: api_types::Freeze) -> Result<Member> {
        let (api, freeze) = (&self.shared.api, &freeze);
        let member =
            self.signed_in_write(|token| async move { api.freeze_member(&token, member_id, freeze).await }).await?;
        self.remember(member)
    }

    /// A manager lifts a member's freeze.
    pub async fn unfreeze_member(&self, member_id: &str) -> Result<Member> {
        let api = &self.shared.api;
        let member = self.signed_in_write(|token| async move { api.unfreeze_member(&token, member_id).await }).await?;
        self.remember(member)
    }

    /// The gyms the signed-in user works at.
    pub async fn locations(&self) -> Result<Vec<frontdesk_protocol::Location>> {
        let api = &self.shared.api;
        self.signed_in(|token| async move { api.locations(&token).await }).await
    }

    /// The staff accounts a manager or admin may see.
    pub async fn users(&self) -> Result<Vec<api_types::UserSummary>> {
        let api = &self.shared.api;
        self.signed_in(|token| async move { api.users(&token).await }).await
    }

    pub async fn create_user(&self, user: api_types::NewUser) -> Result<api_types::UserSummary> {
        let (api, user) = (&self.shared.api, &user);
        self.signed_in_write(|token| async move { api.create_user(&token, user).await }).await
    }

    pub async fn update_user(&self, user_id: &str, patch: api_types::UserPatch) -> Result<api_types::UserSummary> {
        let (api, patch) = (&self.shared.api, &patch);
        self.signed_in_write(|token| async move { api.update_user(&token, user_id, patch).await }).await
    }

    /// Sets a staff member's password (they are signed out of their devices).
    pub async fn reset_password(&self, user_id: &str, password: &str) -> Result<()> {
        let reset = api_types::PasswordReset { password: password.to_owned() };
        let (api, reset) = (&self.shared.api, &reset);
        self.signed_in_write(|token| async move { api.reset_password(&token, user_id, reset).await }).await
    }

    /// Disables (signs out everywhere, no more sign-ins) or enables a staff account.
    pub async fn set_user_disabled(&self, user_id: &str, disabled: bool) -> Result<()> {
        let api = &self.shared.api;
        self.signed_in_write(|token| async move { api.set_user_disabled(&token, user_id, disabled).await }).await
    }

    /// Members by name, card or phone: from the server, or from the cached roster when
    /// the server cannot answer. The flag says which (`true`: the cache).
    pub async fn search_members(&self, query: &str, limit: u32) -> Result<(Vec<Member>, bool)> {
        let query = query.trim();
        if query.is_empty() {
            return Ok((Vec::new(), false));
        }
        let api = &self.shared.api;
        match self.signed_in(|token| async move { api.search_members(&token, query, limit).await }).await {
            Ok(members) => Ok((members, false)),
            Err(e) if e.temporary || e.code == ErrorCode::SignedOut => {
                Ok((self.shared.outbox.roster_search(query, limit as usize)?, true))
            }
            Err(e) => Err(e),
        }
    }

    /// The location's stats now.
    pub async fn stats(&self) -> Result<frontdesk_protocol::Stats> {
        let (api, location) = (&self.shared.api, self.shared.config.location_id.as_str());
        self.signed_in(|token| async move { api.stats(&token, location).await }).await
    }

    /// Every visit of today at this location: the server reads the `date` as the gym's
    /// own day, and the desk stands in the gym.
    pub async fn visits_today(&self) -> Result<Vec<frontdesk_protocol::Visit>> {
        let (api, location) = (&self.shared.api, self.shared.config.location_id.as_str());
        let today = offline::today();
        self.signed_in(|token| async move { api.visits_on(&token, location, today).await }).await
    }

    /// Extension `presence`: the location's desks, online or not, and what they queue.
    pub async fn desks(&self) -> Result<Vec<frontdesk_protocol::api::DeskPresence>> {
        let (api, location) = (&self.shared.api, self.shared.config.location_id.as_str());
        self.signed_in(|token| async move { api.desks(&token, location).await }).await
    }

    /// A manager keeps or voids a visit flagged for review.
    pub async fn review(
        &self,
        check_in_id: &str,
        decision: frontdesk_protocol::ReviewDecision,
        note: Option<String>,
    ) -> Result<()> {
        let api = &self.shared.api;
        let request = frontdesk_protocol::api::ReviewRequest { decision, note };
        let request = &request;
        self.signed_in(|token| async move { api.review(&token, check_in_id, request).await }).await
    }

    fn scanned_by(&self) -> Option<String> {
        self.shared.outbox.meta("user_id").ok().flatten()
    }

    /// One outbox entry, answered or not.
    pub fn entry(&self, op_id: Uuid) -> Result<Option<Entry>> {
        self.shared.outbox.entry(op_id)
    }

    /// How many members the offline cache holds.
    pub fn roster_size(&self) -> Result<i64> {
        self.shared.outbox.roster_size()
    }

    /// The member as the desk's cached roster knows them.
    pub fn cached_member(&self, who: &Who) -> Result<Option<Member>> {
        self.cached(who)
    }

    fn cached(&self, who: &Who) -> Result<Option<Member>> {
        match who {
            Who::Card(card) => self.shared.outbox.roster_by_card(card),
            Who::MemberId(id) => self.shared.outbox.roster_by_id(id),
            Who::Visit(_) => Ok(None),
        }
    }

    fn commit(
        &self,
        command: Command,
        card: Option<&str>,
        member: Option<Member>,
        verdict: Option<offline::Verdict>,
    ) -> Result<Scanned> {
        let provisional = verdict.as_ref().map(|v| v.provisional);
        let reason = verdict.and_then(|v| v.reason);
        let scanned_by = self.scanned_by();
        let entry = self.shared.outbox.enqueue(&command, card, scanned_by.as_deref(), provisional)?;
        self.shared.emit(DeskEvent::Queued {
            op_id: entry.op_id,
            card: card.map(str::to_owned),
            provisional,
            reason: reason.clone(),
        });
        self.shared.wake.notify_one();
        Ok(Scanned { entry, member, provisional, reason })
    }

    /// A member at the desk. Committed to the outbox before this returns.
    pub fn check_in(&self, who: Who, override_reason: Option<String>) -> Result<Scanned> {
        let (member, verdict) = self.judge_check_in(&who)?;
        self.check_in_judged(who, override_reason, member, verdict)
    }

    /// [`Desk::check_in`] with the cached member and verdict already looked up (the scan
    /// use case judges before it decides to commit).
    pub(crate) fn check_in_judged(
        &self,
        who: Who,
        override_reason: Option<String>,
        member: Option<Member>,
        verdict: offline::Verdict,
    ) -> Result<Scanned> {
        let selector = match &who {
            Who::Card(card) => MemberSelector::card(card.trim()),
            Who::MemberId(id) => MemberSelector::id(id.trim()),
            Who::Visit(_) => return Err(DeskError::invalid_input("A check-in names a card or a member, not a visit.")),
        };
        selector.validate().map_err(DeskError::invalid_input)?;
        let override_ =
            override_reason.map(|r| r.trim().to_owned()).filter(|r| !r.is_empty()).map(|reason| Override { reason });
        let command = Command::CheckIn(CheckInCommand {
            op_id: Uuid::new_v4(),
            location_id: self.shared.config.location_id.clone(),
            desk_id: self.shared.config.desk_id.clone(),
            member: selector.clone(),
            occurred_at: Utc::now(),
            queued: self.shared.state() != ConnectionState::Live,
            scanned_by: self.scanned_by(),
            override_,
        });
        self.commit(command, selector.card.as_deref(), member, Some(verdict))
    }

    /// A member leaving.
    pub fn check_out(&self, who: Who) -> Result<Scanned> {
        let member = self.cached(&who)?;
        self.check_out_cached(who, member)
    }

    /// [`Desk::check_out`] with the cached member already looked up.
    pub(crate) fn check_out_cached(&self, who: Who, member: Option<Member>) -> Result<Scanned> {
        let (check_in_id, member_selector) = match &who {
            Who::Card(card) => (None, Some(MemberSelector::card(card.trim()))),
            Who::MemberId(id) => (None, Some(MemberSelector::id(id.trim()))),
            Who::Visit(id) => (Some(id.clone()), None),
        };
        if let Some(sel) = &member_selector {
            sel.validate().map_err(DeskError::invalid_input)?;
        }
        let card = member_selector.as_ref().and_then(|s| s.card.clone());
        let command = Command::CheckOut(CheckOutCommand {
            op_id: Uuid::new_v4(),
            location_id: self.shared.config.location_id.clone(),
            desk_id: self.shared.config.desk_id.clone(),
            check_in_id,
            member: member_selector,
            occurred_at: Utc::now(),
            queued: self.shared.state() != ConnectionState::Live,
            scanned_by: self.scanned_by(),
        });
        self.commit(command, card.as_deref(), member, None)
    }

    /// Stops the supervisor; a live session is closed with 1001. The outbox stays.
    pub async fn shutdown(&self) {
        self.shared.shutdown.cancel();
        let task = self.task.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(task) = task {
            let _ = tokio::time::timeout(std::time::Duration::from_secs(5), task).await;
        }
        self.shared
            .set_status(Status::new(ConnectionState::Offline, "This desk is stopped. Scans waiting here are kept."));
        // Nothing more will be said: every listener's channel ends after the events it
        // has, so a listener that reads to the end has heard every ack (the agent prints
        // them all before it exits).
        self.shared.close_listeners();
    }
}

fn works_at(user: &UserInfo, location: &str) -> bool {
    user.role == frontdesk_protocol::Role::Admin || user.locations.iter().any(|l| l == location)
}

/// Which gym a desk with no configured location works for: signs `username` in once at
/// `server` to learn their gyms (and signs out again). `chosen` is the person's choice
/// from an earlier [`SignInError::ChooseLocation`]; without one, a person with one gym
/// gets it, and one with several gets the list to choose from, the desk's `remembered`
/// gym marked (a manager's laptop moves between gyms: never guess for them).
pub async fn discover_location(
    server: &str,
    ca_file: Option<&std::path::Path>,
    desk_id: &str,
    username: &str,
    password: &str,
    chosen: Option<&str>,
    remembered: Option<&str>,
) -> std::result::Result<String, SignInError> {
    let api = api::Api::with_ca_file(server, ca_file).map_err(|e| SignInError::Other(e.message))?;
    let tokens = tokens::Tokens::new(api.clone(), Arc::new(Keychain::for_desk(server, desk_id)));
    let user = tokens.sign_in(username, password, "Frontdesk desk (finding its gym)").await?;
    // The gyms' names, for the choice; ids alone when the list cannot be read.
    let names: Vec<Location> = match tokens.access().await {
        Ok(access) => api.locations(&access.token).await.unwrap_or_default(),
        Err(_) => Vec::new(),
    };
    let _ = tokens.sign_out().await;
    choose_gym(&user, &names, chosen, remembered)
}

/// The decision of [`discover_location`], apart from the network.
fn choose_gym(
    user: &UserInfo,
    names: &[Location],
    chosen: Option<&str>,
    remembered: Option<&str>,
) -> std::result::Result<String, SignInError> {
    if let Some(gym) = chosen.map(str::trim).filter(|g| !g.is_empty()) {
        if works_at(user, gym) {
            return Ok(gym.to_owned());
        }
        return Err(SignInError::WrongLocation(format!(
            "{} does not work at gym \"{gym}\". Choose one of your gyms.",
            user.name
        )));
    }
    // An admin works everywhere: the gyms the server lists for them.
    let mut gyms: Vec<String> = user.locations.clone();
    if gyms.is_empty() && user.role == frontdesk_protocol::Role::Admin {
        gyms = names.iter().map(|l| l.id.clone()).collect();
    }
    match gyms.as_slice() {
        [] => Err(SignInError::NoLocation(format!(
            "{} is not assigned to any gym. Ask an admin to add the account to a gym, or set this desk's location.",
            user.name
        ))),
        [only] => Ok(only.clone()),
        several => Err(SignInError::ChooseLocation(
            several
                .iter()
                .map(|id| GymChoice {
                    id: id.clone(),
                    name: names.iter().find(|l| &l.id == id).map(|l| l.name.clone()).unwrap_or_else(|| id.clone()),
                    remembered: remembered == Some(id.as_str()),
                })
                .collect(),
        )),
    }
}

fn token_error(failure: tokens::TokenFailure) -> DeskError {
    match failure {
        tokens::TokenFailure::SignedOut(message) => DeskError::signed_out(message),
        tokens::TokenFailure::Temporary(api) => api_error(api),
        tokens::TokenFailure::Keychain(e) => e,
    }
}

/// A refused change in the server's words: the server's `message` says what is wrong
/// with the request ("This card already belongs to Ann Lee. …"). A server that cannot be
/// reached has not saved anything, and the person is told so.
fn write_error(failure: api::ApiFailure) -> DeskError {
    use api::ApiFailure as F;
    match failure {
        F::Unexpected { status: 400 | 422, message } => DeskError::new(ErrorCode::InvalidRequest, message, false),
        F::Unexpected { status: 404, message } => DeskError::new(ErrorCode::NotFound, message, false),
        F::Unexpected { status: 405, .. } => DeskError::new(
            ErrorCode::NotSupported,
            "The server does not offer this (it may run an older Frontdesk version).",
            false,
        ),
        F::Unexpected { status: 409, message } => DeskError::new(ErrorCode::Conflict, message, false),
        F::Network(_) => DeskError::unreachable(format!(
            "{} Nothing was saved; try again when the desk is connected.",
            failure.describe()
        )),
        other => api_error(other),
    }
}

/// An HTTP failure as the app shows it: temporary when trying again later may work.
fn api_error(failure: api::ApiFailure) -> DeskError {
    use api::ApiFailure as F;
    let message = failure.describe();
    match failure {
        F::Network(_) => DeskError::unreachable(message),
        F::Busy { .. } => DeskError::new(ErrorCode::ServerBusy, message, true),
        F::Unauthorized { .. } => DeskError::signed_out("The sign-in has ended; sign in again."),
        F::Forbidden { .. } => DeskError::new(ErrorCode::Forbidden, message, false),
        F::ResyncRequired { .. } => DeskError::new(ErrorCode::ResyncRequired, message, true),
        F::Unexpected { status: 404, .. } => DeskError::new(
            ErrorCode::NotSupported,
            "The server does not offer this (it may run an older Frontdesk version).",
            false,
        ),
        F::Unexpected { .. } => DeskError::new(ErrorCode::ServerError, message, false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use frontdesk_protocol::Role;

    fn user(role: Role, locations: &[&str]) -> UserInfo {
        UserInfo {
            id: "u1".into(),
            username: "sam".into(),
            name: "Sam".into(),
            role,
            locations: locations.iter().map(|l| l.to_string()).collect(),
        }
    }

    fn gym(id: &str, name: &str) -> Location {
        Location::new(id, name)
    }

    #[test]
    fn one_gym_is_taken_several_are_offered_never_guessed() {
        let names = [gym("demo", "Demo Gym"), gym("north", "North Gym")];
        assert_eq!(choose_gym(&user(Role::FrontDesk, &["demo"]), &names, None, None).unwrap(), "demo");
        let several = user(Role::Manager, &["demo", "north"]);
        match choose_gym(&several, &names, None, Some("north")) {
            Err(SignInError::ChooseLocation(gyms)) => assert_eq!(
                gyms,
                [
                    GymChoice { id: "demo".into(), name: "Demo Gym".into(), remembered: false },
                    GymChoice { id: "north".into(), name: "North Gym".into(), remembered: true },
                ]
            ),
            other => panic!("several gyms must be offered: {other:?}"),
        }
        assert_eq!(choose_gym(&several, &names, Some("north"), None).unwrap(), "north");
        // A name the server did not give: the id stands in.
        match choose_gym(&several, &[], None, None) {
            Err(SignInError::ChooseLocation(gyms)) => assert_eq!(gyms[1].name, "north"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_choice_outside_the_persons_gyms_and_no_gym_at_all_are_refused() {
        let front = user(Role::FrontDesk, &["demo"]);
        let refused = choose_gym(&front, &[], Some("north"), None).unwrap_err();
        assert_eq!(refused.code(), ErrorCode::WrongLocation);
        let nowhere = choose_gym(&user(Role::FrontDesk, &[]), &[], None, None).unwrap_err();
        assert_eq!(nowhere.code(), ErrorCode::NoLocation);
        // An admin with no list of their own chooses among the server's gyms.
        let admin = user(Role::Admin, &[]);
        assert!(matches!(
            choose_gym(&admin, &[gym("demo", "Demo"), gym("north", "North")], None, None),
            Err(SignInError::ChooseLocation(g)) if g.len() == 2
        ));
        assert_eq!(choose_gym(&admin, &[gym("demo", "Demo")], None, None).unwrap(), "demo");
    }
}
