//! Dates in the messages staff read, written one way by the server and the desks alike.

use chrono::NaiveDate;

/// A calendar date as staff write it: "28 Nov 2026" (never read as 11/28 or 28/11).
pub fn written_date(date: NaiveDate) -> String {
    date.format("%-d %b %Y").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_as_staff_write_them() {
        assert_eq!(written_date("2026-11-28".parse().unwrap()), "28 Nov 2026");
        assert_eq!(written_date("2027-01-05".parse().unwrap()), "5 Jan 2027");
    }
}
