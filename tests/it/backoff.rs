//! Backoff across cycles, in virtual time: the daemon through a minute of outage at a
//! one-second interval, and a whole day of failure. The day is the suite's longest test
//! (86,400 simulated seconds of CPU), and libtest starts tests in name order: in a module that
//! sorts early it overlaps the rest of the suite instead of being the last to start and end.

use std::time::Duration;

use crate::harness::{record, Fault, Record, OLD_IPV4, PUBLIC_IPV4};
use crate::paused::{eventually, Here};

#[tokio::test(start_paused = true)]
async fn the_daemon_under_an_outage_at_interval_1s_stays_gentle_and_recovers() {
    let here = Here::new().await;
    let standin = here.standin();
    standin.add_record(
        "example.com",
        Record::new("home.example.com", "A", OLD_IPV4),
    );
    standin.inject(Fault::status(
        503,
        r#"{"success":false,"errors":[{"code":10000,"message":"unavailable"}]}"#,
    ));
    let config = here.world.config(&format!(
        "[daemon]\ninterval = \"1s\"\n\n{}\n[notify]\nwebhooks = [\"{}\"]\n",
        record("home.example.com"),
        standin.url("/hook")
    ));
    let (code, (during_outage, recovered_after)) = here
        .daemon(&config, |_| async {
            // A minute of outage at a one-second interval: the backoff, not the interval,
            // paces the requests. (How few requests a whole day of failure costs is proven
            // by the 24-hour test below; this one shows the daemon telling it once and its
            // end once.)
            tokio::time::sleep(Duration::from_secs(60)).await;
            let during_outage = standin.api_requests().len();
            standin.clear_faults();
            let back = tokio::time::Instant::now();
            let recovered = eventually(600, || {
                standin.records_at("example.com", "home.example.com")[0].content == PUBLIC_IPV4
            })
            .await;
            (during_outage, recovered.then(|| back.elapsed()))
        })
        .await;
    // The outage is told once, and its end once.
    let kinds: Vec<String> = crate::notify::events(&here.world)
        .iter()
        .map(|event| event["event"].as_str().unwrap_or("").to_string())
        .collect();
    let count = |kind: &str| kinds.iter().filter(|seen| *seen == kind).count();
    assert_eq!((count("failed"), count("recovered")), (1, 1), "{kinds:?}");
    // Backoff from 1 s doubling to a few minutes: about 6 tries in a minute, not 60.
    assert!(
        (3..=10).contains(&during_outage),
        "{during_outage} requests during a 60 s outage"
    );
    // Recovery comes at the next try, at most the backoff's longest wait after a minute.
    let recovered_after = recovered_after.expect("the daemon recovered once the API was back");
    assert!(
        recovered_after <= Duration::from_secs(180),
        "recovered {recovered_after:?} after the API came back"
    );
    assert_eq!(code, 0);
}

#[tokio::test(start_paused = true)]
async fn twenty_four_hours_of_total_api_failure_cost_a_bounded_number_of_requests() {
    // Virtual time: the loop, its backoff and its budget run for a simulated day in well
    // under a second. The API is a closed port on loopback, so every request fails.
    let text = "[cloudflare]\napi_url = \"http://127.0.0.1:1/client/v4\"\napi_token = \"x\"\n\
                [detect]\nipv4 = [\"static:81.23.45.99\"]\n[check]\nnameservers = \"api\"\n\
                [daemon]\ninterval = \"1s\"\n\
                [[records]]\nname = \"home.example.com\"\n";
    let state = tempfile::tempdir().expect("state dir");
    let state_dir = state.path().display().to_string();
    let config = flaredns::config::parse(std::path::Path::new("virtual.toml"), text, &|key| {
        (key == "STATE_DIRECTORY").then(|| state_dir.clone())
    })
    .expect("valid config");
    let mut engine = flaredns::cycle::Engine::new(config).expect("engine");
    fastrand::seed(7);
    let day = flaredns::daemon::StopAfter::new(tokio::time::sleep(std::time::Duration::from_secs(
        24 * 3600,
    )));
    let mut publisher = flaredns::publish::Publisher::new(&engine.config);
    let code = flaredns::daemon::run(&mut engine, &mut publisher, false, day).await;
    assert_eq!(code, 0);
    let requests = engine.client().requests_sent();
    // The script in the story, at ten a second, would have sent 864,000.
    assert!(requests <= 1000, "{requests} requests in 24 h of failure");
    assert!(requests >= 100, "{requests}: the daemon kept trying");
    eprintln!("24 h of total failure: {requests} requests");
}
