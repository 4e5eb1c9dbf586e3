//! The same store tests on SQLite and on PostgreSQL (PALISADE_TEST_POSTGRES_URL; required when
//! CI=true).

use palisade_alert::{AlertFilter, Batch, Store};
use palisade_primitives::{BlockRef, Finding, Severity, B256};

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
        let f1 = finding(&chain, 10, 1, "a", Severity::High);
        let f2 = finding(&chain, 11, 2, "b", Severity::Low);
        let batch = Batch {
            chain: chain.clone(),
            committed: vec![(f1.anchor, "{}".into()), (f2.anchor, "{}".into())],
            findings: vec![f1.clone(), f2.clone()],
            sinks: vec!["s1".into(), "s2".into()],
            ..Default::default()
        };
        assert_eq!(store.apply(&batch).await.unwrap(), 2, "{name}");
        // The same findings again (a restart replaying a block) store nothing new.
        let again = Batch {
            chain: chain.clone(),
            findings: vec![f1.clone()],
            sinks: vec!["s1".into()],
            ..Default::default()
        };
        assert_eq!(store.apply(&again).await.unwrap(), 0, "{name}");
        let due = store.due(i64::MAX, 100_000).await.unwrap();
        let mine: Vec<_> = due.iter().filter(|d| d.alert.finding.chain == chain).collect();
        assert_eq!(mine.len(), 4, "{name}: 2 alerts x 2 sinks");
        assert_eq!(
            mine[0].alert.finding, f1,
            "{name}: delivered in block order; round trip keeps the finding"
        );
        assert_eq!(mine[2].alert.finding, f2, "{name}: delivered in block order");

        // Deliver one; retract block 11: its alert becomes reorged and sinks get a resolve.
        store.delivered(&f1.key.to_string(), "s1", "alert").await.unwrap();
        let retract = Batch {
            chain: chain.clone(),
            retracted: vec![f2.anchor],
            sinks: vec!["s1".into(), "s2".into()],
            ..Default::default()
        };
        store.apply(&retract).await.unwrap();
        let a2 = store.get_alert(&f2.key.to_string()).await.unwrap();
        assert_eq!(a2.status, "reorged", "{name}");
        let due = store.due(i64::MAX, 100_000).await.unwrap();
        let resolves =
            due.iter().filter(|d| d.alert.finding.chain == chain && d.action == "resolve").count();
        assert_eq!(resolves, 2, "{name}");

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
        assert!(store.get_alert("zz").await.is_err(), "{name}");
        store.reset_chain(&chain).await.unwrap();
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
                .due(i64::MAX, 100_000)
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
        let mut r = palisade_alert::ResponseRow {
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
