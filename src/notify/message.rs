//! The one short human line a chat service shows for an event ("home.example.com A
//! 81.23.45.10 → 81.23.45.99 (zone example.com)"), and the batching of lines into messages
//! that fit a service, so 300 changed records are a handful of messages rather than 300
//! posts into one channel's rate limit.

use super::{Event, EventKind};

/// A record name in both forms when it is internationalised (`xn--bcher-kva.example.com
/// (bücher.example.com)`), as check-config, the dry run and status show it.
fn shown(name: &str) -> String {
    crate::model::DomainName::parse(name)
        .map(|name| name.shown())
        .unwrap_or_else(|_| name.to_string())
}

/// The line for one event.
pub fn line(event: &Event) -> String {
    let subject = match (
        &event.name,
        &event.record_type,
        &event.detection,
        &event.list,
    ) {
        (Some(name), Some(record_type), _, _) => format!("{} {record_type}", shown(name)),
        (_, _, Some(family), _) => format!("{} detection", family_label(family)),
        (_, _, _, Some(list)) => format!("WAF list {list}"),
        _ => "the cycle".to_string(),
    };
    let zone = event
        .zone
        .as_deref()
        .map(|zone| format!(" (zone {zone})"))
        .unwrap_or_default();
    match event.event {
        EventKind::Changed => {
            let old = event.old.as_deref().filter(|old| !old.is_empty());
            format!(
                "{subject} {} → {}{zone}",
                old.unwrap_or("(none)"),
                event.new.as_deref().unwrap_or("(none)")
            )
        }
        EventKind::Failed => format!(
            "{subject} failed: {}",
            event
                .reason
                .as_deref()
                .unwrap_or("see `flaredns doctor` for why")
        ),
        EventKind::Recovered => format!("{subject} works again"),
        EventKind::WafListChanged => {
            let list = |text: Option<&str>| {
                text.filter(|items| !items.is_empty())
                    .map(|items| items.replace(',', ", "))
            };
            match (list(event.new.as_deref()), list(event.old.as_deref())) {
                (Some(added), Some(removed)) => {
                    format!("{subject}: added {added}; removed {removed}")
                }
                (Some(added), None) => format!("{subject}: added {added}"),
                (None, Some(removed)) => format!("{subject}: removed {removed}"),
                (None, None) => format!("{subject} changed"),
            }
        }
    }
}

/// `ipv4` → `IPv4`.
fn family_label(family: &str) -> String {
    match family {
        "ipv4" => "IPv4".to_string(),
        "ipv6" => "IPv6".to_string(),
        other => other.to_string(),
    }
}

/// At most this many events in one message.
const LINES_PER_MESSAGE: usize = 10;

/// The lines joined into messages of at most `LINES_PER_MESSAGE` lines and `limit`
/// characters (a longer single line is cut to the limit).
pub fn batches(lines: &[String], limit: usize) -> Vec<String> {
    let mut messages = Vec::new();
    let mut current = String::new();
    let mut count = 0;
    for line in lines {
        let line: String = if line.chars().count() > limit {
            let mut cut: String = line.chars().take(limit.saturating_sub(1)).collect();
            cut.push('…');
            cut
        } else {
            line.clone()
        };
        let fits = current.chars().count() + 1 + line.chars().count() <= limit;
        if count > 0 && (count == LINES_PER_MESSAGE || !fits) {
            messages.push(std::mem::take(&mut current));
            count = 0;
        }
        if count > 0 {
            current.push('\n');
        }
        current.push_str(&line);
        count += 1;
    }
    if count > 0 {
        messages.push(current);
    }
    messages
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(kind: EventKind) -> Event {
        Event {
            event: kind,
            name: Some("home.example.com".to_string()),
            record_type: Some("A".to_string()),
            zone: Some("example.com".to_string()),
            detection: None,
            list: None,
            old: Some("81.23.45.10".to_string()),
            new: Some("81.23.45.99".to_string()),
            reason: Some("two records hold this name; delete one".to_string()),
            time: "2026-01-01T00:00:00Z".to_string(),
            host: "fw".to_string(),
        }
    }

    #[test]
    fn each_event_is_one_short_line() {
        assert_eq!(
            line(&event(EventKind::Changed)),
            "home.example.com A 81.23.45.10 → 81.23.45.99 (zone example.com)"
        );
        let mut failed = event(EventKind::Failed);
        failed.zone = None;
        assert_eq!(
            line(&failed),
            "home.example.com A failed: two records hold this name; delete one"
        );
        assert_eq!(
            line(&event(EventKind::Recovered)),
            "home.example.com A works again"
        );
        let mut list = event(EventKind::WafListChanged);
        list.name = None;
        list.record_type = None;
        list.zone = None;
        list.list = Some("home".to_string());
        list.new = Some("81.23.45.99,2a01::/64".to_string());
        list.old = Some(String::new());
        assert_eq!(line(&list), "WAF list home: added 81.23.45.99, 2a01::/64");
    }

    #[test]
    fn batches_keep_to_the_line_and_character_limits() {
        let lines: Vec<String> = (0..25).map(|n| format!("line {n:02}")).collect();
        let messages = batches(&lines, 3500);
        assert_eq!(messages.len(), 3);
        assert_eq!(messages[0].lines().count(), 10);
        assert_eq!(messages[2].lines().count(), 5);
        let small = batches(&lines, 20);
        assert!(small.iter().all(|message| message.chars().count() <= 20));
        assert_eq!(small.iter().map(|m| m.lines().count()).sum::<usize>(), 25);
        let long = batches(&["x".repeat(50)], 10);
        assert_eq!(long[0].chars().count(), 10);
    }
}
