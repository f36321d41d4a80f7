//! Backoff across cycles: the real daemon through a six-second outage at a one-second
//! interval, and a whole day of failure in virtual time. These are the suite's two longest
//! tests (real seconds of outage and recovery; 86,400 simulated cycles of CPU), and libtest
//! starts tests in name order: in a module that sorts early they overlap the rest of the
//! suite instead of being the last to start and end.

use crate::harness::{record, Fault, Record, World, OLD_IPV4};

#[test]
fn the_daemon_under_an_outage_at_interval_1s_stays_gentle_and_recovers() {
    let world = World::new();
    world.standin.add_record(
        "example.com",
        Record::new("home.example.com", "A", OLD_IPV4),
    );
    world.standin.inject(Fault::status(
        503,
        r#"{"success":false,"errors":[{"code":10000,"message":"unavailable"}]}"#,
    ));
    let config = world.config(&format!(
        "[daemon]\ninterval = \"1s\"\n\n{}\n[notify]\nwebhooks = [\"{}\"]\n",
        record("home.example.com"),
        world.standin.url("/hook")
    ));
    let mut daemon = world.spawn(&config, &[]);
    // Six seconds of outage at a one-second interval: the backoff, not the interval, paces
    // the requests. (How few requests a whole day of failure costs is proven in virtual time
    // by the 24-hour test below; this one shows the real binary telling it once and its end
    // once.)
    std::thread::sleep(std::time::Duration::from_secs(6));
    let during_outage = world.standin.api_requests().len();
    world.standin.clear_faults();
    // The wait ends as soon as it recovered; its bound is the backoff's longest jittered
    // wait after a few failures, with room for a loaded machine.
    let recovered = crate::harness::eventually(180.0, || {
        world.standin.records_at("example.com", "home.example.com")[0].content
            == crate::harness::PUBLIC_IPV4
    });
    let code = daemon.terminate();
    // The outage is told once, and its end once.
    let kinds: Vec<String> = crate::notify::events(&world)
        .iter()
        .map(|event| event["event"].as_str().unwrap_or("").to_string())
        .collect();
    let count = |kind: &str| kinds.iter().filter(|seen| *seen == kind).count();
    assert_eq!((count("failed"), count("recovered")), (1, 1), "{kinds:?}");
    assert!(
        during_outage <= 8,
        "{during_outage} requests during a 6 s outage"
    );
    assert!(
        during_outage >= 2,
        "the daemon kept trying: {during_outage}"
    );
    assert!(
        recovered,
        "the daemon did not recover once the API was back"
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
