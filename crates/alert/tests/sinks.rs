//! Issue 13: each on-call sink against a local server that accepts the real service's request
//! shape: PagerDuty Events v2 (resolve on ack), Opsgenie's Alert API, Telegram's Bot API, and
//! email over SMTP with STARTTLS (a local SMTP server that upgrades with a certificate from a
//! test CA, and asks for a login).

use palisade_alert::{AlertSink, Notification, Outbox, SecretString};
use palisade_primitives::{BlockRef, Finding, Severity, B256};
use palisade_store::{Batch, OperatorAction, Store};
use serde_json::Value;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

fn finding(block: u64) -> Finding {
    Finding::new(
        "drain",
        "liquidity_drain",
        "mainnet",
        BlockRef::new(block, B256::with_last_byte(block as u8)),
        "s",
        Severity::High,
        format!("Vault lost funds in block {block}"),
    )
    .with_evidence(serde_json::json!({"token": "0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2", "lost": "10000000000000000000"}))
}

#[derive(Debug, Clone)]
struct Req {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: Value,
}

impl Req {
    fn header(&self, k: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(k)).map(|(_, v)| v.as_str())
    }
}

/// An HTTP/1.1 server that records each request and answers with `answer(request)`.
async fn server(answer: fn(&Req) -> (u16, &'static str)) -> (String, Arc<Mutex<Vec<Req>>>) {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", l.local_addr().unwrap());
    let got: Arc<Mutex<Vec<Req>>> = Default::default();
    let g = got.clone();
    tokio::spawn(async move {
        loop {
            let Ok((c, _)) = l.accept().await else { return };
            let g = g.clone();
            tokio::spawn(async move {
                let mut r = BufReader::new(c);
                let mut line = String::new();
                if r.read_line(&mut line).await.unwrap_or(0) == 0 {
                    return;
                }
                let mut parts = line.split_whitespace();
                let (method, path) = (
                    parts.next().unwrap_or("").to_string(),
                    parts.next().unwrap_or("").to_string(),
                );
                let mut headers = Vec::new();
                loop {
                    let mut h = String::new();
                    r.read_line(&mut h).await.unwrap();
                    let h = h.trim_end();
                    if h.is_empty() {
                        break;
                    }
                    if let Some((k, v)) = h.split_once(':') {
                        headers.push((k.trim().to_string(), v.trim().to_string()));
                    }
                }
                let len: usize = headers
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
                    .and_then(|(_, v)| v.parse().ok())
                    .unwrap_or(0);
                let mut body = vec![0u8; len];
                r.read_exact(&mut body).await.unwrap();
                let req = Req {
                    method,
                    path,
                    headers,
                    body: serde_json::from_slice(&body).unwrap_or(Value::Null),
                };
                let (status, said) = answer(&req);
                g.lock().unwrap().push(req);
                let _ = r
                    .get_mut()
                    .write_all(
                        format!("HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{said}", said.len())
                            .as_bytes(),
                    )
                    .await;
            });
        }
    });
    (base, got)
}

async fn store() -> (Store, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let s =
        Store::open(&format!("sqlite://{}", dir.path().join("s.sqlite").display())).await.unwrap();
    (s, dir)
}

async fn alert(store: &Store, sink: &str, block: u64) -> Finding {
    let f = finding(block);
    store
        .apply(&Batch {
            chain: "mainnet".into(),
            findings: vec![f.clone()],
            sinks: vec![sink.into()],
            ..Default::default()
        })
        .await
        .unwrap();
    f
}

#[tokio::test]
async fn pagerduty_resolves_its_incident_when_the_alert_is_acknowledged() {
    let (store, _d) = store().await;
    let (base, got) =
        server(|_| (202, r#"{"status":"success","message":"Event processed","dedup_key":"x"}"#))
            .await;
    let pd = palisade_alert::sink::Webhook::pagerduty(
        "pd".into(),
        &SecretString::new(format!("{base}/v2/enqueue")),
        SecretString::new("R0UTINGKEY0123456789"),
        2000,
    )
    .unwrap();
    let outbox = Outbox::new(store.clone(), vec![Arc::new(pd)]);
    let f = alert(&store, "pd", 7).await;
    assert_eq!(outbox.pass().await.unwrap(), 1);
    store.act(&f.key.to_string(), "alice", OperatorAction::Ack, Some("on it")).await.unwrap();
    assert_eq!(outbox.pass().await.unwrap(), 1);
    let got = got.lock().unwrap().clone();
    assert_eq!(got.len(), 2);
    assert!(got.iter().all(|r| r.method == "POST" && r.path == "/v2/enqueue"));
    assert_eq!(got[0].body["event_action"], "trigger");
    assert_eq!(got[1].body["event_action"], "resolve");
    assert_eq!(got[1].body["dedup_key"], f.key.to_string());
    assert_eq!(got[1].body["routing_key"], "R0UTINGKEY0123456789");
}

#[tokio::test]
async fn opsgenie_creates_acknowledges_and_closes_by_alias() {
    let (store, _d) = store().await;
    let (base, got) = server(|_| {
        (202, r#"{"result":"Request will be processed","took":0.01,"requestId":"43a29c5c"}"#)
    })
    .await;
    let og = palisade_alert::sink::Webhook::opsgenie(
        "og".into(),
        &SecretString::new(base),
        SecretString::new("eb243592-faa2-4ba2-a551q-1afdf565c889"),
        2000,
    )
    .unwrap();
    let outbox = Outbox::new(store.clone(), vec![Arc::new(og)]);
    let f = alert(&store, "og", 9).await;
    let key = f.key.to_string();
    outbox.pass().await.unwrap();
    store.act(&key, "alice", OperatorAction::Ack, Some("looking")).await.unwrap();
    outbox.pass().await.unwrap();
    // A reorg retracts it: closed.
    store
        .apply(&Batch { chain: "mainnet".into(), retracted: vec![f.anchor], ..Default::default() })
        .await
        .unwrap();
    outbox.pass().await.unwrap();
    let got = got.lock().unwrap().clone();
    let paths: Vec<&str> = got.iter().map(|r| r.path.as_str()).collect();
    assert_eq!(
        paths,
        vec![
            "/v2/alerts".to_string(),
            format!("/v2/alerts/{key}/acknowledge?identifierType=alias"),
            format!("/v2/alerts/{key}/close?identifierType=alias"),
        ]
    );
    for r in &got {
        assert_eq!(
            r.header("authorization"),
            Some("GenieKey eb243592-faa2-4ba2-a551q-1afdf565c889")
        );
    }
    let c = &got[0].body;
    assert_eq!(c["alias"], key.as_str());
    assert_eq!(c["priority"], "P2", "high is P2");
    assert!(c["message"].as_str().unwrap().len() <= 130);
    assert!(c["message"].as_str().unwrap().contains("Vault lost funds"));
    // Opsgenie's details are a map of strings.
    assert!(c["details"].as_object().unwrap().values().all(Value::is_string), "{c}");
    assert_eq!(got[1].body["user"], "alice");
    assert_eq!(got[1].body["note"], "looking");
}

#[tokio::test]
async fn telegram_posts_to_the_chat_and_its_startup_check_names_a_wrong_token() {
    let (store, _d) = store().await;
    let (base, got) = server(|r| {
        if r.path.starts_with("/bot123456:GOOD") {
            (200, r#"{"ok":true,"result":{"message_id":1}}"#)
        } else {
            (401, r#"{"ok":false,"error_code":401,"description":"Unauthorized"}"#)
        }
    })
    .await;
    let tg = |token: &str| {
        palisade_alert::sink::Webhook::telegram(
            "tg".into(),
            &SecretString::new(base.clone()),
            SecretString::new(token),
            "-1001234567890".into(),
            2000,
        )
        .unwrap()
    };
    tg("123456:GOOD").healthcheck().await.expect("a good token passes");
    let e = tg("123456:BAD").healthcheck().await.expect_err("a wrong token is said at start");
    assert!(e.refuses_sink(), "{e}");
    assert!(!e.to_string().contains("123456:BAD"), "the token is never shown: {e}");
    let outbox = Outbox::new(store.clone(), vec![Arc::new(tg("123456:GOOD"))]);
    alert(&store, "tg", 11).await;
    assert_eq!(outbox.pass().await.unwrap(), 1);
    let got = got.lock().unwrap().clone();
    let send = got.iter().find(|r| r.path.ends_with("/sendMessage")).expect("sendMessage");
    assert_eq!(send.method, "POST");
    assert_eq!(send.path, "/bot123456:GOOD/sendMessage");
    assert_eq!(send.body["chat_id"], "-1001234567890");
    let text = send.body["text"].as_str().unwrap();
    assert!(text.contains("Vault lost funds in block 11") && text.starts_with("[HIGH]"), "{text}");
}

// ---- email ----------------------------------------------------------------------------

/// One message as the server got it: (tls used, AUTH line decoded, MAIL FROM, RCPT TOs, data).
type Mail = (bool, String, String, Vec<String>, String);

struct Smtp {
    port: u16,
    ca_pem: String,
    /// Each message: (tls used, AUTH line decoded, MAIL FROM, RCPT TOs, data).
    got: Arc<Mutex<Vec<Mail>>>,
}

/// A local SMTP submission server: STARTTLS (when `offer_tls`) with a certificate for
/// localhost from a fresh test CA, AUTH PLAIN accepting `user`/`pass` only (535 otherwise).
async fn smtp(offer_tls: bool) -> Smtp {
    use tokio_rustls::rustls;
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca.distinguished_name.push(rcgen::DnType::CommonName, "palisade test CA");
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let leaf_key = rcgen::KeyPair::generate().unwrap();
    let leaf = rcgen::CertificateParams::new(vec!["localhost".to_string()])
        .unwrap()
        .signed_by(&leaf_key, &ca_cert, &ca_key)
        .unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![leaf.der().clone()],
            rustls::pki_types::PrivateKeyDer::Pkcs8(leaf_key.serialize_der().into()),
        )
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    let got: Arc<Mutex<Vec<Mail>>> = Default::default();
    let g = got.clone();
    tokio::spawn(async move {
        loop {
            let Ok((c, _)) = l.accept().await else { return };
            let (acceptor, g) = (acceptor.clone(), g.clone());
            tokio::spawn(async move {
                let mut plain = BufReader::new(c);
                plain.get_mut().write_all(b"220 localhost ESMTP test\r\n").await.unwrap();
                // Before TLS: EHLO, then STARTTLS (or straight on when TLS is not offered).
                let mut line = String::new();
                loop {
                    line.clear();
                    if plain.read_line(&mut line).await.unwrap_or(0) == 0 {
                        return;
                    }
                    let cmd = line.trim_end().to_ascii_uppercase();
                    if cmd.starts_with("EHLO") {
                        let ext = if offer_tls {
                            "250-localhost\r\n250 STARTTLS\r\n"
                        } else {
                            "250-localhost\r\n250 AUTH PLAIN\r\n"
                        };
                        plain.get_mut().write_all(ext.as_bytes()).await.unwrap();
                    } else if cmd == "STARTTLS" && offer_tls {
                        plain.get_mut().write_all(b"220 go ahead\r\n").await.unwrap();
                        break;
                    } else if cmd == "QUIT" {
                        let _ = plain.get_mut().write_all(b"221 bye\r\n").await;
                        return;
                    } else {
                        // Nothing is accepted in the clear.
                        plain
                            .get_mut()
                            .write_all(b"530 5.7.0 must issue STARTTLS first\r\n")
                            .await
                            .unwrap();
                    }
                }
                let Ok(tls) = acceptor.accept(plain.into_inner()).await else { return };
                let mut s = BufReader::new(tls);
                let (mut auth, mut from, mut to) = (String::new(), String::new(), Vec::new());
                loop {
                    line.clear();
                    if s.read_line(&mut line).await.unwrap_or(0) == 0 {
                        return;
                    }
                    let raw = line.trim_end().to_string();
                    let cmd = raw.to_ascii_uppercase();
                    let reply: String = if cmd.starts_with("EHLO") {
                        "250-localhost\r\n250 AUTH PLAIN LOGIN\r\n".into()
                    } else if cmd.starts_with("AUTH PLAIN") {
                        use base64_decode::decode;
                        auth = decode(raw.split_whitespace().nth(2).unwrap_or(""));
                        if auth == "\0user\0pass" {
                            "235 2.7.0 ok\r\n".into()
                        } else {
                            "535 5.7.8 bad credentials\r\n".into()
                        }
                    } else if cmd.starts_with("MAIL FROM") {
                        from = raw[10..].to_string();
                        "250 ok\r\n".into()
                    } else if cmd.starts_with("RCPT TO") {
                        to.push(raw[8..].to_string());
                        "250 ok\r\n".into()
                    } else if cmd == "DATA" {
                        s.get_mut().write_all(b"354 go\r\n").await.unwrap();
                        let mut data = String::new();
                        loop {
                            line.clear();
                            s.read_line(&mut line).await.unwrap();
                            if line == ".\r\n" {
                                break;
                            }
                            data.push_str(&line);
                        }
                        g.lock().unwrap().push((
                            true,
                            auth.clone(),
                            from.clone(),
                            to.clone(),
                            data,
                        ));
                        "250 queued\r\n".into()
                    } else if cmd == "NOOP" || cmd == "RSET" {
                        "250 ok\r\n".into()
                    } else if cmd == "QUIT" {
                        let _ = s.get_mut().write_all(b"221 bye\r\n").await;
                        return;
                    } else {
                        "502 unknown\r\n".into()
                    };
                    s.get_mut().write_all(reply.as_bytes()).await.unwrap();
                }
            });
        }
    });
    Smtp { port, ca_pem: ca_cert.pem(), got }
}

mod base64_decode {
    /// Standard base64 to text (what AUTH PLAIN carries).
    pub fn decode(s: &str) -> String {
        const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut bits = 0u32;
        let mut n = 0;
        let mut out = Vec::new();
        for c in s.bytes().filter(|c| *c != b'=') {
            let Some(v) = A.iter().position(|x| *x == c) else { continue };
            bits = (bits << 6) | v as u32;
            n += 6;
            if n >= 8 {
                n -= 8;
                out.push((bits >> n) as u8);
            }
        }
        String::from_utf8_lossy(&out).into_owned()
    }
}

fn email_sink(port: u16, ca: &std::path::Path, password: &str) -> palisade_alert::sink::Email {
    let c: palisade_alert::sink::EmailConfig = toml::from_str(&format!(
        "host = 'localhost'\nport = {port}\nusername = 'user'\npassword = '{password}'\nfrom = 'Palisade <palisade@example.com>'\nto = ['oncall@example.com', 'risk@example.com']\nca_file = '{}'\ntimeout_ms = 5000\n",
        ca.display()
    ))
    .unwrap();
    palisade_alert::sink::Email::new("email".into(), &c, std::path::Path::new(".")).unwrap()
}

#[tokio::test]
async fn email_goes_over_starttls_with_a_login_and_says_what_is_wrong() {
    let server = smtp(true).await;
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, &server.ca_pem).unwrap();
    let sink = email_sink(server.port, &ca, "pass");
    sink.healthcheck().await.expect("STARTTLS and login succeed");
    let (store, _d) = store().await;
    let outbox = Outbox::new(store.clone(), vec![Arc::new(sink)]);
    let f = alert(&store, "email", 12).await;
    assert_eq!(outbox.pass().await.unwrap(), 1);
    let got = server.got.lock().unwrap().clone();
    assert_eq!(got.len(), 1);
    let (tls, auth, from, to, data) = &got[0];
    assert!(tls);
    assert_eq!(auth, "\0user\0pass");
    assert!(from.contains("palisade@example.com"));
    assert_eq!(to.len(), 2);
    assert!(data.contains("Subject: [palisade] [HIGH] mainnet drain block #12"), "{data}");
    assert!(data.contains(&f.key.to_string()));
    // Amounts in units beside the raw ones.
    assert!(data.contains("lost: 10 WETH (raw 10000000000000000000)"), "{data}");

    // A wrong password: refused for what it is (the sink stops), the password never shown.
    let bad = email_sink(server.port, &ca, "wrong-password");
    let e = bad.healthcheck().await.expect_err("a wrong password is said at start");
    assert!(e.refuses_sink(), "{e}");
    assert!(!e.to_string().contains("wrong-password"), "{e}");

    // A server that does not offer STARTTLS: nothing is sent in the clear.
    let clear = smtp(false).await;
    let e =
        email_sink(clear.port, &ca, "pass").healthcheck().await.expect_err("no STARTTLS, no mail");
    assert!(!e.refuses_notification(), "{e}");
    assert!(clear.got.lock().unwrap().is_empty());
    let _ = Notification::test();
}
