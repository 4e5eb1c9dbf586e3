//! The outbox after a sink outage (issue 11, defect 5): once the sink answers again its backlog
//! is drained at once, in block order, and a resolve never overtakes its own alert.

use futures::future::BoxFuture;
use palisade_alert::sink::WebhookFormat;
use palisade_alert::{AlertError, AlertSink, Notification, Outbox};
use palisade_primitives::{BlockRef, Finding, Severity, B256};
use palisade_store::{Batch, Store};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A sink that is down while `down` is set and records what it gets, in order.
#[derive(Debug, Default)]
struct Flaky {
    down: AtomicBool,
    got: Mutex<Vec<(u64, String, i64, Instant)>>,
    refused: Mutex<u64>,
}

#[derive(Debug)]
struct Sink(Arc<Flaky>, String);

impl AlertSink for Sink {
    fn id(&self) -> &str {
        &self.1
    }
    fn healthcheck(&self) -> BoxFuture<'_, palisade_alert::Result<()>> {
        Box::pin(async { Ok(()) })
    }
    fn deliver<'a>(&'a self, n: &'a Notification) -> BoxFuture<'a, palisade_alert::Result<()>> {
        Box::pin(async move {
            if self.0.down.load(Ordering::SeqCst) {
                *self.0.refused.lock().unwrap() += 1;
                return Err(AlertError::Sink { sink: self.1.clone(), reason: "down".into() });
            }
            self.0.got.lock().unwrap().push((
                n.alert.finding.anchor.number,
                n.action.clone(),
                n.revision,
                Instant::now(),
            ));
            Ok(())
        })
    }
}

fn finding(chain: &str, block: u64) -> Finding {
    Finding::new(
        "rule:t",
        "rule",
        chain,
        BlockRef::new(block, B256::with_last_byte((block % 251) as u8 + 1)),
        "s",
        Severity::High,
        format!("block {block}"),
    )
}

#[tokio::test]
async fn after_an_outage_the_backlog_drains_at_once_in_block_order() {
    let dir = tempfile::tempdir().unwrap();
    let store =
        Store::open(&format!("sqlite://{}", dir.path().join("o.sqlite").display())).await.unwrap();
    let flaky = Arc::new(Flaky::default());
    let up = Arc::new(Flaky::default());
    let outbox = Outbox::new(
        store.clone(),
        vec![Arc::new(Sink(flaky.clone(), "down".into())), Arc::new(Sink(up.clone(), "up".into()))],
    );
    let sinks = vec!["down".to_string(), "up".to_string()];
    flaky.down.store(true, Ordering::SeqCst);
    // 120 blocks with a finding each arrive during the outage, one event at a time; every
    // seventh block is then reorged out (its resolve is queued after its alert).
    for n in 1..=120u64 {
        let f = finding("c", n);
        let b = Batch {
            chain: "c".into(),
            findings: vec![f],
            sinks: sinks.clone(),
            ..Default::default()
        };
        store.apply(&b).await.unwrap();
        if n % 7 == 0 {
            let r = Batch {
                chain: "c".into(),
                retracted: vec![finding("c", n).anchor],
                sinks: sinks.clone(),
                ..Default::default()
            };
            store.apply(&r).await.unwrap();
        }
        outbox.pass().await.unwrap();
    }
    // The healthy sink got everything, while the other one was down.
    assert_eq!(up.got.lock().unwrap().len(), 120 + 120 / 7);
    assert!(flaky.got.lock().unwrap().is_empty());
    // Backoff is per sink: the failing sink was tried once per backoff period, not once per
    // notification.
    let refused = *flaky.refused.lock().unwrap();
    assert!(refused <= 3, "tried {refused} times during the outage");
    // Back up: the next pass once its backoff has passed delivers the whole backlog.
    flaky.down.store(false, Ordering::SeqCst);
    let wait = outbox.backoffs()["down"].next_ms - now_ms();
    tokio::time::sleep(Duration::from_millis(wait.max(0) as u64 + 10)).await;
    let t = Instant::now();
    let n = outbox.pass().await.unwrap();
    assert_eq!(n, 120 + 120 / 7, "the whole backlog in one pass");
    eprintln!("backlog of {n} drained in {:?}", t.elapsed());
    let got = flaky.got.lock().unwrap().clone();
    // In block order; a resolve right after its own alert.
    for w in got.windows(2) {
        assert!(
            w[1].0 > w[0].0 || (w[1].0 == w[0].0 && w[0].1 == "alert" && w[1].1 == "resolve"),
            "out of order: {:?} then {:?}",
            (w[0].0, &w[0].1),
            (w[1].0, &w[1].1)
        );
    }
    assert!(outbox.backoffs().is_empty(), "the sink's backoff is cleared");
    assert_eq!(store.outbox_depth().await.unwrap(), 0);
}

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64
}

/// A receiver answering each request with `answer(block_number)` (status, body); records the
/// block numbers it was sent.
async fn receiver(answer: fn(u64) -> (u16, &'static str)) -> (String, Arc<Mutex<Vec<u64>>>) {
    let (url, seen, _) = receiver_bodies(answer).await;
    (url, seen)
}

/// [`receiver`], also keeping each request's JSON body.
#[allow(clippy::type_complexity)]
async fn receiver_bodies(
    answer: fn(u64) -> (u16, &'static str),
) -> (String, Arc<Mutex<Vec<u64>>>, Arc<Mutex<Vec<serde_json::Value>>>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", l.local_addr().unwrap());
    let seen: Arc<Mutex<Vec<u64>>> = Default::default();
    let bodies: Arc<Mutex<Vec<serde_json::Value>>> = Default::default();
    let (s, b) = (seen.clone(), bodies.clone());
    tokio::spawn(async move {
        loop {
            let Ok((mut c, _)) = l.accept().await else { return };
            let mut buf = Vec::new();
            let mut chunk = vec![0u8; 65536];
            // Headers, then the body by content-length.
            let body = loop {
                let n = c.read(&mut chunk).await.unwrap_or(0);
                if n == 0 {
                    break None;
                }
                buf.extend_from_slice(&chunk[..n]);
                let text = String::from_utf8_lossy(&buf).to_string();
                if let Some(i) = text.find("\r\n\r\n") {
                    let len = text[..i]
                        .lines()
                        .find_map(|l| {
                            let (k, v) = l.split_once(':')?;
                            k.eq_ignore_ascii_case("content-length")
                                .then(|| v.trim().parse().ok())?
                        })
                        .unwrap_or(0usize);
                    if buf.len() >= i + 4 + len {
                        break Some(buf[i + 4..i + 4 + len].to_vec());
                    }
                }
            };
            let Some(body) = body else { continue };
            let v: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
            let n = v["block_number"].as_u64().unwrap_or(0);
            s.lock().unwrap().push(n);
            b.lock().unwrap().push(v);
            let (status, said) = answer(n);
            let _ = c
                .write_all(
                    format!(
                        "HTTP/1.1 {status} X\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{said}",
                        said.len()
                    )
                    .as_bytes(),
                )
                .await;
        }
    });
    (url, seen, bodies)
}

/// A webhook sink named `id` posting to `url` in `format`.
fn hook(id: &str, url: String, format: WebhookFormat) -> palisade_alert::sink::Webhook {
    let url = palisade_alert::SecretString::new(url);
    palisade_alert::sink::Webhook::new(id.into(), &url, None, 2000, format).unwrap()
}

async fn queue(store: &Store, sink: &str, blocks: std::ops::RangeInclusive<u64>) {
    for n in blocks {
        let b = Batch {
            chain: "c".into(),
            findings: vec![finding("c", n)],
            sinks: vec![sink.to_string()],
            ..Default::default()
        };
        store.apply(&b).await.unwrap();
    }
}

/// Issue 13: a receiver's 4xx is not retried forever. A notification it refuses for what it is
/// (400) is parked and the queue goes on; a sink it refuses (403: a wrong URL or token) stops
/// after one attempt, its queue kept for a restart with a fixed config. 408 and 429 stay
/// retryable.
#[tokio::test]
async fn refusals_are_parked_or_stop_the_sink_never_retried_forever() {
    let dir = tempfile::tempdir().unwrap();
    let store =
        Store::open(&format!("sqlite://{}", dir.path().join("r.sqlite").display())).await.unwrap();
    let (url, seen) =
        receiver(|n| if n == 3 { (400, "invalid_payload") } else { (200, "ok") }).await;
    let sink = hook("hook", url, WebhookFormat::Palisade);
    let outbox = Outbox::new(store.clone(), vec![Arc::new(sink)]);
    queue(&store, "hook", 1..=5).await;
    assert_eq!(outbox.pass().await.unwrap(), 4);
    assert_eq!(*seen.lock().unwrap(), [1, 2, 3, 4, 5], "in order, 3 once, the rest went on");
    let parked = store.parked().await.unwrap();
    assert_eq!(parked.len(), 1);
    assert!(parked[0].3.contains("400") && parked[0].3.contains("invalid_payload"), "{parked:?}");
    assert_eq!(store.outbox_depth().await.unwrap(), 0);
    outbox.pass().await.unwrap();
    assert_eq!(seen.lock().unwrap().len(), 5, "a parked notification is not tried again");

    // A sink refused as a whole.
    let (url, seen) = receiver(|_| (403, "invalid_token")).await;
    let sink = hook("bad", url, WebhookFormat::Palisade);
    let outbox = Outbox::new(store.clone(), vec![Arc::new(sink)]);
    queue(&store, "bad", 10..=12).await;
    assert_eq!(outbox.pass().await.unwrap(), 0);
    tokio::time::sleep(Duration::from_millis(700)).await;
    outbox.pass().await.unwrap();
    assert_eq!(*seen.lock().unwrap(), [10], "one attempt, then the sink is stopped");
    assert_eq!(outbox.stopped_sinks(), ["bad"]);
    assert_eq!(store.outbox_depth().await.unwrap(), 3, "its queue is kept");

    // 429 (too many requests) is retried with backoff, not parked.
    let (url, seen) = receiver(|_| (429, "slow down")).await;
    let sink = hook("busy", url, WebhookFormat::Palisade);
    let outbox = Outbox::new(store.clone(), vec![Arc::new(sink)]);
    queue(&store, "busy", 20..=20).await;
    outbox.pass().await.unwrap();
    tokio::time::sleep(Duration::from_millis(600)).await;
    outbox.pass().await.unwrap();
    assert_eq!(*seen.lock().unwrap(), [20, 20], "tried again after its backoff");
    assert!(outbox.stopped_sinks().is_empty());
    assert_eq!(store.parked().await.unwrap().len(), 1, "only the 400 is parked");
}

/// Issue 13: the start-up check asks Slack whether the URL is a live hook without posting a
/// message (an empty one): a wrong URL or token fails the check with the service's words.
#[tokio::test]
async fn a_wrong_slack_url_fails_the_start_up_check() {
    let chat = |url: String| hook("slack", url, WebhookFormat::Slack);
    let (url, seen) = receiver(|_| (404, "no_service")).await;
    let e = chat(url).healthcheck().await.unwrap_err().to_string();
    assert!(e.contains("404") && e.contains("no_service"), "{e}");
    assert_eq!(*seen.lock().unwrap(), [0], "one empty message, no alert");
    let (url, _) = receiver(|_| (400, "no_text")).await;
    chat(url).healthcheck().await.unwrap();
}

/// Issue 13: PagerDuty Events API v2: an alert triggers with the alert key as `dedup_key`, its
/// retraction by a reorg resolves the same incident. The routing key is in the body, as
/// PagerDuty wants it.
#[tokio::test]
async fn pagerduty_triggers_and_resolves_by_dedup_key() {
    let dir = tempfile::tempdir().unwrap();
    let store =
        Store::open(&format!("sqlite://{}", dir.path().join("p.sqlite").display())).await.unwrap();
    let (url, _, bodies) = receiver_bodies(|_| (202, r#"{"status":"success"}"#)).await;
    let pd = palisade_alert::sink::Webhook::pagerduty(
        "pd".into(),
        &palisade_alert::SecretString::new(url),
        palisade_alert::SecretString::new("R0UTINGKEY"),
        2000,
    )
    .unwrap();
    let outbox = Outbox::new(store.clone(), vec![Arc::new(pd)]);
    let f = finding("c", 7);
    queue(&store, "pd", 7..=7).await;
    let r = Batch {
        chain: "c".into(),
        retracted: vec![f.anchor],
        sinks: vec!["pd".into()],
        ..Default::default()
    };
    store.apply(&r).await.unwrap();
    assert_eq!(outbox.pass().await.unwrap(), 2);
    let got = bodies.lock().unwrap().clone();
    assert_eq!(got.len(), 2);
    let key = f.key.to_string();
    assert_eq!(got[0]["event_action"], "trigger");
    assert_eq!(got[0]["routing_key"], "R0UTINGKEY");
    assert_eq!(got[0]["dedup_key"], key.as_str());
    assert_eq!(got[0]["payload"]["severity"], "error", "high is PagerDuty's error");
    assert_eq!(got[0]["payload"]["source"], "palisade/c");
    assert!(got[0]["payload"]["summary"].as_str().unwrap().contains("block 7"));
    assert_eq!(got[1]["event_action"], "resolve");
    assert_eq!(got[1]["dedup_key"], key.as_str());
}
