use super::*;

#[test]
fn a_non_http_answer_to_ws_suggests_wss_and_nothing_else_does() {
    // What a TLS server's answer to a plain request becomes (`HTTP format error`).
    let not_http = || {
        let bad = tungstenite::http::Uri::try_from("\u{1}").unwrap_err();
        tungstenite::Error::HttpFormat(bad.into())
    };
    let hint = "(the server may speak TLS: try wss://)";
    assert!(plain_to_tls_hint("ws://127.0.0.1:1", &not_http()).contains(hint));
    assert!(plain_to_tls_hint("WS://127.0.0.1:1", &not_http()).contains(hint));
    assert_eq!(plain_to_tls_hint("wss://127.0.0.1:1", &not_http()), "");
    let closed = tungstenite::Error::ConnectionClosed;
    assert_eq!(plain_to_tls_hint("ws://127.0.0.1:1", &closed), "");
}

#[test]
fn validate_explains_bad_settings() {
    let ok = LiveConfig::new("ws://127.0.0.1:9", vec!["BTC-USD".into()]);
    ok.validate().unwrap();
    let cases: [(LiveConfig, &str); 5] = [
        (
            LiveConfig::new("http://x", vec!["BTC-USD".into()]),
            "scheme",
        ),
        (
            LiveConfig::new("not a url", vec!["BTC-USD".into()]),
            "not a WebSocket URL",
        ),
        (LiveConfig::new("ws://x", vec![]), "no product"),
        (
            LiveConfig::new("ws://x", vec!["BTC USD".into()]),
            "not a product id",
        ),
        (
            LiveConfig {
                watchdog: Duration::ZERO,
                ..ok.clone()
            },
            "watchdog",
        ),
    ];
    for (config, expect) in cases {
        let err = config.validate().unwrap_err().to_string();
        assert!(err.contains(expect), "{err}");
    }
    let missing_ca = LiveConfig {
        ca_cert: Some("/nonexistent/ca.pem".into()),
        ..ok.clone()
    };
    assert!(
        missing_ca
            .validate()
            .unwrap_err()
            .to_string()
            .contains("CA certificate")
    );
    let bad_record = LiveConfig {
        record: Some("/nonexistent/dir/rec.jsonl".into()),
        ..ok
    };
    assert!(
        bad_record
            .validate()
            .unwrap_err()
            .to_string()
            .contains("recording")
    );
}
