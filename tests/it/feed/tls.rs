//! `wss://` against the simulator with a private certificate authority: the real 5 MB BTC-USD
//! snapshot arrives whole over TLS when the authority is given with `ca_cert`, and an untrusted or
//! wrong-host certificate is a clear error, never a silent downgrade.

use crate::support::feed as feed_support;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use cbbook::feed::events::BookState;
use cbbook::feed::{LiveConfig, client};
use cbbook::sim::{self, SimConfig};
use feed_support::*;
use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

/// A private authority and a server certificate for 127.0.0.1 only; returns the server's TLS
/// configuration and the path of the authority's PEM.
fn private_pki(dir: &Path) -> (Arc<rustls::ServerConfig>, PathBuf) {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);
    let server_key = KeyPair::generate().unwrap();
    let server_cert = CertificateParams::new(vec!["127.0.0.1".to_owned()])
        .unwrap()
        .signed_by(&server_key, &issuer)
        .unwrap();
    let ca_path = dir.join("ca.pem");
    std::fs::write(&ca_path, ca_cert.pem()).unwrap();
    let chain = vec![CertificateDer::from_pem_slice(server_cert.pem().as_bytes()).unwrap()];
    let key = PrivateKeyDer::from_pem_slice(server_key.serialize_pem().as_bytes()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .unwrap();
    (Arc::new(config), ca_path)
}

fn real_book() -> Arc<cbbook::sim::LoadedBook> {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/btc-usd-l2-2026-08-07.json.gz");
    Arc::new(cbbook::sim::load_book_file(&path).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_real_book_arrives_whole_over_wss_with_a_private_authority() {
    let dir = tempfile::tempdir().unwrap();
    let (tls, ca) = private_pki(dir.path());
    let sim = sim::spawn(SimConfig {
        tls: Some(tls),
        products: vec!["BTC-USD".into()],
        books: vec![real_book()],
        updates_per_sec: 0.0,
        ..SimConfig::default()
    })
    .unwrap();
    assert!(sim.url().starts_with("wss://127.0.0.1:"), "{}", sim.url());
    let config = LiveConfig {
        ca_cert: Some(ca),
        ..LiveConfig::new(sim.url(), vec!["BTC-USD".into()])
    };
    let (task, mut handle) = client::start(config);
    let view = wait_view(&mut handle, "the real book live", all_live).await;
    let btc = &view.products[0];
    assert_eq!((btc.bid_levels, btc.ask_levels), (18_376, 27_017));
    assert_eq!(btc.best_bid.unwrap().0.to_string(), "64930.57");
    assert_eq!(btc.best_ask.unwrap().0.to_string(), "64934.09");
    let core = stop(task, &handle).await;
    assert_eq!(core.stats().bad_frames, 0);
    let dump: serde_json::Value = serde_json::from_str(&core.dump_books()).unwrap();
    assert_same_books(&dump, &sim.dump_books(), &["BTC-USD"]);
}

/// Runs a client that must fail TLS: returns the reasons it gave.
async fn tls_failures(url: String, ca: Option<PathBuf>) -> Vec<String> {
    let config = LiveConfig {
        ca_cert: ca,
        ..LiveConfig::new(url, vec!["BTC-USD".into()])
    };
    let (task, mut handle) = client::start(config);
    let view = wait_view(&mut handle, "two failed attempts", |v| {
        v.stats.reconnects >= 2
    })
    .await;
    assert_eq!(
        view.stats.frames, 0,
        "frames arrived over an unverified connection"
    );
    assert!(view.products.iter().all(|p| p.state == BookState::Waiting));
    stop(task, &handle).await;
    disconnect_reasons(events(&mut handle))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_untrusted_certificate_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let (tls, _ca) = private_pki(dir.path());
    let sim = sim::spawn(SimConfig {
        tls: Some(tls),
        ..SimConfig::default()
    })
    .unwrap();
    let reasons = tls_failures(sim.url(), None).await;
    assert!(!reasons.is_empty());
    for reason in &reasons {
        assert!(
            reason.contains("TLS") && reason.contains("UnknownIssuer"),
            "{reason}"
        );
        assert!(reason.contains("--ca-cert"), "{reason}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certificate_for_another_host_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let (tls, ca) = private_pki(dir.path());
    let sim = sim::spawn(SimConfig {
        tls: Some(tls),
        ..SimConfig::default()
    })
    .unwrap();
    // Trusted authority, but the certificate names 127.0.0.1, not localhost.
    let url = format!("wss://localhost:{}", sim.local_addr().port());
    let reasons = tls_failures(url, Some(ca)).await;
    assert!(!reasons.is_empty());
    for reason in &reasons {
        assert!(
            reason.contains("TLS") && reason.contains("not valid for name \"localhost\""),
            "{reason}"
        );
    }
}
