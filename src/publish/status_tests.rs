//! `advance`'s address history: what counts as a change, the cap, and old files.

use super::*;

fn detected(v4: &str) -> CycleReport {
    let mut report = CycleReport::default();
    report
        .addresses
        .insert(Family::V4, v4.parse().expect("address"));
    report
}

#[test]
fn a_changed_address_is_kept_in_the_history_with_its_old_value() {
    let empty = BTreeMap::new();
    let first = LastCycle::default().advance(&detected("81.23.45.10"), 100, 1, &empty);
    assert!(first.history.is_empty(), "a first detection is no change");
    let same = first.advance(&detected("81.23.45.10"), 200, 1, &empty);
    assert!(same.history.is_empty());
    let changed = same.advance(&detected("81.23.45.77"), 300, 1, &empty);
    assert_eq!(
        changed.history,
        vec![AddressChange {
            family: "ipv4".to_string(),
            old: "81.23.45.10".to_string(),
            new: "81.23.45.77".to_string(),
            at: 300,
        }]
    );
    // A failed detection (no address) is no change either.
    let failed = changed.advance(&CycleReport::default(), 400, 1, &empty);
    assert_eq!(failed.history.len(), 1);
}

#[test]
fn the_history_keeps_the_last_hundred_changes_per_family() {
    let empty = BTreeMap::new();
    let mut last = LastCycle::default();
    last.history.push(AddressChange {
        family: "ipv6".to_string(),
        old: "2001:db8::1".to_string(),
        new: "2001:db8::2".to_string(),
        at: 1,
    });
    for step in 0..250u64 {
        let address = format!("81.23.45.{}", step % 2 + 10);
        last = last.advance(&detected(&address), 10 + step, 1, &empty);
    }
    let v4: Vec<&AddressChange> = last.history.iter().filter(|c| c.family == "ipv4").collect();
    assert_eq!(v4.len(), HISTORY_PER_FAMILY);
    assert_eq!(v4.last().map(|c| c.at), Some(259), "the newest is kept");
    assert_eq!(
        v4.first().map(|c| c.at),
        Some(160),
        "the oldest are dropped"
    );
    assert!(
        last.history.iter().any(|c| c.family == "ipv6"),
        "the other family stays"
    );
    assert_eq!(last.counters.address_changes.get("ipv4"), Some(&249));
}

#[test]
fn a_file_with_too_long_a_history_is_trimmed_on_read() {
    let change = |family: &str, at: u64| AddressChange {
        family: family.to_string(),
        old: "a".to_string(),
        new: "b".to_string(),
        at,
    };
    let mut history: Vec<AddressChange> = (0..300).map(|at| change("ipv6", at)).collect();
    history.push(change("<script>", 1));
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
