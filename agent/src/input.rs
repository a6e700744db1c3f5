//! One scan per line: a bare line is a card code to check in; a JSON line is a command.

use frontdesk_desk::Who;
use serde::Deserialize;

#[derive(Debug, PartialEq)]
pub enum Line {
    Empty,
    CheckIn(Who, Option<String>),
    CheckOut(Who),
    RetryNow,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Target {
    card: Option<String>,
    member_id: Option<String>,
    /// A check-out of a known visit.
    check_in_id: Option<String>,
    /// Let in despite a rejection, with a reason.
    #[serde(rename = "override")]
    override_: Option<OverrideLine>,
}

/// `"override":{"reason":"…"}` as docs/desk.md ("The agent") writes it (the wire's
/// `Override`), or the reason alone (`"override":"…"`), which earlier agents took.
#[derive(Deserialize)]
#[serde(untagged)]
enum OverrideLine {
    Reason(String),
    Object { reason: String },
}

impl OverrideLine {
    fn reason(self) -> String {
        match self {
            Self::Reason(reason) | Self::Object { reason } => reason,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonLine {
    check_in: Option<Target>,
    check_out: Option<Target>,
    retry_now: Option<bool>,
}

fn who(target: Target, allow_visit: bool) -> Result<Who, String> {
    match (target.card, target.member_id, target.check_in_id) {
        (Some(card), None, None) if !card.trim().is_empty() => Ok(Who::Card(card.trim().to_owned())),
        (None, Some(id), None) if !id.trim().is_empty() => Ok(Who::MemberId(id.trim().to_owned())),
        (None, None, Some(id)) if allow_visit && !id.trim().is_empty() => Ok(Who::Visit(id.trim().to_owned())),
        _ => Err("name exactly one of \"card\" or \"member_id\" (or \"check_in_id\" for a check-out)".into()),
    }
}

pub fn parse(line: &str) -> Result<Line, String> {
    let line = line.trim();
    if line.is_empty() {
        return Ok(Line::Empty);
    }
    if !line.starts_with('{') {
        return Ok(Line::CheckIn(Who::Card(line.to_owned()), None));
    }
    let parsed: JsonLine = serde_json::from_str(line).map_err(|e| {
        format!(
            "This line is not a scan: {e}. Send a card code, or one of {{\"check_in\":{{\"card\":\"…\"}}}}, \
             {{\"check_in\":{{\"member_id\":\"…\"}}}}, {{\"check_out\":{{\"card\":\"…\"}}}}, {{\"retry_now\":true}}."
        )
    })?;
    match parsed {
        JsonLine { check_in: Some(mut t), check_out: None, retry_now: None } => {
            let reason = t.override_.take().map(OverrideLine::reason);
            Ok(Line::CheckIn(who(t, false).map_err(|e| format!("check_in: {e}"))?, reason))
        }
        JsonLine { check_in: None, check_out: Some(t), retry_now: None } => {
            Ok(Line::CheckOut(who(t, true).map_err(|e| format!("check_out: {e}"))?))
        }
        JsonLine { check_in: None, check_out: None, retry_now: Some(true) } => Ok(Line::RetryNow),
        _ => Err("A JSON line holds exactly one of \"check_in\", \"check_out\" or \"retry_now\": true.".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_of_agent_md() {
        assert_eq!(parse("D0001").unwrap(), Line::CheckIn(Who::Card("D0001".into()), None));
        assert_eq!(parse("  D0001 \r").unwrap(), Line::CheckIn(Who::Card("D0001".into()), None));
        assert_eq!(parse("").unwrap(), Line::Empty);
        assert_eq!(parse(r#"{"check_in":{"card":"D1"}}"#).unwrap(), Line::CheckIn(Who::Card("D1".into()), None));
        assert_eq!(parse(r#"{"check_in":{"member_id":"m"}}"#).unwrap(), Line::CheckIn(Who::MemberId("m".into()), None));
        assert_eq!(parse(r#"{"check_out":{"card":"D1"}}"#).unwrap(), Line::CheckOut(Who::Card("D1".into())));
        assert_eq!(parse(r#"{"retry_now":true}"#).unwrap(), Line::RetryNow);
        assert_eq!(
            parse(r#"{"check_in":{"card":"D1","override":"paid at desk"}}"#).unwrap(),
            Line::CheckIn(Who::Card("D1".into()), Some("paid at desk".into()))
        );
        assert_eq!(
            parse(r#"{"check_in":{"card":"D1","override":{"reason":"renewed today"}}}"#).unwrap(),
            Line::CheckIn(Who::Card("D1".into()), Some("renewed today".into()))
        );
    }

    #[test]
    fn bad_lines_say_what_is_expected() {
        for bad in [
            r#"{"check_in":{}}"#,
            r#"{"check_in":{"card":"a","member_id":"b"}}"#,
            "{oops",
            r#"{"dance":1}"#,
            r#"{"retry_now":false}"#,
            r#"{"check_in":{"card":"D1","override":{"why":"x"}}}"#,
        ] {
            let err = parse(bad).unwrap_err();
            assert!(err.len() > 20, "{bad}: {err}");
        }
    }
}
