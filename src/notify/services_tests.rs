//! Each service URL form against the endpoint its service documents, and the redaction.

use super::*;

fn parsed(text: &str) -> ServiceUrl {
    match ServiceUrl::parse(text) {
        Ok(url) => url,
        Err(error) => panic!("{text}: {error}"),
    }
}

#[test]
fn each_form_becomes_its_services_endpoint() {
    let cases = [
        (
            "discord://tok-EN_1@123456789",
            "https://discord.com/api/webhooks/123456789/tok-EN_1",
            "discord://<redacted>",
        ),
        (
            "telegram://110201543:AAHdqTcv@telegram?chats=-100123,@chan",
            "https://api.telegram.org/bot110201543:AAHdqTcv/sendMessage",
            "telegram://<redacted>",
        ),
        (
            "ntfy://alice:pw@ntfy.example.org/My_Topic?priority=high",
            "https://ntfy.example.org/My_Topic",
            "ntfy://ntfy.example.org/<redacted>",
        ),
        (
            "ntfy://ntfy.lan:8080/alerts?scheme=http",
            "http://ntfy.lan:8080/alerts",
            "ntfy://ntfy.lan:8080/<redacted>",
        ),
        (
            "slack://T0AAAA/B0BBBB/XyZxyz123",
            "https://hooks.slack.com/services/T0AAAA/B0BBBB/XyZxyz123",
            "slack://<redacted>",
        ),
        (
            "slack://hook:T0AAAA-B0BBBB-XyZxyz123@webhook",
            "https://hooks.slack.com/services/T0AAAA/B0BBBB/XyZxyz123",
            "slack://<redacted>",
        ),
        (
            "gotify://gotify.example.org:8443/sub/AzyoeNS.D4iJLVa?priority=8",
            "https://gotify.example.org:8443/sub/message",
            "gotify://gotify.example.org:8443/<redacted>",
        ),
        (
            "pushover://shoutrrr:aToken123@uKey456?devices=phone",
            "https://api.pushover.net/1/messages.json",
            "pushover://<redacted>",
        ),
        (
            "generic://hooks.example.org/in/abc?x=1&disabletls=no",
            "https://hooks.example.org/in/abc?x=1&disabletls=no",
            "generic://hooks.example.org/<redacted>",
        ),
        (
            "generic+http://127.0.0.1:9000/in",
            "http://127.0.0.1:9000/in",
            "generic+http://127.0.0.1:9000/<redacted>",
        ),
    ];
    for (text, target, shown) in cases {
        let url = parsed(text);
        assert_eq!(url.target.as_str(), target, "{text}");
        assert_eq!(url.to_string(), shown, "{text}");
        assert_eq!(format!("{url:?}"), format!("ServiceUrl({shown})"));
    }
}

#[test]
fn options_reach_the_request() {
    let gotify = parsed("gotify://g.example.org/AppTok?priority=8&title=Home");
    let posts = gotify.posts("line", "flaredns on h");
    assert_eq!(posts.len(), 1);
    assert_eq!(posts[0].header_value("x-gotify-key"), Some("AppTok"));
    let body: serde_json::Value = serde_json::from_slice(&posts[0].body).expect("json");
    assert_eq!(body["priority"], 8);
    assert_eq!(body["title"], "Home");
    let telegram = parsed("telegram://1:A@telegram?chats=1,2&notification=no");
    let posts = telegram.posts("hi", "t");
    assert_eq!(posts.len(), 2, "one per chat");
    let body: serde_json::Value = serde_json::from_slice(&posts[1].body).expect("json");
    assert_eq!(body["chat_id"], "2");
    assert_eq!(body["disable_notification"], true);
    let ntfy = parsed("ntfy://u:p%40ss@n.example.org/t?priority=5&tags=warning");
    let posts = ntfy.posts("hi", "flaredns on h");
    // base64("u:p@ss")
    assert_eq!(
        posts[0].header_value("authorization"),
        Some("Basic dTpwQHNz")
    );
    assert_eq!(posts[0].header_value("priority"), Some("5"));
    assert_eq!(posts[0].header_value("title"), Some("flaredns on h"));
}

#[test]
fn errors_name_the_problem_and_never_the_secret() {
    let cases = [
        ("not a url at all-SECRET", "is not a URL"),
        ("matrix://user:SECRET@host/room", "scheme `matrix`"),
        ("discord://SECRET", "discord://TOKEN@WEBHOOK_ID"),
        ("telegram://SECRET:x@telegram", "chats"),
        (
            "telegram://SECRET:x@nottelegram?chats=1",
            "telegram://BOT_TOKEN",
        ),
        ("ntfy://host.example/", "ntfy://"),
        ("slack://SECRET/only-two", "slack://"),
        ("slack://xoxb:SECRET@channel", "bot tokens"),
        ("gotify://host.example/SECRET?priority=99", "0 to 10"),
        (
            "pushover://SECRET@user",
            "pushover://shoutrrr:API_TOKEN@USER_KEY",
        ),
        ("ntfy://h.example/SECRET?priority=loud", "priority"),
    ];
    for (text, expected) in cases {
        let error = match ServiceUrl::parse(text) {
            Ok(url) => panic!("{text} parsed as {url}"),
            Err(error) => error.to_string(),
        };
        assert!(error.contains(expected), "{text}: {error}");
        assert!(!error.contains("SECRET"), "{text}: {error}");
    }
}

#[test]
fn the_whole_url_tells_receivers_apart() {
    let one = parsed("ntfy://ntfy.sh/topic-one");
    let two = parsed("ntfy://ntfy.sh/topic-two");
    assert_eq!(one.to_string(), two.to_string());
    assert_ne!(one.key(), two.key());
}
