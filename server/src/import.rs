//! Reading a member CSV file (docs/server.md "Members from CSV"): a header row, columns
//! `card`, `name`, `valid_until` required and `phone`, `email`, `external_id`, `frozen`
//! optional, in any order. Every bad row is reported with its line and what to fix;
//! the store then matches rows to members and refuses conflicts with stored members.
//! Nothing here touches the store, so every refusal is unit-tested.

use std::collections::HashMap;

use chrono::NaiveDate;

use crate::store::{ImportRow, RowError};

const REQUIRED: &[&str] = &["card", "name", "valid_until"];
const OPTIONAL: &[&str] = &["phone", "email", "external_id", "frozen"];

/// Longest values kept; longer ones are refused rather than cut.
pub const MAX_CARD: usize = 64;
pub const MAX_NAME: usize = 200;
pub const MAX_PHONE: usize = 40;
pub const MAX_EMAIL: usize = 254;
pub const MAX_EXTERNAL_ID: usize = 100;

/// What the file said, row by row, or every reason it cannot be imported.
#[derive(Debug)]
pub struct Parsed {
    pub rows: Vec<ImportRow>,
    /// Header columns this importer does not know; they are ignored (and reported).
    pub ignored_columns: Vec<String>,
}

pub fn parse(bytes: &[u8]) -> Result<Parsed, Vec<RowError>> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes); // Excel's UTF-8 mark
    let mut reader = csv::ReaderBuilder::new().has_headers(true).flexible(true).trim(csv::Trim::All).from_reader(bytes);
    let header_error = |message: String| vec![RowError { line: 1, message }];
    let headers = match reader.byte_headers() {
        Ok(h) => h.clone(),
        Err(e) => return Err(header_error(format!("the header row cannot be read ({e}).",))),
    };
    let mut columns: HashMap<String, usize> = HashMap::new();
    let mut ignored_columns = Vec::new();
    for (index, raw) in headers.iter().enumerate() {
        let Ok(name) = std::str::from_utf8(raw) else {
            return Err(header_error("the header row is not UTF-8 text. Save the file as \"CSV UTF-8\".".into()));
        };
        let name = name.trim().to_ascii_lowercase();
        if name.is_empty() {
            continue;
        }
        if !REQUIRED.contains(&name.as_str()) && !OPTIONAL.contains(&name.as_str()) {
            ignored_columns.push(name);
            continue;
        }
        if columns.insert(name.clone(), index).is_some() {
            return Err(header_error(format!("the column {name:?} appears twice in the header row; keep one.")));
        }
    }
    let missing: Vec<&str> = REQUIRED.iter().copied().filter(|c| !columns.contains_key(*c)).collect();
    if !missing.is_empty() {
        return Err(header_error(format!(
            "the header row has no {} column. The first row must name the columns: card, name and \
             valid_until are required; phone, email, external_id and frozen are optional.",
            missing.iter().map(|c| format!("{c:?}")).collect::<Vec<_>>().join(", ")
        )));
    }

    let mut rows = Vec::new();
    let mut errors = Vec::new();
    let mut cards: HashMap<String, u64> = HashMap::new();
    let mut external_ids: HashMap<String, u64> = HashMap::new();
    let mut lines = LineCounter::new(bytes);
    for record in reader.byte_records() {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map(|p| lines.line_at(p.byte())).unwrap_or(0);
                errors.push(RowError { line, message: format!("this row cannot be read as CSV ({e}).") });
                continue;
            }
        };
        let line = record.position().map(|p| lines.line_at(p.byte())).unwrap_or(0);
        if record.iter().all(|f| f.is_empty()) {
            continue; // blank line
        }
        match parse_row(&record, &columns, line) {
            Err(message) => errors.push(RowError { line, message }),
            Ok(row) => {
                if let Some(first) = cards.insert(row.card.clone(), line) {
                    errors.push(RowError {
                        line,
                        message: format!(
                            "card {:?} is also on line {first}; each card belongs to one member.",
                            row.card
                        ),
                    });
                    continue;
                }
                if let Some(ext) = &row.external_id
                    && let Some(first) = external_ids.insert(ext.clone(), line)
                {
                    errors.push(RowError {
                        line,
                        message: format!("external_id {ext:?} is also on line {first}; keep one row per member."),
                    });
                    continue;
                }
                rows.push(row);
            }
        }
    }
    if errors.is_empty() { Ok(Parsed { rows, ignored_columns }) } else { Err(errors) }
}

/// Line numbers (from 1) of byte offsets, read forward once: records come in order, so
/// a whole file costs one pass. The csv reader's own line count skips blank lines, which
/// would send people to the wrong row of their file.
struct LineCounter<'a> {
    bytes: &'a [u8],
    offset: usize,
    line: u64,
}

impl<'a> LineCounter<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Self { bytes, offset: 0, line: 1 }
    }

    fn line_at(&mut self, offset: u64) -> u64 {
        let mut end = (offset as usize).min(self.bytes.len());
        // A record's position is where the reader started looking, before blank lines.
        while end < self.bytes.len() && (self.bytes[end] == b'\n' || self.bytes[end] == b'\r') {
            end += 1;
        }
        if end >= self.offset {
            self.line += self.bytes[self.offset..end].iter().filter(|&&b| b == b'\n').count() as u64;
            self.offset = end;
        }
        self.line
    }
}

fn parse_row(record: &csv::ByteRecord, columns: &HashMap<String, usize>, line: u64) -> Result<ImportRow, String> {
    let field = |name: &str| -> Result<Option<&str>, String> {
        match columns.get(name) {
            None => Ok(None),
            Some(&i) => match record.get(i) {
                None => Ok(Some("")),
                Some(raw) => std::str::from_utf8(raw)
                    .map(Some)
                    .map_err(|_| format!("the {name} is not UTF-8 text. Save the file as \"CSV UTF-8\".")),
            },
        }
    };
    let required = |name: &str, max: usize| -> Result<String, String> {
        let value = field(name)?.unwrap_or("");
        if value.is_empty() {
            return Err(format!("{name} is empty; every member needs one."));
        }
        if value.chars().count() > max {
            return Err(format!("{name} is longer than {max} characters."));
        }
        Ok(value.to_owned())
    };
    // An optional column: `None` when absent from the file, `Some(None)` when empty.
    let optional = |name: &str, max: usize| -> Result<Option<Option<String>>, String> {
        match field(name)? {
            None => Ok(None),
            Some("") => Ok(Some(None)),
            Some(v) if v.chars().count() > max => Err(format!("{name} is longer than {max} characters.")),
            Some(v) => Ok(Some(Some(v.to_owned()))),
        }
    };

    let card = required("card", MAX_CARD)?;
    if card.chars().any(char::is_whitespace) {
        return Err(format!("card {card:?} contains a space; a card code is the letters and digits the reader types."));
    }
    let name = required("name", MAX_NAME)?;
    let raw_date = required("valid_until", 10)
        .map_err(|_| "valid_until must be a date written YYYY-MM-DD (e.g. 2027-01-31).".to_owned())?;
    let valid_until = NaiveDate::parse_from_str(&raw_date, "%Y-%m-%d")
        .map_err(|_| format!("valid_until {raw_date:?} is not a date; write it as YYYY-MM-DD (e.g. 2027-01-31)."))?;
    let email = optional("email", MAX_EMAIL)?;
    if let Some(Some(e)) = &email
        && !e.contains('@')
    {
        return Err(format!("email {e:?} is not an e-mail address; correct it or leave it empty."));
    }
    let frozen = match field("frozen")?.map(str::to_ascii_lowercase).as_deref() {
        None => None,
        Some("") => Some(false),
        Some("true" | "yes" | "1") => Some(true),
        Some("false" | "no" | "0") => Some(false),
        Some(other) => return Err(format!("frozen {other:?} must be true or false.")),
    };
    Ok(ImportRow {
        line,
        card,
        name,
        valid_until,
        phone: optional("phone", MAX_PHONE)?,
        email,
        external_id: optional("external_id", MAX_EXTERNAL_ID)?.flatten(),
        frozen,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errors(csv: &str) -> Vec<RowError> {
        parse(csv.as_bytes()).expect_err("should be refused")
    }

    #[test]
    fn columns_in_any_order_quoted_commas_and_utf8_names() {
        let csv = "\u{feff}Valid_Until,name,card,phone,notes\n\
                   2027-01-31,\"Müller, Jürgen\",C100,+49 30 1234,vip\n\
                   \n\
                   2027-02-28,  Zoë Ødegaard ,C101,,\n";
        let parsed = parse(csv.as_bytes()).unwrap();
        assert_eq!(parsed.ignored_columns, ["notes"]);
        assert_eq!(parsed.rows.len(), 2);
        let first = &parsed.rows[0];
        assert_eq!((first.line, first.card.as_str(), first.name.as_str()), (2, "C100", "Müller, Jürgen"));
        assert_eq!(first.phone, Some(Some("+49 30 1234".into())));
        assert_eq!(first.email, None, "no email column: keep what is stored");
        let second = &parsed.rows[1];
        assert_eq!((second.line, second.name.as_str()), (4, "Zoë Ødegaard"));
        assert_eq!(second.phone, Some(None), "an empty phone clears it");
        assert_eq!(second.valid_until.to_string(), "2027-02-28");
    }

    #[test]
    fn a_missing_column_is_one_error_on_the_header() {
        let e = errors("card,name\nC1,Ann\n");
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].line, 1);
        assert!(e[0].message.contains("\"valid_until\""), "{}", e[0].message);
    }

    #[test]
    fn every_bad_row_is_named_with_its_line_and_the_fix() {
        let csv = "card,name,valid_until,email,frozen\n\
                   C1,Ann,2027-01-01,,\n\
                   C2,Bo,31/01/2027,,\n\
                   C3,,2027-01-01,,\n\
                   C1,Cy,2027-01-01,,\n\
                   C4,Di,2027-01-01,not-an-address,\n\
                   C5,Ed,2027-01-01,,maybe\n";
        let e = errors(csv);
        let lines: Vec<u64> = e.iter().map(|e| e.line).collect();
        assert_eq!(lines, [3, 4, 5, 6, 7]);
        assert!(e[0].message.contains("YYYY-MM-DD"), "{}", e[0].message);
        assert!(e[1].message.contains("name is empty"), "{}", e[1].message);
        assert!(e[2].message.contains("also on line 2"), "{}", e[2].message);
        assert!(e[3].message.contains("e-mail"), "{}", e[3].message);
        assert!(e[4].message.contains("true or false"), "{}", e[4].message);
    }

    #[test]
    fn duplicate_external_ids_and_spaces_in_cards_are_refused() {
        let e = errors(
            "card,name,valid_until,external_id\nC1,Ann,2027-01-01,X1\nC2,Bo,2027-01-01,X1\nC 3,Cy,2027-01-01,\n",
        );
        assert_eq!(e.iter().map(|e| e.line).collect::<Vec<_>>(), [3, 4]);
    }

    #[test]
    fn line_numbers_count_quoted_newlines() {
        let e = errors("card,name,valid_until\nC1,\"Ann\nLee\",2027-01-01\nC2,Bo,soon\n");
        assert_eq!(e[0].line, 4);
    }
}
