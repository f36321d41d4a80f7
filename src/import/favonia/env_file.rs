//! The env-file reader: `KEY=VALUE` lines as Docker's `--env-file` and compose's `.env` take
//! them (`export `, quotes, ` # comments`), plus a compose file's `environment:` items
//! (`- KEY=VALUE`, `KEY: value`). Lines that are not an assignment of an upper-case name
//! (YAML keys, blank lines, comments) are passed over; an unclosed quote is an error.

use super::super::{ParseError, Problem};

/// Every assignment with its value (quotes removed) and line, in order.
pub(super) fn assignments(text: &str) -> Result<Vec<(String, String, usize)>, ParseError> {
    let mut variables = Vec::new();
    let lines: Vec<&str> = text.lines().collect();
    let mut index = 0;
    while index < lines.len() {
        let line_no = index + 1;
        let line = lines[index].trim();
        index += 1;
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("- ").map(str::trim_start).unwrap_or(line);
        let line = line
            .strip_prefix("export ")
            .map(str::trim_start)
            .unwrap_or(line);
        let Some((key, raw)) = split_assignment(line) else {
            continue;
        };
        let mut raw = raw.to_string();
        // A double-quoted value may span lines (SHOUTRRR holds one URL per line).
        if raw.starts_with('"') && !closes(&raw) {
            while index < lines.len() && !closes(&raw) {
                raw.push('\n');
                raw.push_str(lines[index]);
                index += 1;
            }
        }
        let value = unquote(&raw).map_err(|()| ParseError::at(line_no, Problem::UnclosedQuote))?;
        variables.push((key.to_string(), value, line_no));
    }
    Ok(variables)
}

/// `KEY=VALUE` or `KEY: VALUE` with an upper-case variable name.
fn split_assignment(line: &str) -> Option<(&str, &str)> {
    let end = line.find(|c: char| !(c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'))?;
    let key = &line[..end];
    if key.is_empty() || key.starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    let rest = &line[end..];
    let value = rest
        .strip_prefix('=')
        .or_else(|| rest.strip_prefix(':').map(str::trim_start))?;
    Some((key, value))
}

/// Whether a double-quoted raw value has its closing quote.
fn closes(raw: &str) -> bool {
    let mut escaped = false;
    for c in raw.chars().skip(1) {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '"' => return true,
            _ => {}
        }
    }
    false
}

/// Removes quotes (`"…"` with `\n`, `\"` escapes, `'…'` literal) or an unquoted value's
/// ` # comment`. An unclosed quote is an error.
fn unquote(raw: &str) -> Result<String, ()> {
    let raw = raw.trim();
    if let Some(body) = raw.strip_prefix('"') {
        let mut value = String::new();
        let mut chars = body.chars();
        while let Some(c) = chars.next() {
            match c {
                '"' => return Ok(value),
                '\\' => match chars.next() {
                    Some('n') => value.push('\n'),
                    Some(other) => value.push(other),
                    None => return Err(()),
                },
                other => value.push(other),
            }
        }
        return Err(());
    }
    if let Some(body) = raw.strip_prefix('\'') {
        return body.find('\'').map(|end| body[..end].to_string()).ok_or(());
    }
    let value = match raw.find(" #") {
        Some(comment) => &raw[..comment],
        None => raw,
    };
    Ok(value.trim().to_string())
}
