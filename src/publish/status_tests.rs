//! `advance`'s address history: what counts as a change, the cap, and old files.

use super::*;

fn detected(v4: &str) -> CycleFacts {
    let mut facts = CycleFacts::default();
    facts
        .addresses
        .insert(Family::V4, v4.parse().expect("address"));
    facts
}

#[test]
fn a_changed_address_is_kept_in_the_history_with_its_old_value() {
    let first = LastCycle::default().advance(&detected("81.23.45.10"), 100, 1);
    assert!(first.history.is_empty(), "a first detection is no change");
    let same = first.advance(&detected("81.23.45.10"), 200, 1);
    assert!(same.history.is_empty());
    let changed = same.advance(&detected("81.23.45.77"), 300, 1);
    assert_eq!(
        changed.history,
        vec![AddressChange {
            family: Family::V4,
            old: "81.23.45.10".to_string(),
            new: "81.23.45.77".to_string(),
            at: 300,
        }]
    );
    // A failed detection (no address) is no change either.
    let failed = changed.advance(&CycleFacts::default(), 400, 1);
    assert_eq!(failed.history.len(), 1);
}

#[test]
fn the_history_keeps_the_last_hundred_changes_per_family() {
    let mut last = LastCycle::default();
    last.history.push(AddressChange {
        family: Family::V6,
        old: "2001:db8::1".to_string(),
        new: "2001:db8::2".to_string(),
        at: 1,
    });
    for step in 0..250u64 {
        let address = format!("81.23.45.{}", step % 2 + 10);
        last = last.advance(&detected(&address), 10 + step, 1);
    }
    let v4: Vec<&AddressChange> = last
        .history
        .iter()
        .filter(|c| c.family == Family::V4)
        .collect();
    assert_eq!(v4.len(), HISTORY_PER_FAMILY);
    assert_eq!(v4.last().map(|c| c.at), Some(259), "the newest is kept");
    assert_eq!(
        v4.first().map(|c| c.at),
        Some(160),
        "the oldest are dropped"
    );
    assert!(
        last.history.iter().any(|c| c.family == Family::V6),
        "the other family stays"
    );
    assert_eq!(last.counters.address_changes.get(&Family::V4), Some(&249));
}

#[test]
fn a_file_with_too_long_a_history_is_trimmed_on_read() {
    let change = |family: Family, at: u64| AddressChange {
        family,
        old: "a".to_string(),
        new: "b".to_string(),
        at,
    };
    let history: Vec<AddressChange> = (0..300).map(|at| change(Family::V6, at)).collect();
    let last = LastCycle {
        version: VERSION,
        history,
        ..LastCycle::default()
    };
    let read = last.checked().expect("this version");
    assert_eq!(read.history.len(), HISTORY_PER_FAMILY);
    assert_eq!(read.history[0].at, 200);
}

#[test]
fn a_status_written_before_the_history_reads_as_an_empty_history() {
    let mut value = serde_json::to_value(LastCycle {
        version: VERSION,
        ..LastCycle::default()
    })
    .expect("json");
    if let Some(object) = value.as_object_mut() {
        object.remove("history");
    }
    let read: LastCycle = serde_json::from_value(value).expect("an older file still reads");
    assert!(read.history.is_empty());
}

/// A status.json as the string-typed version 1 wrote it (0.2.0): it reads into the typed
/// status, and writes back the same document.
const WRITTEN_BY_0_2: &str = r#"{
  "version": 1,
  "finished_at": 1764400000,
  "duration_ms": 12,
  "success": false,
  "dry_run": false,
  "addresses": {"ipv4": "81.23.45.77", "ipv6": "2001:db8::7"},
  "records": [
    {"name": "home.example.com", "type": "A", "zone": "example.com", "state": "changed", "address": "81.23.45.77"},
    {"name": "nas.example.com", "type": "AAAA", "state": "refused", "error": "in the way"}
  ],
  "waf_lists": [{"name": "home_ips", "account": "acc", "state": "in_sync", "items": ["81.23.45.77"]}],
  "problems": ["no IPv6 address"],
  "last_error": "no IPv6 address",
  "failing": [
    {"kind": "detection", "family": "ipv6"},
    {"kind": "record", "name": "nas.example.com", "type": "AAAA"},
    {"kind": "cycle"},
    {"kind": "list", "name": "home_ips"}
  ],
  "last_success_at": 1764399000,
  "last_changes": {"home.example.com A": {"old": "81.23.45.10", "new": "81.23.45.77", "at": 1764400000}},
  "counters": {
    "cycles": {"failure": 2, "success": 7},
    "address_changes": {"ipv4": 1},
    "api_requests": {"GET 200": 5, "POST 200": 1, "PATCH 0": 1}
  },
  "history": [{"family": "ipv4", "old": "81.23.45.10", "new": "81.23.45.77", "at": 1764400000}]
}"#;

#[test]
fn a_status_written_by_the_string_typed_version_reads_and_writes_back_the_same() {
    let read: LastCycle = serde_json::from_str(WRITTEN_BY_0_2).expect("0.2's file reads");
    assert_eq!(read.records[1].family, Family::V6);
    assert_eq!(read.records[1].state, RecordStatus::Refused);
    assert!(read
        .failing
        .contains(&Subject::Detection { family: Family::V6 }));
    assert_eq!(
        read.counters.api_requests.get(&RequestKind {
            method: "PATCH",
            status: 0
        }),
        Some(&1)
    );
    let written = serde_json::to_value(&read).expect("json");
    let original: serde_json::Value = serde_json::from_str(WRITTEN_BY_0_2).expect("json");
    assert_eq!(written, original);
}

#[test]
fn an_unknown_request_key_is_dropped_not_the_whole_file() {
    let text = WRITTEN_BY_0_2.replace("\"PATCH 0\": 1", "\"BREW 418\": 1");
    let read: LastCycle = serde_json::from_str(&text).expect("still reads");
    assert_eq!(read.counters.api_requests.len(), 2);
}

/// An entry the typed fields do not know costs that entry, not the file: the string-typed
/// version read all of these (and dropped the history entry), so a hand-edited file kept its
/// counters, history and what was failing, and the recoveries were announced. (review3)
#[test]
fn an_entry_this_version_cannot_type_is_dropped_not_the_whole_file() {
    let edits = [
        (
            "\"history\": [",
            "\"history\": [{\"family\": \"ipv5\", \"old\": \"a\", \"new\": \"b\", \"at\": 1}, ",
        ),
        ("\"failure\": 2,", "\"failure\": 2, \"partial\": 1,"),
        ("\"address_changes\": {", "\"address_changes\": {\"ipv5\": 3, "),
        ("\"ipv6\": \"2001:db8::7\"", "\"ipv6\": \"2001:db8::7\", \"ipv5\": \"x\""),
        (
            "\"last_changes\": {",
            "\"last_changes\": {\"typeless.example.com\": {\"old\": \"\", \"new\": \"x\", \"at\": 1}, ",
        ),
        (
            "\"failing\": [",
            "\"failing\": [{\"kind\": \"detection\", \"family\": \"ipv5\"}, {\"kind\": \"zone\", \"name\": \"example.com\"}, {\"kind\": \"record\", \"name\": \"mx.example.com\", \"type\": \"MX\"}, ",
        ),
        (
            "\"records\": [",
            "\"records\": [{\"name\": \"mx.example.com\", \"type\": \"MX\", \"state\": \"in_sync\"}, {\"name\": \"x.example.com\", \"type\": \"A\", \"state\": \"skipped\"}, ",
        ),
        (
            "\"waf_lists\": [",
            "\"waf_lists\": [{\"name\": \"l\", \"account\": \"a\", \"state\": \"paused\", \"items\": []}, ",
        ),
    ];
    let expected: LastCycle = serde_json::from_str(WRITTEN_BY_0_2).expect("0.2's file reads");
    for (from, to) in edits {
        assert!(WRITTEN_BY_0_2.contains(from), "{from}");
        let text = WRITTEN_BY_0_2.replacen(from, to, 1);
        let read: LastCycle = serde_json::from_str(&text)
            .unwrap_or_else(|error| panic!("{to}: the whole file is lost: {error}"));
        assert_eq!(read, expected, "{to}");
    }
}

/// The file's text, not only its values, is what the string-typed version wrote: its maps were
/// keyed by strings, so their keys came in the strings' order. (review3)
#[test]
fn the_maps_keep_the_string_typed_key_order() {
    let read: LastCycle = serde_json::from_str(WRITTEN_BY_0_2).expect("0.2's file reads");
    let text = serde_json::to_string(&read).expect("json");
    assert!(
        text.contains(r#""cycles":{"failure":2,"success":7}"#),
        "{text}"
    );
    assert!(
        text.contains(r#""api_requests":{"GET 200":5,"PATCH 0":1,"POST 200":1}"#),
        "{text}"
    );
    assert!(
        text.contains(r#""addresses":{"ipv4":"81.23.45.77","ipv6":"2001:db8::7"}"#),
        "{text}"
    );
}

#[test]
fn two_spellings_of_one_request_kind_add_up() {
    let text = WRITTEN_BY_0_2.replace("\"PATCH 0\": 1", "\"GET 0200\": 2");
    let read: LastCycle = serde_json::from_str(&text).expect("reads");
    assert_eq!(
        read.counters.api_requests.get(&RequestKind {
            method: "GET",
            status: 200
        }),
        Some(&7)
    );
}

#[test]
fn a_request_count_that_is_not_a_number_is_dropped_on_its_own() {
    let text = WRITTEN_BY_0_2.replace("\"PATCH 0\": 1", "\"PATCH 0\": \"many\"");
    let read: LastCycle = serde_json::from_str(&text).expect("still reads");
    assert_eq!(read.counters.api_requests.len(), 2);
    assert_eq!(read.counters.cycles.len(), 2, "the rest is kept");
}
