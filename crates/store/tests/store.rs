//! The same store tests on SQLite and on PostgreSQL (PALISADE_TEST_POSTGRES_URL; required when
//! CI=true).

use palisade_primitives::{BlockRef, Finding, Severity, B256};
use palisade_store::{AlertFilter, Batch, Store};

fn finding(chain: &str, block: u64, h: u8, subject: &str, sev: Severity) -> Finding {
    Finding::new(
        "rule:t",
        "rule",
        chain,
        BlockRef::new(block, B256::repeat_byte(h)),
        subject,
        sev,
        format!("t {subject}"),
    )
    .with_evidence(serde_json::json!({"amount": "123456789012345678901234567890"}))
}

fn unique(prefix: &str) -> String {
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos()
    )
}

async fn stores() -> Vec<(String, Store, Option<tempfile::TempDir>)> {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("s.sqlite").display());
    let mut out = vec![("sqlite".to_string(), Store::open(&url).await.unwrap(), Some(dir))];
    match std::env::var("PALISADE_TEST_POSTGRES_URL") {
        Ok(pg) => {
            out.push(("postgres".into(), Store::open(&pg).await.expect("postgres store"), None))
        }
        Err(_) if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("CI=true but PALISADE_TEST_POSTGRES_URL is not set: PostgreSQL tests must run on CI")
        }
        Err(_) => eprintln!("PALISADE_TEST_POSTGRES_URL not set: PostgreSQL store tests skipped"),
    }
    out
}

#[tokio::test]
async fn alerts_dedupe_retract_and_ack() {
    for (name, store, _dir) in stores().await {
        let chain = unique("dedupe");
        let (s1, s2) = (format!("{chain}-s1"), format!("{chain}-s2"));
        let f1 = finding(&chain, 10, 1, "a", Severity::High);
        let f2 = finding(&chain, 11, 2, "b", Severity::Low);
        let batch = Batch {
            chain: chain.clone(),
            committed: vec![(f1.anchor, "{}".into()), (f2.anchor, "{}".into())],
            findings: vec![f1.clone(), f2.clone()],
            sinks: vec![s1.clone(), s2.clone()],
            ..Default::default()
        };
        assert_eq!(store.apply(&batch).await.unwrap(), 2, "{name}");
        // The same findings again (a restart replaying a block) store nothing new.
        let again = Batch {
            chain: chain.clone(),
            findings: vec![f1.clone()],
            sinks: vec![s1.clone()],
            ..Default::default()
        };
        assert_eq!(store.apply(&again).await.unwrap(), 0, "{name}");
        let due = store.due_for_sink(&s1, 100).await.unwrap();
        assert_eq!(due.len(), 2, "{name}: 2 alerts for s1");
        assert_eq!(
            due[0].alert.finding, f1,
            "{name}: delivered in block order; round trip keeps the finding"
        );
        assert_eq!(due[1].alert.finding, f2, "{name}: delivered in block order");
        assert_eq!(store.due_for_sink(&s2, 100).await.unwrap().len(), 2, "{name}");

        // Deliver one; retract block 11: its alert becomes reorged and sinks get a resolve.
        store.delivered(&due[0]).await.unwrap();
        let retract = Batch {
            chain: chain.clone(),
            retracted: vec![f2.anchor],
            sinks: vec![s1.clone(), s2.clone()],
            ..Default::default()
        };
        store.apply(&retract).await.unwrap();
        let a2 = store.get_alert(&f2.key.to_string()).await.unwrap();
        assert_eq!(a2.status, "reorged", "{name}");
        for s in [&s1, &s2] {
            let due = store.due_for_sink(s, 100).await.unwrap();
            let actions: Vec<_> = due.iter().map(|d| d.action.as_str()).collect();
            // The resolve never overtakes its own alert.
            assert_eq!(actions.last(), Some(&"resolve"), "{name}: {actions:?}");
            let alert_at =
                due.iter().position(|d| d.key == f2.key.to_string() && d.action == "alert");
            assert_eq!(alert_at.map(|i| i + 1), Some(due.len() - 1), "{name}: {actions:?}");
        }

        let list = store
            .list_alerts(&AlertFilter {
                chain: Some(chain.clone()),
                min_severity: Some(Severity::Medium),
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(list.len(), 1, "{name}");
        let acked = store.ack(&f1.key.to_string()[..10], "alice", Some("known")).await.unwrap();
        assert_eq!(acked.status, "acked", "{name}");
        assert_eq!(acked.acked_by.as_deref(), Some("alice"), "{name}");
        // A second ack without a note keeps the first note; both acks stay in the history.
        let again = store.ack(&f1.key.to_string(), "bob", None).await.unwrap();
        assert_eq!(again.acked_by.as_deref(), Some("bob"), "{name}");
        assert_eq!(again.ack_note.as_deref(), Some("known"), "{name}: the note survives");
        store.ack(&f1.key.to_string(), "carol", Some("fixed upstream")).await.unwrap();
        let notes = store.notes(&f1.key.to_string()).await.unwrap();
        let seen: Vec<(&str, Option<&str>)> =
            notes.iter().map(|n| (n.by.as_str(), n.note.as_deref())).collect();
        assert_eq!(
            seen,
            [("alice", Some("known")), ("bob", None), ("carol", Some("fixed upstream"))],
            "{name}"
        );
        assert!(notes.windows(2).all(|w| w[0].at_ms <= w[1].at_ms), "{name}");
        assert!(store.get_alert("zz").await.is_err(), "{name}");
        store.reset_chain(&chain).await.unwrap();
    }
}

/// Issue 11, defect 1: a reorg that returns to a block seen before (A -> B -> A) re-finds the
/// same finding (same key: same block hash). Its alert must reopen and be notified again, after
/// the resolve, under an idempotency key a deduplicating receiver still takes.
#[tokio::test]
async fn a_reorg_that_comes_back_reopens_the_alert_and_notifies_it_again() {
    for (name, store, _dir) in stores().await {
        let chain = unique("flipflop");
        let sink = format!("{chain}-hook");
        let f = finding(&chain, 20, 0xa, "x", Severity::Critical);
        let on_a = |findings: Vec<Finding>| Batch {
            chain: chain.clone(),
            findings,
            sinks: vec![sink.clone()],
            ..Default::default()
        };
        assert_eq!(store.apply(&on_a(vec![f.clone()])).await.unwrap(), 1, "{name}");
        let mut seen = Vec::new();
        for d in store.due_for_sink(&sink, 10).await.unwrap() {
            seen.push((d.action.clone(), d.revision));
            store.delivered(&d).await.unwrap();
        }
        // A -> B: the block of the finding leaves the chain.
        let to_b = Batch {
            chain: chain.clone(),
            retracted: vec![f.anchor],
            sinks: vec![sink.clone()],
            ..Default::default()
        };
        store.apply(&to_b).await.unwrap();
        assert_eq!(store.get_alert(&f.key.to_string()).await.unwrap().status, "reorged");
        // B -> A: the same block, the same finding again.
        assert_eq!(store.apply(&on_a(vec![f.clone()])).await.unwrap(), 1, "{name}: reopened");
        let a = store.get_alert(&f.key.to_string()).await.unwrap();
        assert_eq!((a.status.as_str(), a.revision), ("open", 1), "{name}");
        let due = store.due_for_sink(&sink, 10).await.unwrap();
        for d in &due {
            seen.push((d.action.clone(), d.revision));
        }
        assert_eq!(
            seen,
            vec![("alert".into(), 0), ("resolve".into(), 0), ("alert".into(), 1)],
            "{name}: a new notification, in order after the resolve"
        );
        // Stored again while open (a restart re-committing the block): nothing new.
        assert_eq!(store.apply(&on_a(vec![f.clone()])).await.unwrap(), 0, "{name}");
        // And it can flip again.
        for d in due {
            store.delivered(&d).await.unwrap();
        }
        store.apply(&to_b).await.unwrap();
        store.apply(&on_a(vec![f.clone()])).await.unwrap();
        let revs: Vec<_> = store
            .due_for_sink(&sink, 10)
            .await
            .unwrap()
            .iter()
            .map(|d| (d.action.clone(), d.revision))
            .collect();
        assert_eq!(revs, vec![("resolve".into(), 1), ("alert".into(), 2)], "{name}");
        store.reset_chain(&chain).await.unwrap();
    }
}

/// Issue 11, defect 2: a responder's rate limit lives in the store, so a restart (a new handle
/// on the same database) or another process is held to the same window.
#[tokio::test]
async fn action_rate_limits_survive_a_restart_and_are_shared() {
    use palisade_store::Reservation::{Duplicate, Granted, RateLimited};
    for (name, store, dir) in stores().await {
        let responder = unique(&format!("pause-{name}"));
        let now = 1_000_000_i64;
        let hour = 3_600_000;
        for i in 0..3 {
            let r = store.reserve_action(&responder, &format!("f{i}"), 3, hour, now + i).await;
            assert_eq!(r.unwrap(), Granted, "{name}: action {i}");
        }
        assert_eq!(
            store.reserve_action(&responder, "f1", 3, hour, now + 5).await.unwrap(),
            Duplicate
        );
        assert_eq!(
            store.reserve_action(&responder, "f3", 3, hour, now + 5).await.unwrap(),
            RateLimited
        );
        // "Restart": a fresh handle on the same database.
        let again = match &dir {
            Some(d) => Store::open(&format!("sqlite://{}", d.path().join("s.sqlite").display()))
                .await
                .unwrap(),
            None => {
                Store::open(&std::env::var("PALISADE_TEST_POSTGRES_URL").unwrap()).await.unwrap()
            }
        };
        assert_eq!(
            again.reserve_action(&responder, "f4", 3, hour, now + 47_000).await.unwrap(),
            RateLimited,
            "{name}: the window survived the restart"
        );
        // Concurrent reservations from several handles never exceed the limit.
        let other = unique(&format!("hook-{name}"));
        let tries = (0..10).map(|i| {
            let (s, other) =
                (if i % 2 == 0 { store.clone() } else { again.clone() }, other.clone());
            async move { s.reserve_action(&other, &format!("g{i}"), 5, hour, now).await.unwrap() }
        });
        let got = futures::future::join_all(tries).await;
        assert_eq!(got.iter().filter(|r| **r == Granted).count(), 5, "{name}: {got:?}");
        // Once the window has passed, the responder may act again.
        assert_eq!(
            again.reserve_action(&responder, "f5", 3, hour, now + hour + 3).await.unwrap(),
            Granted,
            "{name}"
        );
    }
}

#[tokio::test]
async fn window_checkpoints_log_and_confirmations() {
    for (name, store, _dir) in stores().await {
        let chain = unique("window");
        let b = |n: u64, h: u8| BlockRef::new(n, B256::repeat_byte(h));
        store
            .apply(&Batch {
                chain: chain.clone(),
                committed: vec![
                    (b(1, 1), "l1".into()),
                    (b(2, 2), "l2".into()),
                    (b(3, 3), "l3".into()),
                ],
                checkpoints: vec![("chain_health".into(), "{\"x\":1}".into())],
                findings: vec![finding(&chain, 3, 3, "p", Severity::High)],
                sinks: vec!["s".into()],
                confirmed_upto: Some(1),
                ..Default::default()
            })
            .await
            .unwrap();
        let pending = store
            .list_alerts(&AlertFilter { chain: Some(chain.clone()), ..Default::default() })
            .await
            .unwrap();
        assert_eq!(pending[0].status, "pending", "{name}: not enough confirmations yet");
        assert!(
            store
                .due_for_sink("s", 100_000)
                .await
                .unwrap()
                .iter()
                .all(|d| d.alert.finding.chain != chain),
            "{name}"
        );
        store
            .apply(&Batch {
                chain: chain.clone(),
                reverted: vec![b(3, 3)],
                committed: vec![(b(3, 0x33), "l3'".into())],
                prune_below: Some(2),
                checkpoints: vec![("chain_health".into(), "{\"x\":2}".into())],
                sinks: vec!["s".into()],
                confirmed_upto: Some(3),
                ..Default::default()
            })
            .await
            .unwrap();
        let st = store.load_chain(&chain).await.unwrap();
        let nums: Vec<_> = st.blocks.iter().map(|b| (b.0, b.2.clone())).collect();
        assert_eq!(nums, vec![(2, "l2".to_string()), (3, "l3'".to_string())], "{name}");
        assert_eq!(
            st.checkpoints,
            vec![("chain_health".to_string(), "{\"x\":2}".to_string())],
            "{name}"
        );
        let log = store.block_log(&chain).await.unwrap();
        let acts: Vec<_> = log.iter().map(|l| (l.action.as_str(), l.number)).collect();
        assert_eq!(
            acts,
            vec![("commit", 1), ("commit", 2), ("commit", 3), ("revert", 3), ("commit", 3)],
            "{name}"
        );
        store.reset_chain(&chain).await.unwrap();
    }
}

#[tokio::test]
async fn responses_are_recorded_then_updated_with_their_outcome() {
    for (name, s, _dir) in stores().await {
        let id = format!("{}/abc", unique(&format!("pause-{name}")));
        let mut r = palisade_store::ResponseRow {
            id: id.clone(),
            responder: "pause".into(),
            kind: "pause_tx".into(),
            chain: "eth".into(),
            alert_key: "abc".into(),
            stage: "pending".into(),
            dry_run: false,
            outcome: "sent".into(),
            detail: r#"{"tx_hash":"0x01"}"#.into(),
            error: None,
            created_ms: 1_000,
            updated_ms: 1_000,
        };
        s.record_response(&r).await.unwrap();
        r.outcome = "mined".into();
        r.detail = r#"{"tx_hash":"0x01","block_number":7}"#.into();
        r.updated_ms = 2_000;
        s.record_response(&r).await.unwrap();
        let rows = s.list_responses(1000).await.unwrap();
        let got: Vec<_> = rows.iter().filter(|x| x.id == id).collect();
        assert_eq!(got.len(), 1, "{name}: one row per response");
        assert_eq!(got[0].outcome, "mined", "{name}");
        assert_eq!((got[0].created_ms, got[0].updated_ms), (1_000, 2_000), "{name}");
        assert!(got[0].detail.contains("block_number"), "{name}");
        assert!(!got[0].dry_run, "{name}");
        assert!(s.response_exists(&id).await.unwrap(), "{name}");
        assert!(!s.response_exists(&format!("{id}-other")).await.unwrap(), "{name}");
    }
}

/// Issue 13: findings go to the sinks of the routes they match (else the default route), also
/// when they become due after their confirmations; a retraction's resolve goes to the sinks
/// that were told of the alert, and only to them.
#[tokio::test]
async fn routes_pick_the_sinks_and_resolves_follow_the_alert() {
    use palisade_store::Route;
    for (name, store, _dir) in stores().await {
        let chain = unique("routes");
        let (page, chat, log) =
            (format!("{chain}-page"), format!("{chain}-chat"), format!("{chain}-log"));
        let routes = vec![Route {
            min_severity: Some(Severity::Critical),
            sinks: vec![page.clone(), chat.clone()],
            ..Default::default()
        }];
        let crit = finding(&chain, 10, 1, "a", Severity::Critical);
        let low = finding(&chain, 10, 1, "b", Severity::Low);
        let late = finding(&chain, 12, 3, "c", Severity::Critical);
        let batch = Batch {
            chain: chain.clone(),
            findings: vec![crit.clone(), low.clone(), late.clone()],
            sinks: vec![log.clone()],
            routes: routes.clone(),
            confirmed_upto: Some(11),
            ..Default::default()
        };
        store.apply(&batch).await.unwrap();
        let keys = |sink: String| {
            let store = store.clone();
            async move {
                let mut k: Vec<(String, String)> = store
                    .due_for_sink(&sink, 100)
                    .await
                    .unwrap()
                    .into_iter()
                    .map(|d| (d.key, d.action))
                    .collect();
                k.sort();
                k
            }
        };
        let (c, l) = (crit.key.to_string(), low.key.to_string());
        assert_eq!(keys(page.clone()).await, [(c.clone(), "alert".to_string())], "{name}");
        assert_eq!(keys(chat.clone()).await, [(c.clone(), "alert".to_string())], "{name}");
        assert_eq!(keys(log.clone()).await, [(l.clone(), "alert".to_string())], "{name}");
        // The pending critical one, confirmed later, is routed too.
        let confirm = Batch {
            chain: chain.clone(),
            sinks: vec![log.clone()],
            routes: routes.clone(),
            confirmed_upto: Some(12),
            ..Default::default()
        };
        store.apply(&confirm).await.unwrap();
        assert_eq!(keys(page.clone()).await.len(), 2, "{name}");
        assert_eq!(keys(log.clone()).await.len(), 1, "{name}");
        // Block 10 reorged out: each resolve goes where its alert went.
        let retract = Batch {
            chain: chain.clone(),
            retracted: vec![crit.anchor],
            sinks: vec![log.clone()],
            routes,
            ..Default::default()
        };
        store.apply(&retract).await.unwrap();
        let page_keys = keys(page.clone()).await;
        assert!(page_keys.contains(&(c.clone(), "resolve".to_string())), "{name}: {page_keys:?}");
        assert!(!page_keys.iter().any(|(k, _)| *k == l), "{name}");
        let log_keys = keys(log.clone()).await;
        assert!(log_keys.contains(&(l.clone(), "resolve".to_string())), "{name}: {log_keys:?}");
        assert!(!log_keys.iter().any(|(k, _)| *k == c), "{name}");
        store.reset_chain(&chain).await.unwrap();
    }
}

#[tokio::test]
async fn operators_ack_resolve_silence_and_live_views_see_each_change() {
    use palisade_store::OperatorAction;
    for (name, store, _dir) in stores().await {
        let chain = unique("operate");
        let sink = format!("{chain}-sink");
        let f = finding(&chain, 20, 7, "op", Severity::Critical);
        let g = finding(&chain, 21, 8, "quiet", Severity::Critical);
        let mut changes = store.changes();
        let before = palisade_store::now_ms() - 1;
        store
            .apply(&Batch {
                chain: chain.clone(),
                findings: vec![f.clone()],
                sinks: vec![sink.clone()],
                ..Default::default()
            })
            .await
            .unwrap();
        assert!(changes.has_changed().unwrap(), "{name}: a stored alert signals live views");
        changes.borrow_and_update();
        let key = f.key.to_string();
        let seen = store.changed_after(before, "", 1000).await.unwrap();
        assert!(seen.iter().any(|a| a.finding.key == f.key), "{name}");
        let a = store.act(&key, "alice", OperatorAction::Ack, Some("on it")).await.unwrap();
        assert_eq!(a.status, "acked", "{name}");
        assert!(changes.has_changed().unwrap(), "{name}: an ack signals live views");
        let a = store.act(&key, "bob", OperatorAction::Resolve, None).await.unwrap();
        assert_eq!(
            (a.status.as_str(), a.ack_note.as_deref()),
            ("resolved", Some("on it")),
            "{name}"
        );
        let n: Vec<_> =
            store.notes(&key).await.unwrap().into_iter().map(|n| (n.by, n.action)).collect();
        assert_eq!(
            n,
            vec![("alice".into(), "ack".into()), ("bob".into(), "resolve".into())],
            "{name}"
        );
        let d: Vec<_> =
            store.deliveries(&key).await.unwrap().into_iter().map(|d| d.action).collect();
        assert_eq!(d, vec!["alert", "ack", "close"], "{name}");
        // A silenced alert's notification waits: the sink's queue shows nothing of it.
        let until = palisade_store::now_ms() + 3_600_000;
        store
            .apply(&Batch {
                chain: chain.clone(),
                findings: vec![g.clone()],
                sinks: vec![],
                ..Default::default()
            })
            .await
            .unwrap();
        let quiet = g.key.to_string();
        store
            .act(&quiet, "alice", OperatorAction::Silence { until_ms: until }, None)
            .await
            .unwrap();
        let silenced = store.get_alert(&quiet).await.unwrap();
        assert_eq!(silenced.silenced_until_ms, Some(until), "{name}");
        assert_eq!(silenced.status, "open", "{name}: a silence does not change the status");
        // Cursor paging of the listing never repeats or skips.
        let all = store
            .list_alerts(&AlertFilter { chain: Some(chain.clone()), ..Default::default() })
            .await
            .unwrap();
        let first = store
            .list_alerts(&AlertFilter {
                chain: Some(chain.clone()),
                limit: Some(1),
                ..Default::default()
            })
            .await
            .unwrap();
        let rest = store
            .list_alerts(&AlertFilter {
                chain: Some(chain.clone()),
                after: Some(palisade_store::AlertCursor::after(&first[0])),
                ..Default::default()
            })
            .await
            .unwrap();
        let paged: Vec<_> = first.iter().chain(rest.iter()).map(|a| a.finding.key).collect();
        assert_eq!(paged, all.iter().map(|a| a.finding.key).collect::<Vec<_>>(), "{name}");
    }
}
