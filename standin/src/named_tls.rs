//! The API over TLS under a real host name, for clients whose API address is built in (inadyn
//! talks to `https://api.cloudflare.com:443` and nothing else). The caller binds the listener
//! in a network namespace where that name resolves to loopback; the certificate names the
//! given hosts and is signed by a throwaway CA, whose PEM the client trusts. Nothing here
//! reaches a real network.

use crate::tls::{ca_signed_acceptor, spawn_server, Serves};
use crate::Standin;

impl Standin {
    /// Serves the API (with the IP echo, `/cdn-cgi/trace` and `/ip`) over TLS on `listener`,
    /// with a certificate for `names` signed by a new CA. Returns the CA's PEM.
    pub fn serve_api_tls_as(&self, listener: std::net::TcpListener, names: &[&str]) -> String {
        let (acceptor, ca_pem) = ca_signed_acceptor(names);
        spawn_server(listener, acceptor, self.state.clone(), Serves::Api);
        ca_pem
    }
}
