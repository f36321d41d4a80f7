//! Builds the HTTP clients and reads their answers: rustls on the ring provider (installed
//! once, before any client), bounded connect and request timeouts, no proxies from the
//! environment, an optional local address so that a provider asked for IPv4 connects over
//! IPv4 and one asked for IPv6 over IPv6, and bodies read as a stream up to a cap. Only this
//! module, `cloudflare` and `detect` use reqwest.

use std::net::IpAddr;
use std::time::Duration;

/// The User-Agent every request carries, so Cloudflare's logs show what is calling.
pub const USER_AGENT: &str = concat!("flaredns/", env!("CARGO_PKG_VERSION"));

/// Whether a client follows redirects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Redirects {
    /// API calls: a redirect would turn a write into a GET elsewhere, or re-post it to
    /// another host; it is reported instead.
    Never,
    /// IP-echo providers: a few hops (http → https) are normal.
    Few,
}

/// The HTTP stack could not be set up (no TLS roots, no resolver): nothing can be sent.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("cannot set up the HTTP client: {0}")]
pub struct SetupError(String);

/// Builds a client. `bind` pins the source family; `timeout` bounds each whole request.
pub fn client(
    timeout: Duration,
    bind: Option<IpAddr>,
    redirects: Redirects,
) -> Result<reqwest::Client, SetupError> {
    // A second install fails harmlessly when a provider is already in place.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let policy = match redirects {
        Redirects::Never => reqwest::redirect::Policy::none(),
        Redirects::Few => reqwest::redirect::Policy::limited(3),
    };
    let mut builder = reqwest::Client::builder()
        .user_agent(USER_AGENT)
        .connect_timeout(timeout.min(Duration::from_secs(10)))
        .timeout(timeout)
        .redirect(policy)
        .no_proxy()
        .pool_max_idle_per_host(2);
    if let Some(address) = bind {
        builder = builder.local_address(address);
    }
    builder
        .build()
        .map_err(|error| SetupError(describe_transport(&error)))
}

/// Why a body could not be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
    #[error("the answer is larger than {limit} bytes and was not read further")]
    TooLarge { limit: usize },
    #[error("reading the answer {0}")]
    Transport(String),
}

/// Reads a response body as a stream, stopping with an error past `limit` bytes, so a huge or
/// endless answer costs at most `limit` bytes of memory.
pub async fn read_capped(
    mut response: reqwest::Response,
    limit: usize,
) -> Result<Vec<u8>, BodyError> {
    if response
        .content_length()
        .is_some_and(|length| length > limit as u64)
    {
        return Err(BodyError::TooLarge { limit });
    }
    let mut body = Vec::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                if body.len() + chunk.len() > limit {
                    return Err(BodyError::TooLarge { limit });
                }
                body.extend_from_slice(&chunk);
            }
            Ok(None) => return Ok(body),
            Err(error) => return Err(BodyError::Transport(describe_transport(&error))),
        }
    }
}

/// A transport error as a short phrase: timed out, refused, TLS, with the innermost cause.
pub fn describe_transport(error: &reqwest::Error) -> String {
    let mut innermost = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        innermost = cause.to_string();
        source = cause.source();
    }
    let kind = if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "could not connect"
    } else {
        "failed"
    };
    // reqwest's own text can carry the URL, and a provider's URL can hold a secret.
    if let Some(url) = error.url() {
        innermost = crate::secret::redact_in(&innermost, url);
    }
    format!("{kind} ({})", crate::logging::one_line(&innermost))
}

/// How a plain request (a webhook, a heartbeat) ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Sent {
    /// The receiver answered with this status.
    Status(u16),
    /// No answer: the phrase says why (the URL is never part of it).
    Failed(String),
}

/// One notification request: a POST with a body, or a GET without one.
pub struct Outgoing<'a> {
    pub url: &'a url::Url,
    /// The content type and the body; `None` is a GET.
    pub body: Option<(&'a str, &'a [u8])>,
    /// Extra headers (a service's key, basic credentials, a title).
    pub headers: &'a [(String, String)],
}

/// Sends one request and reads (and drops) at most 64 KiB of the answer. For notifications:
/// the URL is a secret, so no error text carries it.
pub async fn send(client: &reqwest::Client, outgoing: &Outgoing<'_>, timeout: Duration) -> Sent {
    let mut request = match outgoing.body {
        Some((content_type, body)) => client
            .post(outgoing.url.as_str())
            .header("content-type", content_type)
            .body(body.to_vec()),
        None => client.get(outgoing.url.as_str()),
    };
    for (name, value) in outgoing.headers {
        request = request.header(name.as_str(), value.as_str());
    }
    match request.timeout(timeout).send().await {
        Ok(response) => {
            let status = response.status().as_u16();
            let _ = read_capped(response, 64 * 1024).await;
            Sent::Status(status)
        }
        Err(error) => Sent::Failed(describe_transport(&error.without_url())),
    }
}
