//! The page at `GET /`: the last cycle as one read-only HTML document for a person with a
//! phone: host, outcome, detected addresses, next check, every record, the WAF lists, what is
//! failing with its sentence (which names the fix), and a timeline of address changes drawn
//! as inline SVG. A pure function of the status (`LastCycle`), rendered by the publisher once
//! per cycle, so a request only copies bytes and a visitor never slows a cycle.
//! It is hand-written `write!` (no template crate: the binary has a size budget). Everything
//! that comes from outside (record names, sentences, addresses, list items, the host name) is
//! HTML-escaped; no attribute takes outside text except escaped `<title>` text. There is no
//! script and no `style=` attribute: the one `<style>` block is allowed by its hash in
//! `CONTENT_SECURITY_POLICY`, so the policy can forbid everything else. Nothing secret is in
//! the status document (tokens are never in it, URLs are shown redacted), so none is here.

use std::fmt::Write as _;

use crate::model::Family;
use crate::publish::status::{AddressChange, LastCycle, RecordKey, Subject};

/// The policy sent with the page: nothing may load, run or frame it; only the page's own
/// stylesheet applies (by its hash, checked by a test).
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; style-src 'sha256-64MGze2+MIejzyt8lH6xSiccBEkxUJE2WnLCsAnUrkM='; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// The page's only stylesheet. Changing it changes its hash: the unit test says the new one.
pub const STYLE: &str = "\
body{font-family:system-ui,sans-serif;margin:0 auto;max-width:56rem;padding:0.75rem;line-height:1.4;color:#1b1b1b;background:#fafafa}\
h1{font-size:1.3rem;margin:0.2rem 0}h2{font-size:1.05rem;margin:1.2rem 0 0.4rem;border-bottom:1px solid #ddd}\
.badge{display:inline-block;padding:0.05rem 0.45rem;border-radius:0.6rem;font-size:0.85rem;background:#e3e3e3}\
.ok{background:#d4f2d9;color:#0c4a1b}.bad{background:#fbd7d4;color:#7a130b}.mid{background:#fdf0c4;color:#5b4300}\
dl{display:grid;grid-template-columns:max-content 1fr;gap:0.15rem 0.8rem;margin:0}dt{color:#555}dd{margin:0;overflow-wrap:anywhere}\
ul{list-style:none;padding:0;margin:0}li.card{background:#fff;border:1px solid #e2e2e2;border-radius:0.4rem;padding:0.45rem 0.6rem;margin:0.35rem 0;overflow-wrap:anywhere}\
.name{font-weight:600}.small{font-size:0.85rem;color:#555}.error{color:#7a130b}code{font-family:monospace,monospace;font-size:0.95em}\
svg{width:100%;height:auto;background:#fff;border:1px solid #e2e2e2;border-radius:0.4rem}\
.axis{stroke:#bbb;stroke-width:1}.v4{fill:#1f6feb}.v6{fill:#b35900}.label{fill:#555;font-size:11px}\
footer{margin-top:1.5rem;font-size:0.8rem;color:#666}a{color:#1f5fbf}";

/// Records shown at most; the rest are counted ("and N more").
pub const MAX_RECORDS: usize = 500;
/// Past this many bytes no further record is added (500 records of long, escaped names
/// could otherwise make megabytes); the rest are counted.
const MAX_PAGE_BYTES: usize = 1024 * 1024;
/// Items shown per WAF list at most, and lists shown at most.
const MAX_LIST_ITEMS: usize = 20;
const MAX_LISTS: usize = 50;
/// Sentences (problems) shown at most.
const MAX_PROBLEMS: usize = 20;
/// Address changes listed under the timeline (all of them are drawn).
const CHANGES_LISTED: usize = 10;
/// The page asks the browser to load it again this often.
const REFRESH_SECONDS: u32 = 30;

/// The page for `last`, rendered at `now` (unix seconds) on `host`. Pure.
pub fn render(last: &LastCycle, now: u64, host: &str) -> String {
    let mut out = String::with_capacity(8 * 1024 + last.records.len().min(MAX_RECORDS) * 400);
    let host = text(host);
    let (verdict, verdict_class) = match (last.finished_at, last.success) {
        (0, _) => ("no cycle yet", "mid"),
        (_, true) => ("in sync", "ok"),
        (_, false) => ("failing", "bad"),
    };
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<meta http-equiv=\"refresh\" content=\"{REFRESH_SECONDS}\">\
<meta name=\"referrer\" content=\"no-referrer\">\
<title>flaredns on {host}: {verdict}</title><style>{STYLE}</style></head><body>\n\
<h1>flaredns on {host} <span class=\"badge {verdict_class}\">{verdict}</span></h1>\n"
    );
    cycle(&mut out, last);
    failing(&mut out, last);
    timeline(&mut out, &last.history, now);
    records(&mut out, last);
    lists(&mut out, last);
    let _ = write!(
        out,
        "<footer>flaredns {} · as of {} · this page reloads every {REFRESH_SECONDS} s · \
<a href=\"/status.json\">status.json</a> · <a href=\"/metrics\">metrics</a> · \
<a href=\"/healthz\">healthz</a></footer>\n</body></html>\n",
        env!("CARGO_PKG_VERSION"),
        time(now)
    );
    out
}

/// The last cycle, the detected addresses and the next check.
fn cycle(out: &mut String, last: &LastCycle) {
    out.push_str("<h2>Last cycle</h2><dl>");
    if last.finished_at == 0 {
        out.push_str("<dt>last cycle</dt><dd>none yet: the first cycle is running</dd>");
    } else {
        let result = if last.success { "success" } else { "failed" };
        let _ = write!(
            out,
            "<dt>finished</dt><dd>{}</dd><dt>result</dt><dd>{result}</dd><dt>took</dt><dd>{} ms</dd>",
            time(last.finished_at),
            last.duration_ms
        );
    }
    if let Some(at) = last.last_success_at {
        let _ = write!(out, "<dt>last success</dt><dd>{}</dd>", time(at));
    }
    for (family, address) in &last.addresses {
        let _ = write!(
            out,
            "<dt>{}</dt><dd><code>{}</code></dd>",
            family.name(),
            text(&address.to_string())
        );
    }
    if let Some(at) = last.next_check_at {
        let _ = write!(out, "<dt>next check</dt><dd>{}</dd>", time(at));
    }
    out.push_str("</dl>\n");
}

/// What is failing, each with its sentence (which names the next step).
fn failing(out: &mut String, last: &LastCycle) {
    if last.failing.is_empty() && last.problems.is_empty() {
        return;
    }
    out.push_str("<h2>What is failing</h2><ul>");
    for problem in last.problems.iter().take(MAX_PROBLEMS) {
        let _ = write!(out, "<li class=\"card error\">{}</li>", text(problem));
    }
    for subject in &last.failing {
        let (what, error) = match subject {
            Subject::Record { name, family } => (
                format!("{} {}", text(name), family.record_type()),
                last.records
                    .iter()
                    .find(|record| &record.name == name && record.family == *family)
                    .and_then(|record| record.error.as_deref()),
            ),
            Subject::List { name } => (
                format!("WAF list {}", text(name)),
                last.waf_lists
                    .iter()
                    .find(|list| &list.name == name)
                    .and_then(|list| list.error.as_deref()),
            ),
            // Their sentences are the problems above.
            Subject::Detection { .. } | Subject::Cycle => continue,
        };
        let error = error.map_or_else(
            || "not checked in the last cycle; it was failing before".to_string(),
            text,
        );
        let _ = write!(
            out,
            "<li class=\"card\"><span class=\"name\">{what}</span><br><span class=\"error\">{error}</span></li>"
        );
    }
    if last.problems.len() > MAX_PROBLEMS {
        let _ = write!(
            out,
            "<li class=\"small\">and {} more problems</li>",
            last.problems.len() - MAX_PROBLEMS
        );
    }
    out.push_str("</ul>\n");
}

/// Every record (up to `MAX_RECORDS`) with its address, state and last change.
fn records(out: &mut String, last: &LastCycle) {
    let _ = write!(out, "<h2>Records ({})</h2><ul>", last.records.len());
    let mut shown = 0;
    for record in last.records.iter().take(MAX_RECORDS) {
        if out.len() > MAX_PAGE_BYTES {
            break;
        }
        shown += 1;
        let _ = write!(
            out,
            "<li class=\"card\"><span class=\"name\">{}</span> {} <span class=\"badge {}\">{}</span>",
            text(&match &record.unicode {
                Some(unicode) => format!("{} ({unicode})", record.name),
                None => record.name.clone(),
            }),
            record.family.record_type(),
            state_class(record.state.name()),
            record.state.name().replace('_', " ")
        );
        if let Some(address) = &record.address {
            let _ = write!(out, " <code>{}</code>", text(address));
        }
        if let Some(zone) = &record.zone {
            let _ = write!(out, "<br><span class=\"small\">zone {}</span>", text(zone));
        }
        if let Some(change) = last.last_changes.get(&RecordKey {
            name: record.name.clone(),
            family: record.family,
        }) {
            let old = if change.old.is_empty() {
                "(none)".to_string()
            } else {
                text(&change.old)
            };
            let _ = write!(
                out,
                "<br><span class=\"small\">last change: {old} → {} at {}</span>",
                text(&change.new),
                time(change.at)
            );
        }
        // A failing record's sentence is under "What is failing" already; a record not
        // checked (its family's address is unknown) says why here.
        let listed = last.failing.contains(&Subject::Record {
            name: record.name.clone(),
            family: record.family,
        });
        match &record.error {
            Some(error) if !listed => {
                let _ = write!(out, "<br><span class=\"error\">{}</span>", text(error));
            }
            Some(_) => out.push_str("<br><span class=\"small\">see What is failing</span>"),
            None => {}
        }
        out.push_str("</li>");
    }
    if last.records.len() > shown {
        let _ = write!(
            out,
            "<li class=\"small\">and {} more (see <a href=\"/status.json\">status.json</a>)</li>",
            last.records.len() - shown
        );
    }
    out.push_str("</ul>\n");
}

/// The WAF lists with this host's items.
fn lists(out: &mut String, last: &LastCycle) {
    if last.waf_lists.is_empty() {
        return;
    }
    out.push_str("<h2>WAF lists</h2><ul>");
    for list in last.waf_lists.iter().take(MAX_LISTS) {
        let mut items: Vec<String> = list
            .items
            .iter()
            .take(MAX_LIST_ITEMS)
            .map(|item| format!("<code>{}</code>", text(item)))
            .collect();
        if list.items.len() > MAX_LIST_ITEMS {
            items.push(format!("and {} more", list.items.len() - MAX_LIST_ITEMS));
        }
        let _ = write!(
            out,
            "<li class=\"card\"><span class=\"name\">{}</span> <span class=\"badge {}\">{}</span><br>\
<span class=\"small\">account {}</span><br>{}",
            text(&list.name),
            state_class(list.state.name()),
            list.state.name().replace('_', " "),
            text(&list.account),
            if items.is_empty() {
                "no items".to_string()
            } else {
                items.join(", ")
            }
        );
        if let Some(error) = &list.error {
            let _ = write!(out, "<br><span class=\"error\">{}</span>", text(error));
        }
        out.push_str("</li>");
    }
    if last.waf_lists.len() > MAX_LISTS {
        let _ = write!(
            out,
            "<li class=\"small\">and {} more lists</li>",
            last.waf_lists.len() - MAX_LISTS
        );
    }
    out.push_str("</ul>\n");
}

/// The address changes on a time axis, one row per family, drawn as inline SVG (each mark
/// has a `<title>`: the browser shows it on hover or tap), and the last few as text.
fn timeline(out: &mut String, history: &[AddressChange], now: u64) {
    out.push_str("<h2>Address changes</h2>");
    if history.is_empty() {
        out.push_str("<p class=\"small\">none recorded yet</p>\n");
        return;
    }
    // About a phone's width in CSS pixels, so the labels stay readable when it is scaled.
    const WIDTH: u64 = 360;
    const LEFT: u64 = 40;
    const RIGHT: u64 = 10;
    let start = history.iter().map(|change| change.at).min().unwrap_or(now);
    let end = history
        .iter()
        .map(|change| change.at)
        .max()
        .unwrap_or(now)
        .max(now)
        .max(start.saturating_add(1));
    // Never 0: when every change is at u64::MAX, `start + 1` saturates to `start` itself.
    let span = (end - start).max(1);
    let x = |at: u64| {
        // u128: a hostile `at` near u64::MAX times the width must not overflow.
        let offset = u128::from(at.saturating_sub(start)) * u128::from(WIDTH - LEFT - RIGHT)
            / u128::from(span);
        LEFT + u64::try_from(offset).unwrap_or(0)
    };
    let _ = write!(
        out,
        "<svg viewBox=\"0 0 {WIDTH} 84\" role=\"img\" aria-label=\"address changes over time\">"
    );
    for (row, family, class) in [(0u64, Family::V4, "v4"), (1, Family::V6, "v6")] {
        let y = 22 + row * 28;
        let _ = write!(
            out,
            "<text class=\"label\" x=\"4\" y=\"{}\">{family}</text><line class=\"axis\" x1=\"{LEFT}\" y1=\"{y}\" x2=\"{}\" y2=\"{y}\"/>",
            y + 4,
            WIDTH - RIGHT
        );
        for change in history.iter().filter(|change| change.family == family) {
            let _ = write!(
                out,
                "<circle class=\"{class}\" cx=\"{}\" cy=\"{y}\" r=\"5\"><title>{} → {} at {}</title></circle>",
                x(change.at),
                text(&change.old),
                text(&change.new),
                time(change.at)
            );
        }
    }
    let _ = write!(
        out,
        "<text class=\"label\" x=\"{LEFT}\" y=\"80\">{}</text><text class=\"label\" x=\"{}\" y=\"80\" text-anchor=\"end\">{}</text></svg>\n<ul>",
        minute(start),
        WIDTH - RIGHT,
        minute(end)
    );
    for change in history.iter().rev().take(CHANGES_LISTED) {
        let _ = write!(
            out,
            "<li class=\"small\">{} {} → {} at {}</li>",
            change.family.name(),
            text(&change.old),
            text(&change.new),
            time(change.at)
        );
    }
    if history.len() > CHANGES_LISTED {
        let _ = write!(
            out,
            "<li class=\"small\">{} more in <a href=\"/status.json\">status.json</a></li>",
            history.len() - CHANGES_LISTED
        );
    }
    out.push_str("</ul>\n");
}

/// A CSS class for a state written by flaredns; anything else is plain (outside text never
/// becomes an attribute).
fn state_class(state: &str) -> &'static str {
    match state {
        "in_sync" | "changed" => "ok",
        "planned" => "mid",
        "failed" | "refused" => "bad",
        _ => "",
    }
}

/// A short outside text, escaped: on one line, control characters shown, at most 300
/// characters (`logging::one_line`), then HTML-escaped.
fn text(value: &str) -> String {
    escape(&crate::logging::one_line(value))
}

/// HTML-escapes text for element content and quoted attributes.
pub fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for character in value.chars() {
        match character {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            other => out.push(other),
        }
    }
    out
}

/// A unix time as UTC text (or the number, for a time no calendar shows).
fn time(unix: u64) -> String {
    crate::status::utc(unix).unwrap_or_else(|| unix.to_string())
}

/// `time` to the minute, for the axis ("2026-11-29 22:05").
fn minute(unix: u64) -> String {
    let full = time(unix);
    full.get(..16).unwrap_or(&full).to_string()
}

#[cfg(test)]
#[path = "page_tests.rs"]
mod tests;
