//! The page's content, its escaping, and what its Content-Security-Policy allows.

use std::collections::BTreeSet;

use base64::Engine as _;

use super::*;
use crate::publish::facts::{ListStatus, RecordStatus};
use crate::publish::status::{Change, ListLine, RecordLine, VERSION};

const NOW: u64 = 1_764_400_000;

fn record(
    name: &str,
    state: RecordStatus,
    address: Option<&str>,
    error: Option<&str>,
) -> RecordLine {
    RecordLine {
        name: name.to_string(),
        family: Family::V4,
        zone: Some("example.com".to_string()),
        state,
        address: address.map(str::to_string),
        error: error.map(str::to_string),
        unicode: None,
    }
}

fn change(family: Family, old: &str, new: &str, at: u64) -> AddressChange {
    AddressChange {
        family,
        old: old.to_string(),
        new: new.to_string(),
        at,
    }
}

fn status() -> LastCycle {
    let mut last = LastCycle {
        version: VERSION,
        finished_at: NOW - 5,
        duration_ms: 412,
        success: false,
        next_check_at: Some(NOW + 295),
        last_success_at: Some(NOW - 600),
        ..LastCycle::default()
    };
    last.addresses
        .insert(Family::V4, "81.23.45.77".parse().expect("address"));
    last.records = vec![
        record("home.example.com", RecordStatus::Changed, Some("81.23.45.77"), None),
        record(
            "nas.example.com",
            RecordStatus::Failed,
            None,
            Some("failed to update A nas.example.com in zone example.com: 403; give the token Zone:DNS:Edit"),
        ),
    ];
    last.last_changes.insert(
        RecordKey {
            name: "home.example.com".to_string(),
            family: Family::V4,
        },
        Change {
            old: "81.23.45.10".to_string(),
            new: "81.23.45.77".to_string(),
            at: NOW - 5,
        },
    );
    last.failing = BTreeSet::from([Subject::Record {
        name: "nas.example.com".to_string(),
        family: Family::V4,
    }]);
    last.waf_lists = vec![ListLine {
        name: "home_ips".to_string(),
        account: "0123456789abcdef0123456789abcdef".to_string(),
        state: ListStatus::InSync,
        items: vec!["81.23.45.77".to_string()],
        error: None,
    }];
    last.history = vec![
        change(Family::V4, "81.23.45.10", "81.23.45.77", NOW - 5),
        change(Family::V6, "2001:db8::1", "2001:db8::2", NOW - 86_400),
    ];
    last
}

#[test]
fn the_page_shows_records_with_address_state_and_last_change() {
    let page = render(&status(), NOW, "gateway");
    assert!(page.starts_with("<!DOCTYPE html>"), "{page}");
    assert!(page.contains("<title>flaredns on gateway: failing</title>"));
    assert!(page.contains("home.example.com"));
    assert!(
        page.contains("changed</span> <code>81.23.45.77</code>"),
        "{page}"
    );
    assert!(page.contains("last change: 81.23.45.10 → 81.23.45.77"));
    assert!(page.contains("failed</span>"));
    assert!(page.contains("next check</dt><dd>2025-11-29"), "{page}");
    assert!(page.contains("home_ips"));
    assert!(page.contains("width=device-width"));
    assert!(page.contains("http-equiv=\"refresh\" content=\"30\""));
    assert!(page.trim_end().ends_with("</html>"));
}

#[test]
fn what_is_failing_is_shown_with_its_sentence() {
    let page = render(&status(), NOW, "gateway");
    let failing = page
        .split("<h2>What is failing</h2>")
        .nth(1)
        .expect("a failing section");
    let failing = failing.split("<h2>").next().unwrap_or_default();
    assert!(failing.contains("nas.example.com A"), "{failing}");
    assert!(
        failing.contains("give the token Zone:DNS:Edit"),
        "{failing}"
    );
    let healthy = LastCycle {
        success: true,
        finished_at: NOW,
        ..LastCycle::default()
    };
    assert!(!render(&healthy, NOW, "h").contains("What is failing"));
}

#[test]
fn outside_text_is_escaped_everywhere() {
    let hostile = "<script>alert(1)</script>\"'&<img src=x onerror=alert(2)>";
    let mut last = status();
    // (Families, addresses and states are typed: a file cannot put text in them.)
    last.records.push(record(
        hostile,
        RecordStatus::Failed,
        Some(hostile),
        Some(hostile),
    ));
    last.problems.push(hostile.to_string());
    last.waf_lists[0].items.push(hostile.to_string());
    last.waf_lists[0].error = Some(hostile.to_string());
    last.history.push(change(Family::V4, hostile, hostile, NOW));
    last.last_changes.insert(
        RecordKey {
            name: hostile.to_string(),
            family: Family::V4,
        },
        Change {
            old: hostile.to_string(),
            new: hostile.to_string(),
            at: NOW,
        },
    );
    let page = render(&last, NOW, hostile);
    assert!(!page.contains("<script"), "{page}");
    assert!(!page.contains("<img"), "{page}");
    assert!(!page.contains("'&"), "{page}");
    assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;&quot;&#39;&amp;&lt;img"));
    assert_eq!(escape("a<b>&\"'"), "a&lt;b&gt;&amp;&quot;&#39;");
}

#[test]
fn control_characters_cannot_forge_lines_or_reorder_text() {
    let mut last = status();
    last.records[0].name = "evil\u{202e}moc.elpmaxe\n<b>".to_string();
    let page = render(&last, NOW, "h");
    assert!(!page.contains('\u{202e}'));
    assert!(
        page.contains("evil\\u{202e}moc.elpmaxe\\n&lt;b&gt;"),
        "{page}"
    );
}

#[test]
fn the_page_needs_nothing_its_policy_forbids() {
    let page = render(&status(), NOW, "gateway");
    let lower = page.to_ascii_lowercase();
    assert!(!lower.contains("<script"));
    assert!(
        !lower.contains(" style="),
        "a style attribute needs 'unsafe-inline'"
    );
    let handler = lower.split(" on").skip(1).any(|rest| {
        let name: String = rest.chars().take_while(char::is_ascii_alphabetic).collect();
        !name.is_empty() && rest[name.len()..].starts_with('=')
    });
    assert!(!handler, "no event handler attribute");
    assert!(!lower.contains("javascript:"));
    assert!(
        !lower.contains("http://") && !lower.contains("https://"),
        "nothing from elsewhere"
    );
    assert!(!lower.contains("<link") && !lower.contains("<img") && !lower.contains("<iframe"));
    assert_eq!(lower.matches("<style>").count(), 1);
    assert!(page.contains(&format!("<style>{STYLE}</style>")));
    assert!(CONTENT_SECURITY_POLICY.starts_with("default-src 'none';"));
    assert!(!CONTENT_SECURITY_POLICY.contains("unsafe"));
}

#[test]
fn the_policy_allows_the_stylesheet_by_its_hash() {
    let digest = ring::digest::digest(&ring::digest::SHA256, STYLE.as_bytes());
    let hash = base64::engine::general_purpose::STANDARD.encode(digest.as_ref());
    assert!(
        CONTENT_SECURITY_POLICY.contains(&format!("style-src 'sha256-{hash}'")),
        "STYLE changed: put 'sha256-{hash}' in CONTENT_SECURITY_POLICY"
    );
}

#[test]
fn at_most_five_hundred_records_are_shown_and_the_rest_counted() {
    let mut last = status();
    last.records = (0..MAX_RECORDS + 123)
        .map(|index| {
            record(
                &format!("r{index}.example.com"),
                RecordStatus::InSync,
                Some("81.23.45.77"),
                None,
            )
        })
        .collect();
    let page = render(&last, NOW, "h");
    assert!(page.contains(&format!("Records ({})", MAX_RECORDS + 123)));
    assert!(page.contains("r499.example.com"));
    assert!(!page.contains("r500.example.com"));
    assert!(page.contains("and 123 more"));
    assert!(page.len() < 400 * 1024, "{} bytes", page.len());
}

#[test]
fn the_timeline_draws_one_mark_per_change_in_its_family_row() {
    let page = render(&status(), NOW, "h");
    assert_eq!(page.matches("<circle class=\"v4\"").count(), 1);
    assert_eq!(page.matches("<circle class=\"v6\"").count(), 1);
    assert!(
        page.contains("<title>81.23.45.10 → 81.23.45.77 at 2025-11-29"),
        "{page}"
    );
    let empty = LastCycle::default();
    assert!(render(&empty, NOW, "h").contains("none recorded yet"));
}

/// A history whose every change is at u64::MAX made the axis 0 s long: the daemon divided by
/// zero rendering its page at start, and, the file being kept, at every restart. (review3)
#[test]
fn a_history_only_at_the_end_of_time_renders() {
    let mut last = status();
    last.history = vec![change(Family::V4, "a", "b", u64::MAX)];
    assert!(render(&last, NOW, "h").contains("</html>"));
}

#[test]
fn absurd_times_in_the_history_stay_on_the_axis() {
    let mut last = status();
    last.history = vec![
        change(Family::V4, "a", "b", 0),
        change(Family::V4, "b", "c", u64::MAX),
        change(Family::V6, "a", "b", u64::MAX),
    ];
    let page = render(&last, NOW, "h");
    for mark in page.split("cx=\"").skip(1) {
        let x: u64 = mark
            .split('"')
            .next()
            .and_then(|x| x.parse().ok())
            .expect("a number");
        assert!((40..=350).contains(&x), "{x}");
    }
    assert!(render(&LastCycle::default(), u64::MAX, "h").contains("</html>"));
}

#[test]
fn long_hostile_names_cannot_make_the_page_grow_past_its_cap() {
    let mut last = status();
    let name = "&".repeat(290);
    last.records = (0..MAX_RECORDS)
        .map(|index| {
            record(
                &format!("{name}{index}"),
                RecordStatus::Failed,
                Some(&name),
                Some(&name),
            )
        })
        .collect();
    let page = render(&last, NOW, "h");
    assert!(page.len() < 1024 * 1024 + 64 * 1024, "{} bytes", page.len());
    assert!(page.contains(" more (see "), "the rest are counted");
    assert!(page.trim_end().ends_with("</html>"));
}

#[test]
fn each_list_state_is_a_badge_of_its_own() {
    for (state, badge) in [
        (ListStatus::InSync, "in sync"),
        (ListStatus::Changed, "changed"),
        (ListStatus::Planned, "planned"),
        (ListStatus::Failed, "failed"),
    ] {
        let mut last = status();
        last.waf_lists[0].state = state;
        let page = render(&last, NOW, "gateway");
        let card = page
            .split("<li class=\"card\"><span class=\"name\">home_ips</span>")
            .nth(1)
            .unwrap_or_default();
        assert!(
            card.starts_with(&format!(
                " <span class=\"badge {}\">{badge}</span>",
                super::state_class(state.name())
            )),
            "{badge}: {card}"
        );
    }
}
