//! The rules for setting a gym up, shared by the command line (`frontdesk-server admin`)
//! and the HTTP API: what a location, a staff account and a member must look like. Each
//! refusal is a sentence naming the field and what to write instead.

use chrono::NaiveDate;
use frontdesk_protocol::api::{LocationPatch, NewLocation, NewMember};
use frontdesk_protocol::{Location, Member};

use crate::import::{MAX_CARD, MAX_EMAIL, MAX_EXTERNAL_ID, MAX_NAME, MAX_PHONE};

pub const MAX_USERNAME: usize = 64;
pub const MIN_PASSWORD: usize = 8;
/// Argon2 hashes whatever it is given; a bound keeps one request from costing more.
pub const MAX_PASSWORD: usize = 256;

fn text(field: &str, value: &str, max: usize) -> Result<String, String> {
    let v = value.trim();
    if v.is_empty() {
        return Err(format!("`{field}` must not be empty."));
    }
    if v.chars().count() > max {
        return Err(format!("`{field}` is longer than {max} characters."));
    }
    Ok(v.to_owned())
}

fn optional(field: &str, value: Option<&str>, max: usize) -> Result<Option<String>, String> {
    match value.map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => text(field, v, max).map(Some),
    }
}

/// A location id goes into URLs, config files and desk settings: keep it plain.
pub fn location_id(id: &str) -> Result<String, String> {
    let id = text("id", id, 64)?;
    if !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
        return Err(format!(
            "The location id {id:?} may hold only letters, digits, '-' and '_' (e.g. \"north\" or \"gym-2\")."
        ));
    }
    Ok(id)
}

pub fn time_zone(name: &str) -> Result<String, String> {
    let name = name.trim();
    name.parse::<chrono_tz::Tz>().map(|tz| tz.name().to_owned()).map_err(|_| {
        format!(
            "`time_zone`: {name:?} is not a time zone this server knows. Use an IANA name such as Europe/London or America/New_York."
        )
    })
}

/// Checks the numbers of a location after a create or an edit.
fn check_location(l: &Location) -> Result<(), String> {
    if !(1..=100_000).contains(&l.capacity) {
        return Err("`capacity` must be between 1 and 100000 people.".into());
    }
    if !(1..=24 * 60).contains(&l.max_stay_minutes) {
        return Err("`max_stay_minutes` must be between 1 and 1440 (24 hours).".into());
    }
    if !(0..=24 * 60).contains(&l.reentry_window_minutes) {
        return Err("`reentry_window_minutes` must be between 0 (off) and 1440.".into());
    }
    Ok(())
}

pub fn new_location(n: &NewLocation) -> Result<Location, String> {
    let mut l = Location::new(location_id(&n.id)?, text("name", &n.name, MAX_NAME)?);
    apply_location_patch(
        &mut l,
        &LocationPatch {
            name: None,
            capacity: n.capacity,
            time_zone: n.time_zone.clone(),
            max_stay_minutes: n.max_stay_minutes,
            reentry_window_minutes: n.reentry_window_minutes,
            admits_other_gyms: n.admits_other_gyms,
        },
    )?;
    Ok(l)
}

pub fn apply_location_patch(l: &mut Location, p: &LocationPatch) -> Result<(), String> {
    if let Some(name) = &p.name {
        l.name = text("name", name, MAX_NAME)?;
    }
    if let Some(capacity) = p.capacity {
        l.capacity = capacity;
    }
    if let Some(tz) = &p.time_zone {
        l.time_zone = time_zone(tz)?;
    }
    if let Some(m) = p.max_stay_minutes {
        l.max_stay_minutes = m;
    }
    if let Some(m) = p.reentry_window_minutes {
        l.reentry_window_minutes = m;
    }
    if let Some(a) = p.admits_other_gyms {
        l.admits_other_gyms = a;
    }
    check_location(l)
}

pub fn username(u: &str) -> Result<String, String> {
    let u = text("username", u, MAX_USERNAME)?;
    if u.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!("The username {u:?} may not contain spaces."));
    }
    Ok(u)
}

pub fn staff_name(n: &str) -> Result<String, String> {
    text("name", n, MAX_NAME)
}

pub fn password(p: &str) -> Result<(), String> {
    let count = p.chars().count();
    if count < MIN_PASSWORD {
        return Err(format!("The password is too short: use at least {MIN_PASSWORD} characters."));
    }
    if count > MAX_PASSWORD {
        return Err(format!("The password is too long: use at most {MAX_PASSWORD} characters."));
    }
    Ok(())
}

pub fn card(c: &str) -> Result<String, String> {
    let c = text("card", c, MAX_CARD)?;
    if c.chars().any(char::is_whitespace) {
        return Err(format!("The card {c:?} contains a space; a card code is what the reader types."));
    }
    Ok(c)
}

pub fn phone(p: &str) -> Result<Option<String>, String> {
    optional("phone", Some(p), MAX_PHONE)
}

pub fn email(e: &str) -> Result<Option<String>, String> {
    let e = optional("email", Some(e), MAX_EMAIL)?;
    if let Some(e) = &e
        && !e.contains('@')
    {
        return Err(format!("{e:?} is not an e-mail address."));
    }
    Ok(e)
}

pub fn member_name(n: &str) -> Result<String, String> {
    text("name", n, MAX_NAME)
}

/// A membership end far in the past is almost always a typing mistake.
pub fn valid_until(d: NaiveDate, today: NaiveDate) -> Result<NaiveDate, String> {
    if d < today - chrono::Duration::days(366) {
        return Err(format!("`valid_until` {d} is more than a year ago; check the date."));
    }
    Ok(d)
}

pub fn new_member(n: &NewMember, now: chrono::DateTime<chrono::Utc>) -> Result<Member, String> {
    let mut m = Member {
        id: uuid::Uuid::new_v4().to_string(),
        name: member_name(&n.name)?,
        card: card(&n.card)?,
        phone: phone(n.phone.as_deref().unwrap_or(""))?,
        valid_until: Some(valid_until(n.valid_until, now.date_naive())?),
        created_at: now,
        email: email(n.email.as_deref().unwrap_or(""))?,
        external_id: optional("external_id", n.external_id.as_deref(), MAX_EXTERNAL_ID)?,
        home_location_id: Some(location_id(&n.home_location_id)?),
        ..Default::default()
    };
    m.status = m.status_on(now.date_naive());
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_zones_are_iana_names() {
        assert_eq!(time_zone("Europe/Berlin").unwrap(), "Europe/Berlin");
        assert!(time_zone("Mars/Olympus").unwrap_err().contains("IANA"));
    }

    #[test]
    fn locations_are_checked_and_defaulted() {
        let n = NewLocation {
            id: "north".into(),
            name: "North".into(),
            capacity: Some(60),
            time_zone: None,
            max_stay_minutes: None,
            reentry_window_minutes: None,
            admits_other_gyms: None,
        };
        let l = new_location(&n).unwrap();
        assert_eq!((l.capacity, l.time_zone.as_str(), l.max_stay_minutes, l.admits_other_gyms), (60, "UTC", 240, true));
        assert!(new_location(&NewLocation { id: "no spaces".into(), ..n.clone() }).is_err());
        assert!(new_location(&NewLocation { capacity: Some(0), ..n }).unwrap_err().contains("capacity"));
    }

    #[test]
    fn usernames_passwords_and_cards() {
        assert!(username("ann lee").is_err());
        assert!(username(&"a".repeat(65)).is_err());
        assert!(password("short").unwrap_err().contains("at least 8"));
        assert!(password(&"x".repeat(300)).is_err());
        assert!(card("C 1").is_err());
        assert_eq!(email("").unwrap(), None);
        assert!(email("nope").is_err());
    }
}
