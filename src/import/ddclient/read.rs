//! The ddclient.conf reader: physical lines → host entries with the settings in effect for
//! each, as ddclient 3.x reads them (passwords before comments, `\` continuations, quoted
//! and escaped values, globals from lines without hosts). No mapping to flaredns here.

use std::collections::BTreeMap;

use super::super::imported::{Imported, Section};
use super::super::{ParseError, Problem};

/// One assignment's value and the line it was written on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Setting {
    pub value: String,
    pub line: usize,
}

pub(super) type Settings = BTreeMap<String, Setting>;

/// One host with the settings in effect for it (globals, then its own line's).
#[derive(Debug)]
pub(super) struct HostEntry {
    pub host: String,
    pub line: usize,
    pub settings: Settings,
}

/// What the reader found: host entries, the globals left at the end, and every key seen
/// (with its line, once per line).
pub(super) struct Parsed {
    pub entries: Vec<HostEntry>,
    pub globals: Settings,
    pub seen: Vec<(String, usize)>,
}

/// Splits the file into host entries, the globals left at the end, and every key seen (with
/// its line, once per line).
pub(super) fn read_entries(text: &str, imported: &mut Imported) -> Result<Parsed, ParseError> {
    let mut gathered = Parsed {
        entries: Vec::new(),
        globals: Settings::new(),
        seen: Vec::new(),
    };
    let mut logical = Logical::default();
    let mut last_line = 0;
    for (index, raw) in text.lines().enumerate() {
        let line_no = index + 1;
        last_line = line_no;
        let line = logical.take_passwords(raw, line_no);
        if logical.push(line, line_no) {
            logical_line(&logical, &mut gathered)?;
            logical.clear();
        }
    }
    if !logical.segments.is_empty() {
        imported.note(Section::General, format!("the last line ({last_line}) ends with `\\`, continuing into nothing; ddclient drops that entry, flaredns read it as if it ended there"));
        logical_line(&logical, &mut gathered)?;
    }
    // A host defined again replaces its earlier definition, as in ddclient; keys are noted
    // once per line.
    let mut hosts = std::collections::HashSet::new();
    gathered.entries.reverse();
    gathered
        .entries
        .retain(|entry| hosts.insert(entry.host.clone()));
    gathered.entries.reverse();
    let mut keys = std::collections::HashSet::new();
    gathered
        .seen
        .retain(|key_line| keys.insert(key_line.clone()));
    Ok(gathered)
}

/// One logical line as it is assembled from physical lines joined by `\`: its text, where
/// each physical line starts in it, and the passwords taken out before comments were.
#[derive(Default)]
struct Logical {
    text: String,
    /// (offset in `text`, physical line number), in offset order.
    segments: Vec<(usize, usize)>,
    passwords: BTreeMap<String, Setting>,
    /// `password=\` continues on the next line: the password is that line's first word.
    continued_password: Option<String>,
}

impl Logical {
    /// Takes the passwords out of a physical line (ddclient reads them before comments, so
    /// they may hold `#`), leaving `dummy` in their place.
    fn take_passwords(&mut self, raw: &str, line_no: usize) -> String {
        let mut line = raw.to_string();
        if let Some(key) = self.continued_password.take() {
            let start = line.len() - line.trim_start().len();
            let len = line[start..]
                .find(|c: char| c.is_whitespace() || c == ',')
                .unwrap_or(line.len() - start);
            let value = line[start..start + len].to_string();
            self.passwords.insert(
                key,
                Setting {
                    value,
                    line: line_no,
                },
            );
            line.replace_range(start..start + len, "");
        }
        if let Some((key, value, replaced)) = password_assignment(&line) {
            if value == "\\" {
                // The value is on the next line; keep the continuation.
                self.continued_password = Some(key);
                line = format!("{} \\", replaced.trim_end());
            } else {
                self.passwords.insert(
                    key,
                    Setting {
                        value,
                        line: line_no,
                    },
                );
                line = replaced;
            }
        }
        line
    }

    /// Adds a physical line without its comment; true when it ends the logical line (no
    /// `\` continuation).
    fn push(&mut self, mut line: String, line_no: usize) -> bool {
        if let Some(hash) = line.find('#') {
            line.truncate(hash);
        }
        self.segments.push((self.text.len(), line_no));
        let trimmed = line.trim_end();
        if let Some(body) = trimmed.strip_suffix('\\') {
            self.text.push_str(body);
            self.text.push(' ');
            return false;
        }
        self.text.push_str(trimmed);
        true
    }

    /// Starts the next logical line (a pending `password=\` carries over).
    fn clear(&mut self) {
        self.text.clear();
        self.segments.clear();
        self.passwords.clear();
    }

    /// The physical line holding byte `offset` of the text. Segments are in offset order: a
    /// binary search keeps a long joined line linear.
    fn line_at(&self, offset: usize) -> usize {
        let after = self.segments.partition_point(|(start, _)| *start <= offset);
        self.segments
            .get(after.saturating_sub(1))
            .map(|(_, line)| *line)
            .unwrap_or(1)
    }
}

/// ddclient reads `…password…=VALUE` before removing comments, so a password may hold `#`.
/// Returns the key, the value and the line with the value replaced by `dummy`.
fn password_assignment(line: &str) -> Option<(String, String, String)> {
    let hash = line.find('#').unwrap_or(line.len());
    let at = line[..hash].find("password")?;
    let key_start = line[..at]
        .char_indices()
        .rfind(|(_, c)| c.is_whitespace() || *c == ',')
        .map(|(i, c)| i + c.len_utf8())
        .unwrap_or(0);
    let after = at + "password".len();
    let equals = after + line[after..].find('=')?;
    let between = line[after..equals].trim_end();
    if between.chars().any(char::is_whitespace) {
        return None;
    }
    let key = &line[key_start..after + between.len()];
    if !is_key(key) {
        return None;
    }
    let value_start =
        equals + 1 + (line[equals + 1..].len() - line[equals + 1..].trim_start().len());
    let rest = &line[value_start..];
    let (value, end) = if let Some(quoted) = rest.strip_prefix('\'') {
        let close = quoted.find('\'')?;
        (&quoted[..close], value_start + close + 2)
    } else {
        let len = rest
            .find(|c: char| c.is_whitespace() || c == ',')
            .unwrap_or(rest.len());
        (&rest[..len], value_start + len)
    };
    let replaced = format!("{}{key}=dummy{}", &line[..key_start], &line[end..]);
    Some((key.to_ascii_lowercase(), value.to_string(), replaced))
}

/// An option name: a letter, then letters, digits, `_` and `-`.
fn is_key(text: &str) -> bool {
    let mut chars = text.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// One logical line (continuations joined): assignments, then hosts, login, password.
fn logical_line(logical: &Logical, gathered: &mut Parsed) -> Result<(), ParseError> {
    let (locals, rest) = assignments(logical, &mut gathered.seen)?;
    host_entries(logical, rest, locals, gathered);
    Ok(())
}

/// The `key=value` assignments at the start of a logical line, the keys the mapping reads
/// kept (every key noted in `seen`), and the rest of the line.
fn assignments<'a>(
    logical: &'a Logical,
    seen: &mut Vec<(String, usize)>,
) -> Result<(Settings, &'a str), ParseError> {
    let text = logical.text.as_str();
    let mut locals = Settings::new();
    let mut rest = text;
    loop {
        let skipped = rest.trim_start_matches(|c: char| c == ',' || c.is_whitespace());
        let offset = text.len() - skipped.len();
        let Some(equals) = skipped.find('=') else {
            break;
        };
        let key = &skipped[..equals];
        if !is_key(key) {
            break;
        }
        let (value, consumed) = assignment_value(&skipped[equals + 1..]).map_err(|quote_at| {
            ParseError::at(
                logical.line_at(offset + equals + 1 + quote_at),
                Problem::UnclosedQuote,
            )
        })?;
        let key = key.to_ascii_lowercase();
        let line = logical.line_at(offset);
        let setting = match logical.passwords.get(&key) {
            Some(password) if value == "dummy" => password.clone(),
            _ => Setting { value, line },
        };
        seen.push((key.clone(), setting.line));
        // Only the keys the mapping reads are kept, so a host's settings stay small however
        // many other keys a (hostile) file sets; the rest are notes, from `seen`.
        if super::MAPPED.contains(&key.as_str()) {
            locals.insert(key, setting);
        }
        rest = &skipped[equals + 1 + consumed..];
    }
    Ok((locals, rest))
}

/// The rest of a logical line: hosts (comma-separated), then login and password. Without a
/// host, the line's assignments become globals; with hosts, each gets the globals and them.
fn host_entries(logical: &Logical, rest: &str, locals: Settings, gathered: &mut Parsed) {
    let rest_offset = logical.text.len() - rest.len();
    let mut args: Vec<String> = Vec::new();
    let normalised = normalise_commas(rest);
    for word in normalised.split_whitespace() {
        args.push(word.to_string());
    }
    if let Some(host) = locals.get("host") {
        match args.first_mut() {
            Some(first) => {
                first.push(',');
                first.push_str(&host.value);
            }
            None => args.push(host.value.clone()),
        }
    }
    if args.is_empty() {
        gathered.globals.extend(locals);
        return;
    }
    let line = logical.line_at(rest_offset + rest.len() - rest.trim_start().len());
    let mut settings = gathered.globals.clone();
    settings.extend(locals);
    if let Some(login) = args.get(1) {
        settings.insert(
            "login".to_string(),
            Setting {
                value: login.clone(),
                line,
            },
        );
    }
    if let Some(password) = args.get(2) {
        settings.insert(
            "password".to_string(),
            Setting {
                value: password.clone(),
                line,
            },
        );
    }
    for host in args[0].split(',').filter(|h| !h.is_empty()) {
        gathered.entries.push(HostEntry {
            host: host.to_string(),
            line,
            settings: settings.clone(),
        });
    }
}

/// `\s*,\s*` → `,`, as ddclient canonifies the host list.
fn normalise_commas(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for (index, part) in text.split(',').enumerate() {
        if index > 0 {
            while out.ends_with(char::is_whitespace) {
                out.pop();
            }
            out.push(',');
            out.push_str(part.trim_start());
        } else {
            out.push_str(part);
        }
    }
    out
}

/// A value after `=`: backslash escapes, `'…'` and `"…"` quoting, ended by an unquoted space
/// or comma. Returns the value and the bytes consumed; an unclosed quote is an error at the
/// quote's offset.
fn assignment_value(text: &str) -> Result<(String, usize), usize> {
    let mut value = String::new();
    let mut escape = false;
    let mut quote: Option<(char, usize)> = None;
    for (index, c) in text.char_indices() {
        if escape {
            value.push(c);
            escape = false;
        } else if c == '\\' {
            escape = true;
        } else if quote.is_some_and(|(q, _)| q == c) {
            quote = None;
        } else if quote.is_none() && (c == '\'' || c == '"') {
            quote = Some((c, index));
        } else if quote.is_none() && (c.is_whitespace() || c == ',') {
            return Ok((value, index));
        } else {
            value.push(c);
        }
    }
    match quote {
        Some((_, at)) => Err(at),
        None => Ok((value, text.len())),
    }
}

/// ddclient's interval syntax: `300`, `300s`, `5m`, `2h`, `1d`.
pub(super) fn interval_seconds(text: &str) -> Option<u64> {
    let text = text.trim();
    let digits = text.len() - text.trim_start_matches(|c: char| c.is_ascii_digit()).len();
    let number: u64 = text[..digits].parse().ok()?;
    let unit = text[digits..].to_ascii_lowercase();
    let factor = match unit.as_str() {
        "" | "s" | "seconds" => 1,
        "m" | "minutes" => 60,
        "h" | "hours" => 3600,
        "d" | "days" => 86400,
        _ => return None,
    };
    number.checked_mul(factor)
}
