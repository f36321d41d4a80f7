//! The API over TLS under a real host name, for clients whose API address is built in (inadyn
//! talks to `https://api.cloudflare.com:443` and nothing else). The caller binds the listener
//! in a network namespace where that name resolves to loopback; the certificate names the
//! given hosts and is signed by a throwaway CA, whose PEM the client trusts. Nothing here
//! reaches a real network.

use std::sync::Arc;

use crate::Standin;

impl Standin {
    /// Serves the API (with the IP echo, `/cdn-cgi/trace` and `/ip`) over TLS on `listener`,
    /// with a certificate for `names` signed by a new CA. Returns the CA's PEM.
    pub fn serve_api_tls_as(&self, listener: std::net::TcpListener, names: &[&str]) -> String {
        let (acceptor, ca_pem) = acceptor_for(names);
        listener.set_nonblocking(true).expect("nonblocking");
        let state = self.state.clone();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("named TLS runtime");
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).expect("tokio listener");
                crate::api::serve_tls(listener, acceptor, state).await;
            });
        });
        ca_pem
    }
}

/// A TLS acceptor whose certificate names `names`, signed by a new CA, and that CA's PEM.
pub(crate) fn acceptor_for(names: &[&str]) -> (tokio_rustls::TlsAcceptor, String) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("CA params");
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "flaredns test CA");
    ca_params.key_usages.extend([
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::DigitalSignature,
    ]);
    let ca_key = rcgen::KeyPair::generate().expect("CA key");
    let ca_cert = ca_params.self_signed(&ca_key).expect("CA certificate");
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
    let mut leaf = rcgen::CertificateParams::new(
        names
            .iter()
            .map(|name| name.to_string())
            .collect::<Vec<_>>(),
    )
    .expect("leaf params");
    leaf.distinguished_name.push(
        rcgen::DnType::CommonName,
        names.first().copied().unwrap_or("localhost"),
    );
    leaf.use_authority_key_identifier_extension = true;
    leaf.extended_key_usages
        .push(rcgen::ExtendedKeyUsagePurpose::ServerAuth);
    let leaf_key = rcgen::KeyPair::generate().expect("leaf key");
    let leaf_cert = leaf
        .signed_by(&leaf_key, &issuer)
        .expect("leaf certificate");
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(leaf_key.serialize_der().into());
    let config = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(vec![leaf_cert.der().clone()], key)
        .expect("a TLS server config");
    (
        tokio_rustls::TlsAcceptor::from(Arc::new(config)),
        ca_cert.pem(),
    )
}
