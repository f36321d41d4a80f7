//! A local Cloudflare stand-in for flaredns's tests, demo and benchmarks: a subset of API v4
//! (zones, dns_records with filters and pages, POST/PATCH/PUT/DELETE, an all-or-nothing batch,
//! token verify, zone settings), an authoritative UDP DNS server answering from the same
//! records, an IP echo (`/cdn-cgi/trace`, `/ip`), a request log and fault injection. Everything
//! listens on 127.0.0.1 at ephemeral ports. It is a workspace member that the release binary
//! never links.
//!
//! The stand-in runs on its own runtime thread (`start`), so tests can drive it from plain
//! `#[test]` functions while the real `flaredns` binary talks to it over real sockets; or as
//! tasks of the caller's runtime (`start_here`), for the daemon run in-process on paused time.

mod api;
mod dns;
mod fault;
mod lists;
mod named_tls;
pub mod peak;
mod records;
mod routes;
mod state;
mod tls;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

pub use api::ApiFailure;
pub use fault::Fault;
pub use state::{CustomList, ListItem, LoggedRequest, Operation, Record, State, ZoneState};

/// The token the stand-in accepts unless told otherwise.
pub const TOKEN: &str = "standin-token-0123456789abcdef";
/// The public IPv4 address the echo reports unless told otherwise.
pub const PUBLIC_IPV4: &str = "81.23.45.99";
/// The public IPv6 address the echo reports (over IPv6) unless told otherwise.
pub const PUBLIC_IPV6: &str = "2a01:4f8:c0c:1234::1";
/// What a proxied A record answers in DNS (inside Cloudflare's ranges).
pub const ANYCAST_V4: &str = "104.16.0.1";
/// What a proxied AAAA record answers in DNS.
pub const ANYCAST_V6: &str = "2606:4700::6810:1";

/// A running stand-in. Dropping it stops the servers.
pub struct Standin {
    state: Arc<Mutex<State>>,
    http: SocketAddr,
    dns: SocketAddr,
    http_v6: Option<SocketAddr>,
    dns_v6: Option<SocketAddr>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Standin {
    /// Starts the servers on 127.0.0.1 at ephemeral ports, on a runtime thread of their own
    /// (for plain `#[test]` functions and the real binary).
    pub fn start() -> Standin {
        let state = Arc::new(Mutex::new(State::new()));
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let shared = state.clone();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("stand-in runtime");
            runtime.block_on(async move {
                let (addresses, servers) = bind(shared).await;
                ready_tx.send(addresses).expect("report addresses");
                tokio::select! {
                    _ = servers => {}
                    _ = stop_rx => {}
                }
            });
            runtime.shutdown_background();
        });
        let addresses = ready_rx.recv().expect("stand-in started");
        Standin::new(state, addresses, stop_tx, Some(thread))
    }

    /// Starts the servers as tasks of the current runtime. A test on paused time runs the
    /// daemon and the stand-in on one runtime: the stand-in's work keeps it busy, so virtual
    /// time moves on only while both sides wait on a timer.
    pub async fn start_here() -> Standin {
        let state = Arc::new(Mutex::new(State::new()));
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let (addresses, servers) = bind(state.clone()).await;
        tokio::spawn(async move {
            tokio::select! {
                _ = servers => {}
                _ = stop_rx => {}
            }
        });
        Standin::new(state, addresses, stop_tx, None)
    }

    fn new(
        state: Arc<Mutex<State>>,
        (http, dns, http_v6, dns_v6): Addresses,
        stop: tokio::sync::oneshot::Sender<()>,
        thread: Option<std::thread::JoinHandle<()>>,
    ) -> Standin {
        Standin {
            state,
            http,
            dns,
            http_v6,
            dns_v6,
            stop: Some(stop),
            thread,
        }
    }

    /// Locks the shared state for direct inspection or changes.
    pub fn state(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The API base URL, for `[cloudflare].api_url`.
    pub fn api_url(&self) -> String {
        format!("http://{}/client/v4", self.http)
    }

    /// The trace URL, for `trace:URL`.
    pub fn trace_url(&self) -> String {
        format!("http://{}/cdn-cgi/trace", self.http)
    }

    /// The plain IP echo URL, for `url:URL`.
    pub fn ip_url(&self) -> String {
        format!("http://{}/ip", self.http)
    }

    /// A URL on the stand-in's HTTP server (webhook, healthchecks and Kuma receivers).
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.http)
    }

    /// The trace URL on IPv6 loopback, when the machine has it.
    pub fn trace_url_v6(&self) -> Option<String> {
        self.http_v6
            .map(|address| format!("http://{address}/cdn-cgi/trace"))
    }

    /// The plain IP echo on IPv6 loopback, when the machine has it.
    pub fn ip_url_v6(&self) -> Option<String> {
        self.http_v6.map(|address| format!("http://{address}/ip"))
    }

    /// The DNS server on IPv6 loopback, when the machine has it.
    pub fn dns_addr_v6(&self) -> Option<SocketAddr> {
        self.dns_v6
    }

    /// Sets what the IP echo reports over IPv6.
    pub fn set_public_ipv6(&self, ip: &str) {
        self.state().public_ipv6 = ip.to_string();
    }

    /// The authoritative DNS server's address.
    pub fn dns_addr(&self) -> SocketAddr {
        self.dns
    }

    /// Serves the API over TLS too, on a new loopback port, with a self-signed certificate
    /// for 127.0.0.1. Returns the HTTPS base URL of the API and the certificate (PEM), which a
    /// client trusts through `SSL_CERT_FILE`.
    pub fn serve_tls(&self) -> (String, String) {
        let (acceptor, cert_pem) = tls::self_signed_acceptor();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind TLS");
        let address = listener.local_addr().expect("TLS address");
        tls::spawn_server(listener, acceptor, self.state.clone(), tls::Serves::Api);
        (format!("https://{address}/client/v4"), cert_pem)
    }

    /// Serves every path over TLS on `listener` as a notification receiver: each request is
    /// logged (with its headers and `host`) and answered 200 `{"ok":true}` unless a fault
    /// matches. The certificate names `names` and is signed by a throwaway CA, whose PEM is
    /// returned for `SSL_CERT_FILE`. Bind the listener in the namespace the client will use.
    pub fn serve_receivers_tls(&self, listener: std::net::TcpListener, names: &[&str]) -> String {
        let (acceptor, ca_pem) = tls::ca_signed_acceptor(names);
        tls::spawn_server(
            listener,
            acceptor,
            self.state.clone(),
            tls::Serves::Receivers,
        );
        ca_pem
    }

    /// The items of the account's list `name`, if it exists.
    pub fn list_items(&self, account: &str, name: &str) -> Option<Vec<ListItem>> {
        self.state()
            .lists
            .iter()
            .find(|list| list.account == account && list.name == name)
            .map(|list| list.items.clone())
    }

    /// Adds an item to a list (creating the list), as someone else would by hand.
    pub fn add_list_item(&self, account: &str, name: &str, ip: &str, comment: Option<&str>) {
        let mut state = self.state();
        let item_id = state.new_id();
        let list_id = state.new_id();
        let ip = records::normalise_ip(ip).unwrap_or_else(|| ip.to_string());
        let item = ListItem {
            id: item_id,
            ip,
            comment: comment.map(str::to_string),
        };
        match state
            .lists
            .iter_mut()
            .find(|list| list.account == account && list.name == name)
        {
            Some(list) => list.items.push(item),
            None => state.lists.push(CustomList {
                account: account.to_string(),
                id: list_id,
                name: name.to_string(),
                kind: "ip".to_string(),
                description: String::new(),
                items: vec![item],
            }),
        }
    }

    /// Sets a list's kind (`ip`, `asn`, `hostname`, `redirect`), creating it empty, as an
    /// admin might have made it by hand.
    pub fn set_list_kind(&self, account: &str, name: &str, kind: &str) {
        let mut state = self.state();
        let list_id = state.new_id();
        match state
            .lists
            .iter_mut()
            .find(|list| list.account == account && list.name == name)
        {
            Some(list) => list.kind = kind.to_string(),
            None => state.lists.push(CustomList {
                account: account.to_string(),
                id: list_id,
                name: name.to_string(),
                kind: kind.to_string(),
                description: String::new(),
                items: Vec::new(),
            }),
        }
    }

    /// Gives a zone a custom firewall rule with this expression.
    pub fn add_firewall_rule(&self, zone: &str, expression: &str) {
        let mut state = self.state();
        if let Some(zone) = state.zones.iter_mut().find(|z| z.name == zone) {
            zone.firewall_rules.push(expression.to_string());
        }
    }

    /// The next list-item write's operation fails with `error`.
    pub fn fail_next_operation(&self, error: &str) {
        self.state().fail_next_operation = Some(error.to_string());
    }

    /// Makes item pages answer cursors that alternate between two pages forever.
    pub fn loop_item_cursor(&self) {
        self.state().looping_item_cursor = true;
    }

    /// Deletes a list out of band (as the dashboard would).
    pub fn delete_list(&self, account: &str, name: &str) {
        self.state()
            .lists
            .retain(|list| !(list.account == account && list.name == name));
    }

    /// Accepts `token` too, for the zones named in `zones` only.
    pub fn add_scoped_token(&self, token: &str, zones: &[&str]) {
        self.state().scoped_tokens.push((
            token.to_string(),
            zones.iter().map(|zone| zone.to_string()).collect(),
        ));
    }

    /// Adds a zone and returns its id.
    pub fn add_zone(&self, name: &str) -> String {
        let mut state = self.state();
        let id = state.new_id();
        state.zones.push(ZoneState {
            id: id.clone(),
            name: name.to_ascii_lowercase(),
            security_level: "medium".to_string(),
            records: Vec::new(),
            firewall_rules: Vec::new(),
        });
        id
    }

    /// Adds a record to the zone named `zone` and returns its id.
    pub fn add_record(&self, zone: &str, mut record: Record) -> String {
        let mut state = self.state();
        let id = state.new_id();
        record.id = id.clone();
        let zone = state
            .zones
            .iter_mut()
            .find(|z| z.name == zone)
            .expect("add_record: no such zone");
        zone.records.push(record);
        id
    }

    /// Renames a record as the dashboard does: the id stays, the name changes.
    pub fn rename_record(&self, id: &str, new_name: &str) {
        let mut state = self.state();
        for zone in &mut state.zones {
            for record in &mut zone.records {
                if record.id == id {
                    record.name = new_name.to_string();
                }
            }
        }
    }

    /// The records of a zone.
    pub fn records(&self, zone: &str) -> Vec<Record> {
        self.state()
            .zones
            .iter()
            .find(|z| z.name == zone)
            .map(|z| z.records.clone())
            .unwrap_or_default()
    }

    /// Records at one name, sorted by type then content.
    pub fn records_at(&self, zone: &str, name: &str) -> Vec<Record> {
        let mut found: Vec<Record> = self
            .records(zone)
            .into_iter()
            .filter(|r| r.name == name)
            .collect();
        found.sort_by(|a, b| (&a.record_type, &a.content).cmp(&(&b.record_type, &b.content)));
        found
    }

    /// Sets what the IP echo reports.
    pub fn set_public_ipv4(&self, ip: &str) {
        self.state().public_ipv4 = ip.to_string();
    }

    /// Sets a zone's security level (e.g. "under_attack").
    pub fn set_security_level(&self, zone: &str, level: &str) {
        if let Some(z) = self.state().zones.iter_mut().find(|z| z.name == zone) {
            z.security_level = level.to_string();
        }
    }

    /// Adds a fault.
    pub fn inject(&self, fault: Fault) {
        self.state().faults.push(fault);
    }

    /// Removes every fault.
    pub fn clear_faults(&self) {
        self.state().faults.clear();
    }

    /// Makes the DNS server drop queries (false) or answer them (true).
    pub fn set_dns_up(&self, up: bool) {
        self.state().dns_up = up;
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<LoggedRequest> {
        self.state().requests.clone()
    }

    /// API requests so far (the IP echo excluded).
    pub fn api_requests(&self) -> Vec<LoggedRequest> {
        self.requests()
            .into_iter()
            .filter(LoggedRequest::is_api)
            .collect()
    }

    /// Forgets the request log.
    pub fn clear_requests(&self) {
        self.state().requests.clear();
    }

    /// How many DNS queries were answered or dropped.
    pub fn dns_queries(&self) -> u64 {
        self.state().dns_queries
    }
}

/// HTTP and DNS on IPv4 loopback, and on IPv6 loopback when the machine has it.
type Addresses = (
    SocketAddr,
    SocketAddr,
    Option<SocketAddr>,
    Option<SocketAddr>,
);

/// Binds the HTTP and DNS servers and returns their addresses and the future serving them.
async fn bind(shared: Arc<Mutex<State>>) -> (Addresses, impl std::future::Future<Output = ()>) {
    let http = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind stand-in HTTP");
    let udp = tokio::net::UdpSocket::bind("127.0.0.1:0")
        .await
        .expect("bind stand-in DNS");
    // IPv6 loopback is optional: tests that need it skip without it.
    let http_v6 = tokio::net::TcpListener::bind("[::1]:0").await.ok();
    let udp_v6 = tokio::net::UdpSocket::bind("[::1]:0").await.ok();
    let addresses = (
        http.local_addr().expect("http addr"),
        udp.local_addr().expect("dns addr"),
        http_v6.as_ref().and_then(|l| l.local_addr().ok()),
        udp_v6.as_ref().and_then(|s| s.local_addr().ok()),
    );
    shared.lock().expect("state").dns_port = addresses.1.port();
    let servers = async move {
        let optional_http = async {
            match http_v6 {
                Some(listener) => api::serve(listener, shared.clone()).await,
                None => std::future::pending().await,
            }
        };
        let optional_dns = async {
            match udp_v6 {
                Some(socket) => dns::serve(socket, shared.clone()).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = api::serve(http, shared.clone()) => {}
            _ = dns::serve(udp, shared.clone()) => {}
            _ = optional_http => {}
            _ = optional_dns => {}
        }
    };
    (addresses, servers)
}

impl Drop for Standin {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
