//! Service URLs against the real hosts' names: the binary runs in a network namespace of its
//! own (`ip netns exec`, which also bind-mounts a private `/etc/hosts` naming discord.com,
//! api.telegram.org, hooks.slack.com, api.pushover.net and the ntfy, gotify and generic test
//! hosts as 127.0.0.1), where a TLS receiver listens on 443 with a certificate from a
//! throwaway CA that only `SSL_CERT_FILE` makes trusted. The stand-in API, its DNS and the
//! receiver are started inside the namespace, so nothing leaves it. Each request is checked
//! against the service's documented API. Needs root (CI runs as root); without it the test
//! says SKIPPED loudly, and fails under CI.

use std::os::fd::AsRawFd;
use std::process::Command;

use crate::harness::{record, LoggedRequest, Record, World, OLD_IPV4, PUBLIC_IPV4};

const HOSTS: [&str; 7] = [
    "discord.com",
    "api.telegram.org",
    "hooks.slack.com",
    "api.pushover.net",
    "ntfy.test",
    "gotify.test",
    "generic.test",
];

/// A network namespace with its own `/etc/hosts`, removed at the end.
struct Namespace {
    name: String,
}

impl Namespace {
    fn create() -> Result<Namespace, String> {
        let name = crate::netns::unique_name("svc");
        let ip = |args: &[&str]| {
            Command::new("ip")
                .args(args)
                .output()
                .map(|output| output.status.success())
                .unwrap_or(false)
        };
        if !ip(&["netns", "add", &name]) {
            return Err("cannot create a network namespace (needs root and iproute2)".to_string());
        }
        let namespace = Namespace { name };
        if !ip(&["-n", &namespace.name, "link", "set", "lo", "up"]) {
            return Err("cannot bring up loopback in the namespace".to_string());
        }
        let etc = namespace.etc();
        std::fs::create_dir_all(&etc).map_err(|error| format!("cannot create {etc}: {error}"))?;
        std::fs::write(
            format!("{etc}/hosts"),
            format!("127.0.0.1 localhost {}\n", HOSTS.join(" ")),
        )
        .map_err(|error| format!("cannot write the namespace's hosts: {error}"))?;
        Ok(namespace)
    }

    fn etc(&self) -> String {
        format!("/etc/netns/{}", self.name)
    }

    /// Runs `work` on a thread inside the namespace; threads it starts stay inside too.
    fn inside<T: Send + 'static>(&self, work: impl FnOnce() -> T + Send + 'static) -> T {
        let path = format!("/var/run/netns/{}", self.name);
        std::thread::spawn(move || {
            let handle = std::fs::File::open(&path).expect("open the namespace");
            // SAFETY: setns moves only this thread into the namespace the handle names.
            let result = unsafe { libc::setns(handle.as_raw_fd(), libc::CLONE_NEWNET) };
            assert_eq!(result, 0, "setns: {}", std::io::Error::last_os_error());
            work()
        })
        .join()
        .expect("the namespace thread")
    }
}

impl Drop for Namespace {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(self.etc());
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

fn at<'a>(requests: &'a [LoggedRequest], host: &str) -> Vec<&'a LoggedRequest> {
    requests
        .iter()
        .filter(|request| request.header("host") == Some(host))
        .collect()
}

fn json(request: &LoggedRequest) -> serde_json::Value {
    serde_json::from_str(&request.body).expect("a JSON body")
}

#[test]
fn service_urls_reach_each_service_as_its_api_documents() {
    let namespace = match Namespace::create() {
        Ok(namespace) => namespace,
        Err(reason) => {
            crate::netns::skip(
                "service_urls_reach_each_service_as_its_api_documents",
                &reason,
            );
            return;
        }
    };
    let (world, ca) = namespace.inside(|| {
        let world = World::new();
        let listener = std::net::TcpListener::bind("127.0.0.1:443").expect("bind 443");
        let ca = world.standin.serve_receivers_tls(listener, &HOSTS);
        (world, ca)
    });
    let ca_file = world.dir.path().join("ca.pem");
    std::fs::write(&ca_file, ca).expect("write the CA");
    world.standin.add_record(
        "example.com",
        Record::new("home.example.com", "A", OLD_IPV4),
    );
    let urls = [
        "discord://dtoken-SECRET1@112233",
        "telegram://123456:tgSECRET2@telegram?chats=-1001,42",
        "ntfy://nuser:npassSECRET3@ntfy.test/alerts-SECRET4?priority=high",
        "slack://hook:TA-TB-TcSECRET5@webhook",
        "gotify://gotify.test/sub/gtokenSECRET6?priority=7",
        "pushover://shoutrrr:potokenSECRET7@pouserSECRET8",
        "generic://generic.test/in/SECRET9",
    ];
    let quoted: Vec<String> = urls.iter().map(|url| format!("\"{url}\"")).collect();
    let config = world.config(&format!(
        "{}\n[notify]\nurls = [{}]\ntimeout = \"5s\"\n",
        record("home.example.com"),
        quoted.join(", ")
    ));
    let mut world = world;
    world
        .env
        .push(("SSL_CERT_FILE".to_string(), ca_file.display().to_string()));
    let wrapper = ["ip", "netns", "exec", namespace.name.as_str()];
    let outcome = world.run_in(&wrapper, &config, &["--once"]);
    assert_eq!(outcome.code, 0, "{}", outcome.output());
    assert!(
        !outcome.stderr.contains("could not notify"),
        "{}",
        outcome.stderr
    );
    let requests = world.standin.requests();
    let line = format!("home.example.com A {OLD_IPV4} → {PUBLIC_IPV4} (zone example.com)");

    let discord = at(&requests, "discord.com");
    assert_eq!(discord.len(), 1, "{requests:?}");
    assert_eq!(discord[0].method, "POST");
    assert_eq!(discord[0].path, "/api/webhooks/112233/dtoken-SECRET1");
    assert_eq!(discord[0].header("content-type"), Some("application/json"));
    assert_eq!(json(discord[0])["content"], line);

    let telegram = at(&requests, "api.telegram.org");
    assert_eq!(telegram.len(), 2, "one per chat: {telegram:?}");
    let mut chats = Vec::new();
    for request in &telegram {
        assert_eq!(request.method, "POST");
        assert_eq!(request.path, "/bot123456:tgSECRET2/sendMessage");
        let body = json(request);
        assert_eq!(body["text"], line);
        chats.push(body["chat_id"].as_str().unwrap_or("").to_string());
    }
    chats.sort();
    assert_eq!(chats, vec!["-1001", "42"]);

    let ntfy = at(&requests, "ntfy.test");
    assert_eq!(ntfy.len(), 1, "{requests:?}");
    assert_eq!(ntfy[0].method, "POST");
    assert_eq!(ntfy[0].path, "/alerts-SECRET4");
    assert_eq!(ntfy[0].body, line);
    // base64("nuser:npassSECRET3")
    assert_eq!(
        ntfy[0].header("authorization"),
        Some("Basic bnVzZXI6bnBhc3NTRUNSRVQz")
    );
    assert_eq!(ntfy[0].header("priority"), Some("high"));
    assert!(
        ntfy[0]
            .header("title")
            .is_some_and(|title| title.starts_with("flaredns on ")),
        "{:?}",
        ntfy[0].headers
    );

    let slack = at(&requests, "hooks.slack.com");
    assert_eq!(slack.len(), 1, "{requests:?}");
    assert_eq!(slack[0].method, "POST");
    assert_eq!(slack[0].path, "/services/TA/TB/TcSECRET5");
    assert_eq!(json(slack[0])["text"], line);

    let gotify = at(&requests, "gotify.test");
    assert_eq!(gotify.len(), 1, "{requests:?}");
    assert_eq!(gotify[0].method, "POST");
    assert_eq!(gotify[0].path, "/sub/message");
    assert_eq!(gotify[0].header("x-gotify-key"), Some("gtokenSECRET6"));
    let body = json(gotify[0]);
    assert_eq!(body["message"], line);
    assert_eq!(body["priority"], 7);
    assert!(body["title"]
        .as_str()
        .is_some_and(|t| t.starts_with("flaredns on ")));

    let pushover = at(&requests, "api.pushover.net");
    assert_eq!(pushover.len(), 1, "{requests:?}");
    assert_eq!(pushover[0].method, "POST");
    assert_eq!(pushover[0].path, "/1/messages.json");
    assert_eq!(
        pushover[0].header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    let form: std::collections::BTreeMap<String, String> =
        url::form_urlencoded::parse(pushover[0].body.as_bytes())
            .into_owned()
            .collect();
    assert_eq!(
        form.get("token").map(String::as_str),
        Some("potokenSECRET7")
    );
    assert_eq!(form.get("user").map(String::as_str), Some("pouserSECRET8"));
    assert_eq!(form.get("message"), Some(&line));

    let generic = at(&requests, "generic.test");
    assert_eq!(generic.len(), 1, "{requests:?}");
    assert_eq!(generic[0].method, "POST");
    assert_eq!(generic[0].path, "/in/SECRET9");
    let event = json(generic[0]);
    assert_eq!(event["event"], "changed");
    assert_eq!(event["new"], PUBLIC_IPV4);

    assert!(!outcome.output().contains("SECRET"), "{}", outcome.output());
    let shown = world.run_in(&wrapper, &config, &["check-config"]);
    assert_eq!(shown.code, 0, "{}", shown.output());
    assert!(
        shown.stdout.contains("\"discord://<redacted>\""),
        "{}",
        shown.stdout
    );
    assert!(
        shown.stdout.contains("\"ntfy://ntfy.test/<redacted>\""),
        "{}",
        shown.stdout
    );
    assert!(!shown.output().contains("SECRET"), "{}", shown.output());
}

#[test]
fn a_bad_service_url_is_a_config_error_that_never_shows_it() {
    let world = World::new();
    for (url, expected) in [
        ("matrix://user:SECRET@host/room", "scheme `matrix`"),
        ("discord://SECRET", "discord://TOKEN@WEBHOOK_ID"),
        ("telegram://1:SECRET@telegram", "chats"),
    ] {
        let config = world.config(&format!(
            "{}\n[notify]\nurls = [\n  \"{url}\",\n]\n",
            record("home.example.com")
        ));
        let outcome = world.run(&config, &["check-config"]);
        assert_eq!(outcome.code, 2, "{url}: {}", outcome.output());
        assert!(outcome.stderr.contains("notify.urls"), "{}", outcome.stderr);
        assert!(outcome.stderr.contains(expected), "{}", outcome.stderr);
        let line = config
            .lines()
            .position(|text| text.contains(url))
            .map_or(0, |index| index + 1);
        assert!(
            outcome.stderr.contains(&format!("config.toml:{line}:")),
            "{}",
            outcome.stderr
        );
        assert!(!outcome.output().contains("SECRET"), "{}", outcome.output());
    }
    let config = world.config(&format!(
        "{}\n[notify]\nevents = [\"changed\", \"exploded\"]\n",
        record("home.example.com")
    ));
    let outcome = world.run(&config, &["check-config"]);
    assert_eq!(outcome.code, 2, "{}", outcome.output());
    assert!(
        outcome.stderr.contains("notify.events"),
        "{}",
        outcome.stderr
    );
}

#[test]
fn events_choose_what_goes_to_service_urls() {
    let world = World::new();
    world.standin.add_record(
        "example.com",
        Record::new("home.example.com", "A", OLD_IPV4),
    );
    let generic = world
        .standin
        .url("/hook/generic")
        .replacen("http://", "generic+http://", 1);
    let config = |events: &str| {
        world.config(&format!(
            "{}\n[notify]\nurls = [\"{generic}\"]\n{events}\n",
            record("home.example.com")
        ))
    };
    let quiet = world.run(&config("events = [\"failed\", \"recovered\"]"), &["--once"]);
    assert_eq!(quiet.code, 0, "{}", quiet.output());
    assert!(world
        .standin
        .requests()
        .iter()
        .all(|r| !r.path.starts_with("/hook/")));
    world.standin.set_public_ipv4("81.23.45.200");
    let told = world.run(&config(""), &["--once"]);
    assert_eq!(told.code, 0, "{}", told.output());
    let sent: Vec<serde_json::Value> = world
        .standin
        .requests()
        .iter()
        .filter(|request| request.path == "/hook/generic")
        .map(json)
        .collect();
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0]["event"], "changed");
    assert_eq!(sent[0]["new"], "81.23.45.200");
}

/// review2: a server's error text reaches Discord and Slack as it is, so `@everyone` (Discord)
/// and `<!channel>` (Slack) in a Cloudflare message ping the whole channel: the Discord body
/// sets no `allowed_mentions`, the Slack text is not escaped (`&`, `<`, `>`).
#[test]
fn review2_server_text_cannot_mention_everyone() {
    let namespace = match Namespace::create() {
        Ok(namespace) => namespace,
        Err(reason) => {
            crate::netns::skip("review2_server_text_cannot_mention_everyone", &reason);
            return;
        }
    };
    let (world, ca) = namespace.inside(|| {
        let world = World::new();
        let listener = std::net::TcpListener::bind("127.0.0.1:443").expect("bind 443");
        let ca = world.standin.serve_receivers_tls(listener, &HOSTS);
        (world, ca)
    });
    let ca_file = world.dir.path().join("ca.pem");
    std::fs::write(&ca_file, ca).expect("write the CA");
    world.standin.inject(
        crate::harness::Fault::status(
            400,
            r#"{"success":false,"errors":[{"code":1004,"message":"@everyone <!channel> DNS Validation Error"}],"messages":[],"result":null}"#,
        )
        .path("dns_records"),
    );
    let config = world.config(&format!(
        "{}\n[notify]\nurls = [\"discord://dtoken@112233\", \"slack://TA/TB/TC\"]\ntimeout = \"5s\"\n",
        record("home.example.com"),
    ));
    let mut world = world;
    world
        .env
        .push(("SSL_CERT_FILE".to_string(), ca_file.display().to_string()));
    let wrapper = ["ip", "netns", "exec", namespace.name.as_str()];
    let outcome = world.run_in(&wrapper, &config, &["--once"]);
    let requests = world.standin.requests();
    let discord = at(&requests, "discord.com");
    let slack = at(&requests, "hooks.slack.com");
    assert!(
        !discord.is_empty() && !slack.is_empty(),
        "{}\n{requests:?}",
        outcome.output()
    );
    for request in &discord {
        let body = json(request);
        assert!(
            body.get("allowed_mentions").is_some()
                || !body["content"].as_str().unwrap_or("").contains("@everyone"),
            "Discord would ping everyone: {body}"
        );
    }
    for request in &slack {
        let body = json(request);
        assert!(
            !body["text"].as_str().unwrap_or("").contains("<!channel>"),
            "Slack would ping the channel: {body}"
        );
    }
}
