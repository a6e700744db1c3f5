//! The demo data of docs/server.md ("Demo data"), seeded once and idempotently:
//! locations `demo` and `north`, three staff users (manager and admin at both gyms),
//! members `D0001`–`D0200` of Demo Gym (1–180 active, 181–190 expired, 191–200 frozen).
//! Names, phones, cards and ids are fixed; membership dates are relative to the day of
//! seeding so the statuses stay as described however long the demo runs.

use chrono::{Duration, NaiveDate, TimeZone, Utc};
use frontdesk_protocol::{Location, Member, MemberStatus, Role};
use uuid::Uuid;

use crate::auth::password;
use crate::store::{Store, UserRecord};

pub const LOCATION_ID: &str = "demo";
pub const NORTH_ID: &str = "north";

/// Username, password, name, role, and whether the user also works at `north`.
pub const USERS: &[(&str, &str, &str, Role, bool)] = &[
    ("frontdesk", "frontdesk-demo", "Front Desk", Role::FrontDesk, false),
    ("manager", "manager-demo", "Gym Manager", Role::Manager, true),
    ("admin", "admin-demo", "IT Admin", Role::Admin, true),
];

const FIRST: &[&str] = &[
    "Ava", "Ben", "Chloe", "Daniel", "Emma", "Felix", "Grace", "Hugo", "Isla", "Jack", "Keira", "Liam", "Maya", "Noah",
    "Olivia", "Pablo", "Quinn", "Ruby", "Samir", "Tara",
];
const LAST: &[&str] = &["Anders", "Brooks", "Costa", "Dubois", "Evans", "Fischer", "Garcia", "Hughes", "Ito", "Jensen"];

/// Deterministic ids, so demo members and users are the same in every demo database.
fn demo_id(kind: u128, n: u128) -> String {
    Uuid::from_u128(0x0000_0000_0000_4000_8000_0000_0000_0000 | (kind << 32) | n).to_string()
}

pub fn member(n: u32, today: NaiveDate) -> Member {
    let name =
        format!("{} {}", FIRST[(n as usize - 1) % FIRST.len()], LAST[(n as usize - 1) / FIRST.len() % LAST.len()]);
    let (valid_until, frozen_from, frozen_until) = match n {
        1..=180 => (today + Duration::days(365), None, None),
        181..=190 => (today - Duration::days(i64::from(n - 180) * 3), None, None),
        _ => (
            today + Duration::days(200),
            Some(today - Duration::days(7)),
            Some(today + Duration::days(30 + i64::from(n - 190))),
        ),
    };
    let mut m = Member {
        id: demo_id(1, n.into()),
        name,
        card: format!("D{n:04}"),
        phone: Some(format!("+1 555 01{:02} {:03}", n / 100, n % 1000)),
        status: MemberStatus::Active,
        valid_until: Some(valid_until),
        frozen_from,
        frozen_until,
        created_at: Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0).single().expect("valid date"),
        home_location_id: Some(LOCATION_ID.into()),
        ..Default::default()
    };
    m.status = m.status_on(today);
    m
}

pub async fn seed(store: &dyn Store) -> anyhow::Result<()> {
    store.upsert_location(&Location { capacity: 150, ..Location::new(LOCATION_ID, "Demo Gym") }).await?;
    store.upsert_location(&Location { capacity: 60, ..Location::new(NORTH_ID, "Demo Gym North") }).await?;
    for (i, (username, pass, name, role, north)) in USERS.iter().enumerate() {
        let mut locations = vec![LOCATION_ID.to_owned()];
        if *north {
            locations.push(NORTH_ID.into());
        }
        if let Some(mut existing) = store.user_by_username(username).await? {
            // A demo database from before `north` existed: bind the user to it as well.
            if locations.iter().any(|l| !existing.locations.contains(l)) {
                existing.locations = locations;
                store.update_user(&existing, &crate::auth::Actor::command_line(), Utc::now()).await?;
            }
            continue;
        }
        let pass = pass.to_string();
        let hash = tokio::task::spawn_blocking(move || password::hash(&pass)).await?;
        store
            .insert_user_if_absent(&UserRecord {
                id: demo_id(2, i as u128 + 1),
                username: username.to_string(),
                name: name.to_string(),
                role: *role,
                password_hash: hash,
                disabled: false,
                locations,
            })
            .await?;
    }
    let today = Utc::now().date_naive();
    for n in 1..=200 {
        store.insert_member_if_absent(&member(n, today)).await?;
    }
    Ok(())
}

pub fn sign_in_details(server: &str) -> String {
    let mut text = format!(
        "Demo data is ready at {server} (locations \"{LOCATION_ID}\", Demo Gym, and \"{NORTH_ID}\", Demo Gym North). Sign in as:\n"
    );
    for (user, pass, _, role, _) in USERS {
        text.push_str(&format!("  {user:<10} / {pass:<15} ({})\n", role.as_str()));
    }
    text.push_str("Cards D0001-D0180 are active, D0181-D0190 expired, D0191-D0200 frozen.");
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_follow_server_md() {
        let today: NaiveDate = "2026-11-22".parse().unwrap();
        assert_eq!(member(1, today).status, MemberStatus::Active);
        assert_eq!(member(180, today).status, MemberStatus::Active);
        assert_eq!(member(181, today).status, MemberStatus::Expired);
        assert_eq!(member(190, today).status, MemberStatus::Expired);
        assert_eq!(member(191, today).status, MemberStatus::Frozen);
        assert_eq!(member(200, today).status, MemberStatus::Frozen);
        assert_eq!(member(7, today).card, "D0007");
        assert_eq!(member(7, today).id, member(7, today).id);
    }
}
