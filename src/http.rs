//! Builds the HTTP clients: rustls on the ring provider (installed once, before any client),
//! bounded connect and request timeouts, no proxies from the environment, and an optional
//! local address so that a provider asked for IPv4 connects over IPv4 and one asked for IPv6
//! over IPv6.

use std::net::IpAddr;
use std::time::Duration;

/// The User-Agent every request carries, so Cloudflare's logs show what is calling.
pub const USER_AGENT: &str = concat!("flaredns/", env!("CARGO_PKG_VERSION"));

/// Builds a client. `bind` pins the source family; `timeout` bounds each whole request.
pub fn client(timeout: Duration, bind: Option<IpAddr>) -> Result<reqwest::Client, reqwest::Error> {
    // A second install fails harmlessly when a provider is already in place.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut builder = reqwest::Client::builder()
        .user_agent(USER_AGENT)
        .connect_timeout(timeout.min(Duration::from_secs(10)))
        .timeout(timeout)
        .no_proxy()
        .pool_max_idle_per_host(2);
    if let Some(address) = bind {
        builder = builder.local_address(address);
    }
    builder.build()
}
