//! The API over real HTTP on loopback, against a SQLite store.

use super::*;
use palisade_primitives::{BlockRef, Finding, Severity, B256};
use palisade_store::Batch;

const OPERATE: &str = "operate-token-0123456789";
const READ: &str = "read-token-0123456789abc";

fn config(extra: &str) -> crate::config::Config {
    let src = format!(
        "[[chains]]\nname = 'main'\nchain_id = 1\nendpoints = [{{ url = 'https://eth.example.com/v3/SECRETKEY123' }}]\n\n[[sinks]]\ntype = 'webhook'\nurl = 'https://hooks.example.com/T000/SECRETHOOK'\nsecret = 'SIGNINGSECRET'\n{extra}"
    );
    crate::config::Config::parse(&src, "test.toml", std::path::Path::new("."))
        .unwrap_or_else(|e| panic!("{e}"))
}

fn access(read_only: bool, with_read: bool) -> Access {
    let mut c = ApiConfig { read_only, ..Default::default() };
    c.tokens.push(crate::config::ApiToken {
        name: "alice".into(),
        scope: crate::config::ApiScope::Operate,
        token: palisade_alert::SecretString::new(OPERATE),
    });
    if with_read {
        c.tokens.push(crate::config::ApiToken {
            name: "bob".into(),
            scope: crate::config::ApiScope::Read,
            token: palisade_alert::SecretString::new(READ),
        });
    }
    Access::from_config(&c)
}

use crate::config::ApiConfig;

fn finding(n: u64, sev: Severity, subject: &str) -> Finding {
    let mut h = [0u8; 32];
    h[0] = n as u8;
    h[1] = 0xab;
    Finding::new(
        "drain",
        "liquidity_drain",
        "main",
        BlockRef::new(n, B256::from(h)),
        subject,
        sev,
        format!("finding {subject} at {n}"),
    )
    .with_evidence(json!({"token": "0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2", "lost": "10000000000000000000"}))
}

struct Api {
    base: String,
    store: Store,
    http: reqwest::Client,
    _dir: tempfile::TempDir,
}

async fn serve(read_only: bool, with_read: bool) -> Api {
    let dir = tempfile::tempdir().unwrap();
    let store =
        Store::open(&format!("sqlite://{}", dir.path().join("s.sqlite").display())).await.unwrap();
    let state = ApiState {
        metrics: Metrics::new(),
        store: store.clone(),
        outbox: Outbox::new(store.clone(), Vec::new()),
        chains: Default::default(),
        cluster: None,
        config: Arc::new(config("")),
        access: Arc::new(access(read_only, with_read)),
    };
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", l.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(l, router(state)).await });
    Api { base, store, http: reqwest::Client::new(), _dir: dir }
}

impl Api {
    async fn get(&self, path: &str, token: Option<&str>) -> (u16, Value) {
        let mut r = self.http.get(format!("{}{path}", self.base));
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        let resp = r.send().await.unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }
    async fn post(&self, path: &str, token: Option<&str>, body: Value) -> (u16, Value) {
        let mut r = self.http.post(format!("{}{path}", self.base)).json(&body);
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        let resp = r.send().await.unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }
    async fn store_findings(&self, fs: Vec<Finding>) {
        let b = Batch {
            chain: "main".into(),
            findings: fs,
            sinks: vec!["hook".into()],
            ..Default::default()
        };
        self.store.apply(&b).await.unwrap();
    }
}

#[test]
fn the_openapi_document_lists_exactly_the_routes() {
    let doc: Value = serde_json::from_str(OPENAPI).expect("openapi.json is JSON");
    let mut documented = std::collections::BTreeSet::new();
    for (path, ops) in doc["paths"].as_object().expect("paths") {
        for method in ops.as_object().expect("operations").keys() {
            documented.insert((method.clone(), path.clone()));
        }
    }
    let served: std::collections::BTreeSet<_> =
        ROUTES.iter().map(|(m, p)| (m.to_string(), p.to_string())).collect();
    assert_eq!(documented, served, "openapi.json and ROUTES differ");
}

#[tokio::test]
async fn every_route_is_served() {
    let api = serve(false, false).await;
    api.store_findings(vec![finding(1, Severity::High, "a")]).await;
    let key =
        api.get("/api/v1/alerts", None).await.1["items"][0]["key"].as_str().unwrap().to_string();
    for (method, path) in ROUTES {
        let p = path.replace("{key}", &key).replace("{chain}", "main");
        if p.starts_with("/risk/main") && !p.ends_with("/history") && !p.ends_with("/events") {
            // No block scored yet: a clear 404, not a missing route.
            let (st, body) = api.get(&p, None).await;
            assert_eq!(st, 404, "{p}: {body}");
            assert!(body["error"].as_str().unwrap().contains("no risk point"), "{p}: {body}");
            continue;
        }
        let status = if *method == "get" {
            if p == "/api/v1/events" || p.ends_with("/events") {
                let r = api.http.get(format!("{}{p}", api.base)).send().await.unwrap();
                r.status().as_u16()
            } else {
                api.get(&p, None).await.0
            }
        } else {
            api.post(&p, Some(OPERATE), json!({"note": "x", "for": "1h"})).await.0
        };
        assert!(matches!(status, 200 | 503), "{method} {p}: {status}");
    }
    assert_eq!(api.get("/api/v1/nope", None).await.0, 404);
}

#[tokio::test]
async fn alerts_filter_and_page_by_cursor_without_gaps_or_repeats() {
    let api = serve(false, true).await;
    let mut fs = Vec::new();
    for i in 0..7u64 {
        fs.push(finding(
            10 + i,
            if i % 2 == 0 { Severity::Critical } else { Severity::Low },
            &format!("s{i}"),
        ));
    }
    api.store_findings(fs).await;
    // A read token is configured: reads need one.
    assert_eq!(api.get("/api/v1/alerts", None).await.0, 401);
    assert_eq!(api.get("/api/v1/alerts", Some("wrong-token-0123456789")).await.0, 401);
    let (s, all) = api.get("/api/v1/alerts?limit=1000", Some(READ)).await;
    assert_eq!(s, 200);
    assert_eq!(all["items"].as_array().unwrap().len(), 7);
    assert!(all["next_cursor"].is_null());
    // Pages of 3 give the same alerts in the same order.
    let (mut seen, mut cursor) = (Vec::new(), None::<String>);
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/v1/alerts?limit=3&cursor={c}"),
            None => "/api/v1/alerts?limit=3".into(),
        };
        let (s, page) = api.get(&path, Some(READ)).await;
        assert_eq!(s, 200, "{page}");
        seen.extend(page["items"].as_array().unwrap().iter().map(|a| a["key"].clone()));
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    let expected: Vec<Value> =
        all["items"].as_array().unwrap().iter().map(|a| a["key"].clone()).collect();
    assert_eq!(seen, expected);
    // Filters.
    let crit = api.get("/api/v1/alerts?severity=critical", Some(READ)).await.1;
    assert_eq!(crit["items"].as_array().unwrap().len(), 4);
    assert!(crit["items"].as_array().unwrap().iter().all(|a| a["severity"] == "critical"));
    let none = api.get("/api/v1/alerts?chain=other", Some(READ)).await.1;
    assert_eq!(none["items"].as_array().unwrap().len(), 0);
    let future = api.get("/api/v1/alerts?since=2999-01-01T00:00:00Z", Some(READ)).await.1;
    assert_eq!(future["items"].as_array().unwrap().len(), 0);
    let past = api.get("/api/v1/alerts?until=2000-01-01T00:00:00Z", Some(READ)).await.1;
    assert_eq!(past["items"].as_array().unwrap().len(), 0);
    // Bad input: a clear 400 that names what is wrong.
    for (q, says) in [
        ("status=bogus", "status"),
        ("severity=urgent", "severity"),
        ("since=yesterday", "since"),
        ("cursor=zzz", "cursor"),
        ("limit=many", "limit"),
        ("colour=red", "colour"),
    ] {
        let (s, body) = api.get(&format!("/api/v1/alerts?{q}"), Some(READ)).await;
        assert_eq!(s, 400, "{q}: {body}");
        assert!(body["error"].as_str().unwrap().contains(says), "{q}: {body}");
    }
    // Amounts in units beside the raw ones.
    assert_eq!(all["items"][0]["amounts"][0], json!(["lost", "10000000000000000000", "10 WETH"]));
}

#[tokio::test]
async fn ack_resolve_silence_keep_every_note_and_need_an_operate_token() {
    let api = serve(false, true).await;
    api.store_findings(vec![finding(5, Severity::High, "x")]).await;
    let key = api.get("/api/v1/alerts", Some(READ)).await.1["items"][0]["key"]
        .as_str()
        .unwrap()
        .to_string();
    let ack = format!("/api/v1/alerts/{key}/ack");
    assert_eq!(api.post(&ack, None, json!({})).await.0, 401);
    assert_eq!(api.post(&ack, Some(READ), json!({})).await.0, 403);
    let (s, a) = api.post(&ack, Some(OPERATE), json!({"note": "looking"})).await;
    assert_eq!(s, 200, "{a}");
    assert_eq!(a["status"], "acked");
    assert_eq!(a["acked_by"], "alice");
    // A second ack without a note keeps the first note; both are in the history.
    let (s, _) = api.post(&ack, Some(OPERATE), json!({})).await;
    assert_eq!(s, 200);
    let (s, _) = api
        .post(
            &format!("/api/v1/alerts/{key}/notes"),
            Some(OPERATE),
            json!({"note": "paused the pool"}),
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(
        api.post(&format!("/api/v1/alerts/{key}/silence"), Some(OPERATE), json!({})).await.0,
        400
    );
    assert_eq!(
        api.post(&format!("/api/v1/alerts/{key}/silence"), Some(OPERATE), json!({"for": "soon"}))
            .await
            .0,
        400
    );
    let (s, a) = api
        .post(&format!("/api/v1/alerts/{key}/silence"), Some(OPERATE), json!({"for": "2h"}))
        .await;
    assert_eq!(s, 200);
    assert!(a["silenced_until"].is_string(), "{a}");
    let (s, a) = api
        .post(&format!("/api/v1/alerts/{key}/resolve"), Some(OPERATE), json!({"note": "fixed"}))
        .await;
    assert_eq!(s, 200);
    assert_eq!(a["status"], "resolved");
    let (_, d) = api.get(&format!("/api/v1/alerts/{}", &key[..10]), Some(READ)).await;
    let notes: Vec<(String, Option<String>)> = d["notes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            (n["action"].as_str().unwrap().to_string(), n["note"].as_str().map(str::to_string))
        })
        .collect();
    assert_eq!(
        notes,
        vec![
            ("ack".into(), Some("looking".into())),
            ("ack".into(), None),
            ("note".into(), Some("paused the pool".into())),
            ("silence".into(), None),
            ("resolve".into(), Some("fixed".into())),
        ]
    );
    assert!(d["notes"].as_array().unwrap().iter().all(|n| n["by"] == "alice"));
    // The sink that was told of the alert is told of the ack and the resolution.
    let actions: Vec<&str> =
        d["deliveries"].as_array().unwrap().iter().map(|x| x["action"].as_str().unwrap()).collect();
    assert_eq!(actions, vec!["alert", "ack", "close"]);
    // Malformed bodies and unknown alerts.
    let r = api
        .http
        .post(format!("{}{ack}", api.base))
        .bearer_auth(OPERATE)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    assert_eq!(api.post("/api/v1/alerts/ffffffffff/ack", Some(OPERATE), json!({})).await.0, 404);
}

#[tokio::test]
async fn read_only_mode_refuses_every_change() {
    let api = serve(true, true).await;
    api.store_findings(vec![finding(5, Severity::High, "x")]).await;
    // Reads are public in read-only mode.
    let (s, l) = api.get("/api/v1/alerts", None).await;
    assert_eq!(s, 200);
    let key = l["items"][0]["key"].as_str().unwrap().to_string();
    for what in ["ack", "resolve", "notes", "silence"] {
        let (s, body) = api
            .post(
                &format!("/api/v1/alerts/{key}/{what}"),
                Some(OPERATE),
                json!({"note": "n", "for": "1h"}),
            )
            .await;
        assert_eq!(s, 403, "{what}");
        assert!(body["error"].as_str().unwrap().contains("read-only"), "{body}");
    }
    assert_eq!(api.get(&format!("/api/v1/alerts/{key}"), None).await.1["status"], "open");
    assert_eq!(api.get("/api/v1", None).await.1["read_only"], true);
}

#[tokio::test]
async fn config_is_shown_without_secrets() {
    let api = serve(false, false).await;
    let r = api.http.get(format!("{}/api/v1/config", api.base)).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let text = r.text().await.unwrap();
    for secret in ["SECRETKEY123", "SECRETHOOK", "SIGNINGSECRET"] {
        assert!(!text.contains(secret), "{secret} shown: {text}");
    }
    assert!(text.contains("https://eth.example.com/<redacted>"), "{text}");
}

#[tokio::test]
async fn live_events_carry_new_and_retracted_alerts() {
    let api = serve(false, false).await;
    let resp = api.http.get(format!("{}/api/v1/events", api.base)).send().await.unwrap();
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    let mut body = resp;
    let mut text = String::new();
    read_until(&mut body, &mut text, "event: hello".into()).await;
    let f = finding(9, Severity::Critical, "live");
    let key = f.key.to_string();
    let anchor = f.anchor;
    api.store_findings(vec![f]).await;
    read_until(&mut body, &mut text, format!("\"key\":\"{key}\"")).await;
    api.store
        .apply(&Batch { chain: "main".into(), retracted: vec![anchor], ..Default::default() })
        .await
        .unwrap();
    read_until(&mut body, &mut text, "\"status\":\"reorged\"".into()).await;
}

async fn read_until(body: &mut reqwest::Response, text: &mut String, needle: String) {
    let found = tokio::time::timeout(std::time::Duration::from_secs(10), async {
        while !text.contains(&needle) {
            let chunk = body.chunk().await.expect("chunk").expect("stream open");
            text.push_str(&String::from_utf8_lossy(&chunk));
        }
    })
    .await;
    assert!(found.is_ok(), "no {needle:?} in {text}");
}
