//! The stand-in over TLS: the certificates (a self-signed one for the API, a throwaway CA's
//! for the notification receivers) and the thread that serves a listener with them. Only the
//! benchmark and the tests that need real HTTPS use it; everything else is plain HTTP.

use std::sync::{Arc, Mutex};

use tokio_rustls::TlsAcceptor;

use crate::api;
use crate::State;

/// What a TLS listener serves.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Serves {
    /// The API routes, as the plain listener serves them.
    Api,
    /// Notification receivers: every request logged and answered 200.
    Receivers,
}

/// An acceptor with a self-signed certificate for 127.0.0.1, and that certificate (PEM).
pub(crate) fn self_signed_acceptor() -> (TlsAcceptor, String) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let certified = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()])
        .expect("a self-signed certificate");
    let cert_pem = certified.cert.pem();
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(certified.signing_key.serialize_der().into());
    let config = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(vec![certified.cert.der().clone()], key)
        .expect("a TLS server config");
    (TlsAcceptor::from(Arc::new(config)), cert_pem)
}

/// An acceptor whose certificate names `names` and is signed by a throwaway CA, and the CA's
/// certificate (PEM) for the client to trust.
pub(crate) fn ca_signed_acceptor(names: &[&str]) -> (TlsAcceptor, String) {
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
    (TlsAcceptor::from(Arc::new(config)), ca_cert.pem())
}

/// Serves `listener` over TLS on a thread of its own (its own runtime), for as long as the
/// process lives.
pub(crate) fn spawn_server(
    listener: std::net::TcpListener,
    acceptor: TlsAcceptor,
    state: Arc<Mutex<State>>,
    serves: Serves,
) {
    listener.set_nonblocking(true).expect("nonblocking");
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("TLS runtime");
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).expect("tokio listener");
            match serves {
                Serves::Api => api::serve_tls(listener, acceptor, state).await,
                Serves::Receivers => api::serve_receivers_tls(listener, acceptor, state).await,
            }
        });
    });
}
