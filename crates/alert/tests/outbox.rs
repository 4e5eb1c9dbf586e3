//! The outbox after a sink outage (issue 11, defect 5): once the sink answers again its backlog
//! is drained at once, in block order, and a resolve never overtakes its own alert.

use futures::future::BoxFuture;
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
