//! The demo's look at the page: the daemon's `GET /` served from the demo's state directory
//! the way the daemon serves it, fetched once and summarised in a few lines (the demo runs
//! `--once`, which serves nothing).

use std::path::Path;

/// The page the daemon serves on `[metrics] listen`, as the daemon starts it (a publisher
/// reading the state directory, the same responder), fetched once: its status line, policy,
/// title and address changes. The demo runs `--once`, so the server lives only for this.
pub fn show_page(runtime: &tokio::runtime::Runtime, config: &str) {
    let Ok(loaded) = flaredns::config::load(Path::new(config), &|name| std::env::var(name).ok())
    else {
        println!("(the page is not shown: the demo config did not load)");
        return;
    };
    let Some(listen) = loaded.metrics.listen else {
        return;
    };
    let mut publisher = flaredns::publish::Publisher::new(&loaded);
    let answer = runtime.block_on(async {
        let bound = flaredns::metrics::server::start(listen, publisher.share())?;
        println!("\n$ curl -si http://{bound}/     # the daemon's page for people (a browser shows it; see docs/page.png)");
        fetch(bound, "/").await
    });
    let answer = match answer {
        Ok(answer) => answer,
        Err(error) => {
            println!("(the page could not be fetched: {error})");
            return;
        }
    };
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
    for line in head
        .lines()
        .filter(|line| line.starts_with("HTTP/") || line.starts_with("content-security-policy"))
    {
        println!("{line}");
    }
    let title = body
        .split_once("<title>")
        .and_then(|(_, rest)| rest.split_once("</title>"))
        .map(|(title, _)| title)
        .unwrap_or_default();
    println!("  title: {}", plain(title));
    println!(
        "  {} bytes of HTML, no script; its address changes:",
        body.len()
    );
    let changes = body
        .split("<h2>Address changes</h2>")
        .nth(1)
        .unwrap_or_default();
    let changes = changes.split("<h2>").next().unwrap_or_default();
    for item in changes.split("<li class=\"small\">").skip(1) {
        println!(
            "  - {}",
            plain(item.split("</li>").next().unwrap_or_default())
        );
    }
}

/// One GET over a fresh connection: the whole answer.
async fn fetch(address: std::net::SocketAddr, path: &str) -> std::io::Result<String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(address).await?;
    stream
        .write_all(
            format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
                .as_bytes(),
        )
        .await?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await?;
    Ok(String::from_utf8_lossy(&answer).into_owned())
}

/// HTML text as plain text: tags dropped, the page's escapes undone.
fn plain(html: &str) -> String {
    let mut out = String::new();
    let mut in_tag = false;
    for character in html.chars() {
        match character {
            '<' => in_tag = true,
            '>' => in_tag = false,
            other if !in_tag => out.push(other),
            _ => {}
        }
    }
    out.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}
