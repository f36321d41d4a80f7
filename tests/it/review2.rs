//! What the adversarial review of issues 25–28 found (each test failed before its fix): a
//! token continued on the next line of a ddclient config, unsupported shoutrrr URLs, ntfy
//! header options with line breaks, invalid `xn--` labels, unquoted providers in
//! check-config, Unicode names shown in one form only.

use std::process::Command;

use std::io::{Read, Write};
use std::time::Duration;

use crate::harness::{record, Record, World, OLD_IPV4};

fn flaredns() -> Command {
    Command::new(env!("CARGO_BIN_EXE_flaredns"))
}

/// `flaredns import favonia` copies every SHOUTRRR URL into `[notify] urls`, including the
/// schemes flaredns does not take, so the imported config is refused (exit 2). The spec says
/// URLs are carried over "where they map".
#[test]
fn review2_import_favonia_unsupported_shoutrrr_url_makes_config_invalid() {
    let world = World::new();
    let env = world.dir.path().join("favonia.env");
    std::fs::write(
        &env,
        "CLOUDFLARE_API_TOKEN=favonia-secret-token-0123456789a\nDOMAINS=a.example.com\nIP6_PROVIDER=none\nSHOUTRRR=smtp://user:pw@mail.example.com:587/?to=a@b.c\n",
    )
    .expect("env");
    let out = flaredns()
        .args(["import", "favonia"])
        .arg(&env)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    // Point the imported config at the stand-in and check it.
    let imported = text.replace("[cloudflare]\napi_token_file = \"/etc/flaredns/token\"", "");
    let config = format!(
        "{}\n{}",
        world.config(""),
        imported
            .lines()
            .filter(|line| !line.starts_with("ipv4 =")
                && !line.starts_with("ipv6 =")
                && *line != "[detect]")
            .collect::<Vec<_>>()
            .join("\n")
    );
    let check = world.run(&config, &["check-config"]);
    assert_eq!(
        check.code,
        0,
        "imported config refused:\n{config}\n{}",
        check.output()
    );
}

/// ddclient: `password=\` continued on the next line. The token line is read as a host, and
/// the "skipped: invalid name" note prints the token on stdout (and lowercased, so the scrub
/// cannot catch it).
#[test]
fn review2_import_ddclient_token_on_continuation_line_is_printed() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("ddclient.conf");
    std::fs::write(
        &path,
        "protocol=cloudflare, zone=example.com, login=token, password=\\\nDdclientSecretToken0123456789 home.example.com\n",
    )
    .expect("conf");
    let out = flaredns()
        .args(["import", "ddclient"])
        .arg(&path)
        .output()
        .expect("run");
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
    .to_ascii_lowercase();
    assert!(
        !all.contains("ddclientsecrettoken0123456789"),
        "the token is printed:\n{all}"
    );
}

/// check-config prints providers with `"{p}"` instead of a TOML quote: an `iface:` name with a
/// `"` (accepted by Provider::parse) makes its output invalid TOML.
#[test]
fn review2_check_config_output_quotes_providers() {
    let world = World::new();
    let config = world.config_detect(
        "ipv4 = [\"cloudflare.trace\"]\nipv6 = [\"iface:eth0\\\"x\"]",
        &record("a.example.com"),
    );
    let check = world.run(&config, &["check-config"]);
    assert_eq!(check.code, 0, "{}", check.output());
    let stdout = check.stdout.clone();
    let parsed: Result<toml::Table, _> = toml::from_str(&stdout);
    assert!(parsed.is_ok(), "check-config output is not TOML:\n{stdout}");
}

/// An `xn--` label that is not valid punycode (or decodes to something UTS #46 refuses) is
/// accepted as written: only names with non-ASCII characters go through IDNA (model.rs:67).
#[test]
fn review2_invalid_xn_labels_are_config_errors() {
    let world = World::new();
    for name in [
        "xn--zz.example.com",
        "xn--a.example.com",
        "xn--99999999.example.com",
    ] {
        let config = world.config(&record(name));
        let check = world.run(&config, &["check-config"]);
        assert_eq!(check.code, 2, "{name} accepted:\n{}", check.output());
    }
}

fn get(port: u16, path: &str) -> Option<String> {
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(stream, "GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").ok()?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).ok()?;
    String::from_utf8(answer).ok()
}

/// "Names ... shown in both forms": the page shows only the xn-- form (page.rs never reads
/// `RecordLine::unicode`).
#[test]
fn review2_page_shows_a_unicode_name_in_both_forms() {
    let world = World::new();
    let (mut daemon, port) = crate::page::serve(&world, &record("bücher.example.com"));
    let page = get(port, "/").expect("page");
    crate::page::stop(&mut daemon);
    assert!(page.contains("xn--bcher-kva.example.com"), "{page}");
    assert!(
        page.contains("bücher.example.com"),
        "only the xn-- form:\n{page}"
    );
}

/// A generic receiver gets the event JSON; its `name` is only the xn-- form, and chat services
/// get `line(event)` built from it (message.rs:17): "home... shown in both forms" is not true
/// of notifications either.
#[test]
fn review2_chat_line_names_a_unicode_record_in_both_forms() {
    let world = World::new();
    let hostport = world
        .standin
        .url("")
        .trim_start_matches("http://")
        .to_string();
    let config = world.config(&format!(
        "{}\n[notify]\nurls = [\"ntfy://{hostport}/topic?scheme=http\"]\n",
        record("bücher.example.com")
    ));
    let run = world.run(&config, &["--once"]);
    assert_eq!(run.code, 0, "{}", run.output());
    let bodies: Vec<String> = world
        .standin
        .requests()
        .into_iter()
        .filter(|request| request.path == "/topic")
        .map(|request| request.body)
        .collect();
    assert_eq!(bodies.len(), 1, "{bodies:?}");
    assert!(bodies[0].contains("bücher.example.com"), "{bodies:?}");
}

/// An ntfy `title` or `tags` option with a line break passes check-config ("a typo is exit 2
/// at start", services.rs:1-6) but becomes an HTTP header value that can never be sent, so
/// every message to that receiver fails at delivery time.
#[test]
fn review2_ntfy_header_options_with_line_breaks_are_refused_at_start() {
    let world = World::new();
    world
        .standin
        .add_record("example.com", Record::new("a.example.com", "A", OLD_IPV4));
    let hostport = world
        .standin
        .url("")
        .trim_start_matches("http://")
        .to_string();
    let config = world.config(&format!(
        "{}\n[notify]\nurls = [\"ntfy://{hostport}/mytopic?scheme=http&tags=a%0D%0AX-Evil:%201\"]\n",
        record("a.example.com")
    ));
    let check = world.run(&config, &["check-config"]);
    if check.code == 2 {
        return;
    }
    let run = world.run(&config, &["--once"]);
    let posts = world
        .standin
        .requests()
        .into_iter()
        .filter(|request| request.path == "/mytopic")
        .count();
    assert_eq!(
        posts,
        1,
        "check-config accepted the URL, yet nothing was delivered:\n{}",
        run.output()
    );
}
