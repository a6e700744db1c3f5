//! The commands the webview may call. Each is a few lines over `frontdesk_desk::Desk`;
//! the capability file (`capabilities/main-window.json`) allows exactly these.

use std::time::Duration;

use frontdesk_desk::{EntryState, ErrorCode, ScanRequest, Who};
use frontdesk_protocol::api::{Freeze, MemberPatch, NewMember, NewUser, UserPatch, UserSummary};
use frontdesk_protocol::{Location, Member, ReviewDecision};
use tauri::State;
use tauri_specta::Event as _;

use crate::live::entry_member;
use crate::scan;
use crate::shell::Shell;
use crate::view::{
    AppInfo, CheckInRequest, CheckOutRequest, DeskUpdate, ManagerOverview, NewMemberRequest, OutboxEntry, ScanResult,
    SearchResult, SessionInfo, Snapshot, StaffUserPatch, StaffUserRequest, UiError,
};

/// How long a scan waits for the server's answer while live before the panel shows it
/// as saved-and-sent (the answer still arrives as a `settled` update).
const ACK_WAIT: Duration = Duration::from_secs(3);

#[tauri::command]
#[specta::specta]
pub fn app_info(shell: State<'_, Shell>) -> AppInfo {
    shell.info()
}

#[tauri::command]
#[specta::specta]
pub async fn session(shell: State<'_, Shell>) -> Result<SessionInfo, UiError> {
    Ok(match shell.current().await {
        Some(desk) => SessionInfo::of(&desk),
        None => SessionInfo { signed_in: false, user: None, server: None, location_id: None },
    })
}

#[tauri::command]
#[specta::specta]
pub async fn sign_in(
    app: tauri::AppHandle,
    shell: State<'_, Shell>,
    server: String,
    username: String,
    password: String,
    location: Option<String>,
) -> Result<SessionInfo, UiError> {
    if username.trim().is_empty() || password.is_empty() {
        return Err(UiError::new(ErrorCode::InvalidInput, "Enter your username and password."));
    }
    let session = shell.sign_in(&server, username.trim(), &password, location.as_deref()).await?;
    let _ = DeskUpdate::Session { session: session.clone() }.emit(&app);
    Ok(session)
}

#[tauri::command]
#[specta::specta]
pub async fn sign_out(app: tauri::AppHandle, shell: State<'_, Shell>) -> Result<SessionInfo, UiError> {
    let desk = shell.desk().await?;
    desk.sign_out().await?;
    let session = SessionInfo::of(&desk);
    let _ = DeskUpdate::Session { session: session.clone() }.emit(&app);
    Ok(session)
}

fn who_for_check_in(request: &CheckInRequest) -> Result<Who, UiError> {
    match (non_empty(&request.card), non_empty(&request.member_id)) {
        (Some(card), None) => Ok(Who::Card(card)),
        (None, Some(id)) => Ok(Who::MemberId(id)),
        _ => Err(UiError::new(ErrorCode::InvalidInput, "Scan a card or pick one member from the search.")),
    }
}

fn non_empty(s: &Option<String>) -> Option<String> {
    s.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned)
}

/// A member at the desk. The desk library decides (`frontdesk_desk::scan`): online the
/// server answers within [`ACK_WAIT`] (else saved-and-sent); offline the cached member
/// list lets in or turns away, and only what it lets in (or staff override) is saved.
#[tauri::command]
#[specta::specta]
pub async fn check_in(shell: State<'_, Shell>, request: CheckInRequest) -> Result<ScanResult, UiError> {
    let desk = shell.desk().await?;
    let scan = ScanRequest::check_in(who_for_check_in(&request)?).overridden(request.override_reason);
    let report = desk.scan(scan, ACK_WAIT).await?;
    Ok(scan::result_of(&report))
}

#[tauri::command]
#[specta::specta]
pub async fn check_out(shell: State<'_, Shell>, request: CheckOutRequest) -> Result<ScanResult, UiError> {
    let desk = shell.desk().await?;
    let who = match (non_empty(&request.card), non_empty(&request.member_id), non_empty(&request.visit_id)) {
        (Some(card), None, None) => Who::Card(card),
        (None, Some(id), None) => Who::MemberId(id),
        (None, None, Some(visit)) => Who::Visit(visit),
        _ => {
            return Err(UiError::new(
                ErrorCode::InvalidInput,
                "Scan a card, or pick a member or a visit to check out.",
            ));
        }
    };
    let report = desk.scan(ScanRequest::check_out(who), ACK_WAIT).await?;
    Ok(scan::result_of(&report))
}

#[tauri::command]
#[specta::specta]
pub async fn search_members(shell: State<'_, Shell>, query: String) -> Result<SearchResult, UiError> {
    let desk = shell.desk().await?;
    let (members, from_cache) = desk.search_members(&query, 20).await?;
    Ok(SearchResult { members, from_cache })
}

#[tauri::command]
#[specta::specta]
pub async fn snapshot(shell: State<'_, Shell>) -> Result<Snapshot, UiError> {
    let desk = shell.desk().await?;
    let mut entries = desk.recent_entries(100)?;
    // Waiting entries first (oldest first: the order they are sent), then answered ones.
    entries
        .sort_by_key(|e| (e.state != EntryState::Pending, if e.state == EntryState::Pending { e.id } else { -e.id }));
    let outbox = entries
        .iter()
        .take(50)
        .map(|entry| OutboxEntry {
            op_id: entry.op_id.to_string(),
            action: scan::action_of(&entry.command),
            card: entry.card.clone(),
            member_name: entry_member(&desk, entry)
                .map(|m| m.name)
                .or_else(|| entry.ack.as_ref()?.check_in.as_ref()?.member.as_ref().map(|m| m.name.clone())),
            created_at: entry.created_at,
            state: entry.state,
            provisional: entry.provisional,
            offline: scan::saved_offline(&entry.command),
            override_reason: scan::override_reason(&entry.command),
            answer: scan::answer_words(entry),
        })
        .collect();
    let config = desk.config();
    Ok(Snapshot {
        status: desk.status(),
        counts: desk.counts()?,
        outbox,
        stats: shell.live.stats(),
        stats_at: shell.live.stats_at(),
        feed: shell.live.feed(),
        recent_errors: shell.live.errors(),
        server: config.server.clone(),
        desk_id: config.desk_id.clone(),
        location_id: config.location_id.clone(),
        last_seq: desk.last_seq()?,
        rtt_ms: desk.rtt_ms(),
        roster_synced_at: desk.roster_synced_at()?,
        roster_size: desk.roster_size()?,
    })
}

#[tauri::command]
#[specta::specta]
pub async fn retry_now(shell: State<'_, Shell>) -> Result<(), UiError> {
    shell.desk().await?.retry_now();
    Ok(())
}

#[tauri::command]
#[specta::specta]
pub async fn manager_overview(shell: State<'_, Shell>) -> Result<ManagerOverview, UiError> {
    let desk = shell.desk().await?;
    let (desks, visits) = tokio::join!(desk.desks(), desk.visits_today());
    let mut visits = visits?;
    visits.sort_by_key(|v| std::cmp::Reverse(v.checked_in_at));
    let (desks, desks_error) = match desks {
        Ok(desks) => (desks, None),
        Err(e) => (Vec::new(), Some(e.message)),
    };
    Ok(ManagerOverview { desks, desks_error, visits })
}

#[tauri::command]
#[specta::specta]
pub async fn review(
    shell: State<'_, Shell>,
    check_in_id: String,
    decision: ReviewDecision,
    note: Option<String>,
) -> Result<(), UiError> {
    let note = note.map(|n| n.trim().to_owned()).filter(|n| !n.is_empty());
    shell.desk().await?.review(&check_in_id, decision, note).await?;
    Ok(())
}

// ---------------------------------------------------------------- setting members up
// Changes made on the server (it must be reachable); each answer is the member as now
// stored, which the desk has already put into its cached member list.

/// A date typed at the desk (`YYYY-MM-DD`), or what to type instead.
fn date(text: &str, what: &str) -> Result<chrono::NaiveDate, UiError> {
    chrono::NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d").map_err(|_| {
        UiError::new(ErrorCode::InvalidInput, format!("Give the {what} as year-month-day, e.g. 2027-01-31."))
    })
}

/// A walk-in: a new member of this desk's gym. The UI checks them in next, as any scan.
#[tauri::command]
#[specta::specta]
pub async fn create_member(shell: State<'_, Shell>, request: NewMemberRequest) -> Result<Member, UiError> {
    let desk = shell.desk().await?;
    let name = request.name.trim();
    let card = request.card.trim();
    if name.is_empty() || card.is_empty() {
        return Err(UiError::new(ErrorCode::InvalidInput, "Enter the member's name and scan or type their card."));
    }
    let member = NewMember {
        name: name.to_owned(),
        card: card.to_owned(),
        phone: non_empty(&request.phone),
        email: non_empty(&request.email),
        external_id: None,
        valid_until: date(&request.valid_until, "membership end date")?,
        home_location_id: desk.config().location_id.clone(),
    };
    Ok(desk.create_member(member).await?)
}

#[tauri::command]
#[specta::specta]
pub async fn update_member_contact(
    shell: State<'_, Shell>,
    member_id: String,
    patch: MemberPatch,
) -> Result<Member, UiError> {
    Ok(shell.desk().await?.update_member_contact(&member_id, patch).await?)
}

#[tauri::command]
#[specta::specta]
pub async fn replace_card(
    shell: State<'_, Shell>,
    member_id: String,
    card: String,
    reason: Option<String>,
) -> Result<Member, UiError> {
    if card.trim().is_empty() {
        return Err(UiError::new(ErrorCode::InvalidInput, "Scan or type the new card."));
    }
    Ok(shell.desk().await?.replace_card(&member_id, &card, non_empty(&reason)).await?)
}

/// A manager renews a membership until `valid_until` (`YYYY-MM-DD`, inclusive).
#[tauri::command]
#[specta::specta]
pub async fn renew_member(shell: State<'_, Shell>, member_id: String, valid_until: String) -> Result<Member, UiError> {
    let valid_until = date(&valid_until, "new end date")?;
    Ok(shell.desk().await?.renew_member(&member_id, valid_until).await?)
}

/// A manager freezes a membership from today, until `until` (`YYYY-MM-DD`) or unfrozen.
#[tauri::command]
#[specta::specta]
pub async fn freeze_member(
    shell: State<'_, Shell>,
    member_id: String,
    until: Option<String>,
    reason: Option<String>,
) -> Result<Member, UiError> {
    let until = non_empty(&until).map(|u| date(&u, "last day of the freeze")).transpose()?;
    let freeze = Freeze { from: None, until, reason: non_empty(&reason) };
    Ok(shell.desk().await?.freeze_member(&member_id, freeze).await?)
}

#[tauri::command]
#[specta::specta]
pub async fn unfreeze_member(shell: State<'_, Shell>, member_id: String) -> Result<Member, UiError> {
    Ok(shell.desk().await?.unfreeze_member(&member_id).await?)
}

// ---------------------------------------------------------------- the admin screen

/// The gyms the signed-in user works at.
#[tauri::command]
#[specta::specta]
pub async fn locations(shell: State<'_, Shell>) -> Result<Vec<Location>, UiError> {
    Ok(shell.desk().await?.locations().await?)
}

/// The staff accounts a manager or admin may see.
#[tauri::command]
#[specta::specta]
pub async fn users(shell: State<'_, Shell>) -> Result<Vec<UserSummary>, UiError> {
    Ok(shell.desk().await?.users().await?)
}

#[tauri::command]
#[specta::specta]
pub async fn create_user(shell: State<'_, Shell>, request: StaffUserRequest) -> Result<UserSummary, UiError> {
    let user = NewUser {
        username: request.username.trim().to_owned(),
        name: request.name.trim().to_owned(),
        role: request.role,
        locations: request.locations,
        password: request.password,
    };
    Ok(shell.desk().await?.create_user(user).await?)
}

#[tauri::command]
#[specta::specta]
pub async fn update_user(
    shell: State<'_, Shell>,
    user_id: String,
    patch: StaffUserPatch,
) -> Result<UserSummary, UiError> {
    let patch = UserPatch { name: patch.name, role: patch.role, locations: patch.locations };
    Ok(shell.desk().await?.update_user(&user_id, patch).await?)
}

#[tauri::command]
#[specta::specta]
pub async fn reset_password(shell: State<'_, Shell>, user_id: String, password: String) -> Result<(), UiError> {
    Ok(shell.desk().await?.reset_password(&user_id, &password).await?)
}

#[tauri::command]
#[specta::specta]
pub async fn set_user_disabled(shell: State<'_, Shell>, user_id: String, disabled: bool) -> Result<(), UiError> {
    Ok(shell.desk().await?.set_user_disabled(&user_id, disabled).await?)
}
