//! Several processes, one truth (issue 12): `palisade run` members sharing the work through the
//! machine's NATS JetStream and PostgreSQL, on real anvils. Each chain has one owner; owners
//! killed at random moments while blocks are mined and reorged are taken over with no block
//! missed or doubled and every alert delivered; a paused owner's late writes are refused; two
//! deliverers deliver each notification once; a replay split over workers and over processes
//! gives the findings of a sequential one; NATS and PostgreSQL going away are survived.
//!
//! They need PostgreSQL (`PALISADE_TEST_POSTGRES_URL`) and NATS with JetStream
//! (`PALISADE_TEST_NATS_URL`, default `nats://127.0.0.1:4222`); on CI (`CI=true`) they run.

mod common;

use common::cluster::*;
use common::*;
use palisade_store::Store;
use palisade_testing::anvil::{
    artifact_bytecode, calldata, free_port, Anvil, ACCOUNT0, ACCOUNT1, ACCOUNT2,
};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const POKE: &str = "[[detectors]]\ntype = 'rule'\nname = 'poke'\nseverity = 'low'\nevents = [{ signature = 'Poked(address indexed by, uint256 value)' }]\n";

fn poke(v: u64) -> String {
    calldata("poke(uint256)", &[&format!("{v:x}")])
}

fn hook(port: u16, path: &str, name: &str) -> String {
    format!("[[sinks]]\ntype = 'webhook'\nname = '{name}'\nurl = 'http://127.0.0.1:{port}/{path}'\nsecret = {{ env = 'PALISADE_TEST_WEBHOOK_SECRET' }}\n")
}

/// The member that owns `chain`, as any live member's API says.
async fn owner_of(members: &mut [Member], chain: &str) -> Option<String> {
    for m in members.iter_mut() {
        if !m.alive() {
            continue;
        }
        if let Some(h) = m.health().await {
            if let Some(o) = h["cluster"]["leases"][chain]["owner"].as_str() {
                return Some(o.to_string());
            }
        }
    }
    None
}

/// Waits until the stored processed chain of `chain` is `anvil`'s canonical chain up to its head.
async fn synced(store: &Store, chain: &str, anvil: &Anvil, secs: u64) {
    synced_or(store, chain, anvil, secs, &[]).await
}

/// [`synced`], showing `members`' logs when it times out.
async fn synced_or(store: &Store, chain: &str, anvil: &Anvil, secs: u64, members: &[&Member]) {
    let head = anvil.block_number().await;
    let hash = anvil.block_hash(head).await;
    let t = Instant::now();
    loop {
        let tip = tip_of(&store.block_log(chain).await.unwrap_or_default());
        if tip.last().map(|b| (b.0, b.1.as_str())) == Some((head, hash.as_str())) {
            return;
        }
        if t.elapsed() > Duration::from_secs(secs) {
            for m in members {
                eprintln!("---- {} ----\n{}", m.name, m.log());
            }
            panic!("{chain} did not reach {head} {hash}; tip {:?}", tip.last());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The processed chain equals the canonical chain, every height from 1 to the head once.
async fn exactly_canonical(store: &Store, chain: &str, anvil: &Anvil) {
    let tip = tip_of(&store.block_log(chain).await.unwrap());
    let head = anvil.block_number().await;
    let heights: Vec<u64> = tip.iter().map(|b| b.0).collect();
    assert_eq!(heights, (1..=head).collect::<Vec<_>>(), "{chain}: a gap or a doubled height");
    for (n, h) in tip.iter().rev().take(40) {
        assert_eq!(*h, anvil.block_hash(*n).await, "{chain}: block {n} is not canonical");
    }
}

/// Finding keys of a sequential replay of `anvil`'s canonical blocks 1..=head as `chain`.
async fn replay_keys(dir: &Path, chain: &str, anvil: &Anvil) -> BTreeSet<String> {
    let head = anvil.block_number().await;
    let file = dir.join(format!("canonical-{chain}.jsonl"));
    let st = Command::new(BIN)
        .args([
            "record",
            "--rpc",
            &anvil.http_url(),
            "--from",
            "1",
            "--to",
            &head.to_string(),
            "-o",
        ])
        .arg(&file)
        .status()
        .unwrap();
    assert!(st.success());
    let cfg = dir.join("replay.toml");
    std::fs::write(&cfg, POKE).unwrap();
    let out = Command::new(BIN)
        .args([
            "replay",
            file.to_str().unwrap(),
            "--config",
            cfg.to_str().unwrap(),
            "--chain",
            chain,
            "--json",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap()["key"].as_str().unwrap().to_string())
        .collect()
}

/// Open (not reorged) alerts of rule `poke` on `chain`, by key.
async fn open_pokes(store: &Store, chain: &str) -> BTreeSet<String> {
    store
        .list_alerts(&palisade_store::AlertFilter {
            chain: Some(chain.into()),
            detector: Some("rule:poke".into()),
            limit: Some(100_000),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_iter()
        .filter(|a| a.status != "reorged")
        .map(|a| a.finding.key.to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn owners_killed_at_random_are_taken_over_with_nothing_missed_or_doubled() {
    let Some((pg, nats)) = services().await else { return };
    let db = fresh_db(&pg).await;
    let prefix = prefix();
    let (a1, a2) = (Anvil::start(&[]).await, Anvil::start(&[]).await);
    let v1 = a1.deploy(ACCOUNT0, &artifact_bytecode("Vault")).await;
    let v2 = a2.deploy(ACCOUNT0, &artifact_bytecode("Vault")).await;
    assert_eq!(v1, v2, "the same deployer and nonce give the same address");
    let port = free_port();
    let rx = Receiver::new(port);
    rx.up().await;
    let dir = tempfile::tempdir().unwrap();
    let chains = chains_toml(&[("one", &a1), ("two", &a2)]);
    let body = format!("{POKE}\n{}", hook(port, "hook", "webhook"));
    let all = ["owner", "deliverer", "responder", "api"];
    let mut members: Vec<Member> = ["a", "b", "c"]
        .iter()
        .map(|n| Member::new(dir.path(), n, &all, &db, &nats, &prefix, &chains, &body))
        .collect();
    let store = wait_for(30, "the store", || async { Store::open(&db).await.ok() }).await;
    synced(&store, "one", &a1, 60).await;
    synced(&store, "two", &a2, 60).await;
    // Each chain has exactly one owner (as the members themselves say, and as the lease says).
    for chain in ["one", "two"] {
        let owners = wait_for(20, "one owner per chain", || async {
            let mut s = BTreeSet::new();
            for m in &members {
                let h = m.health().await?;
                for mm in h["cluster"]["members"].as_array()? {
                    if mm["owns"].as_array()?.iter().any(|c| c == chain) {
                        s.insert(mm["node_id"].as_str()?.to_string());
                    }
                }
            }
            (s.len() == 1).then_some(s)
        })
        .await;
        let lease = owner_of(&mut members, chain).await;
        assert_eq!(lease.as_ref(), owners.iter().next(), "{chain}");
    }
    // Chaos: blocks with pokes on both chains, reorgs of depth 1-10, and the owner of a chain
    // killed with SIGKILL 20 times at random moments (restarted a little later).
    let mut rng = palisade_testing::conformance::Lcg::new(0xC1A5);
    let mut kills = 0u64;
    let mut value = 0u64;
    let mut dead: Vec<(usize, Instant)> = Vec::new();
    let t0 = Instant::now();
    while kills < 20 {
        for (anvil, vault) in [(&a1, &v1), (&a2, &v2)] {
            value += 1;
            anvil.send(ACCOUNT1, Some(vault), &poke(value), 0).await;
            if rng.below(6) == 0 {
                let depth = 1 + rng.below(10);
                if anvil.block_number().await > depth + 2 {
                    value += 1;
                    let tx = json!({"from": ACCOUNT2, "to": vault, "data": poke(100_000 + value), "gas": "0x100000"});
                    anvil.rpc("anvil_reorg", json!([depth, [[tx, 0]]])).await;
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(rng.below(400))).await;
        // Restart members killed more than a lease ago.
        for (i, at) in std::mem::take(&mut dead) {
            if at.elapsed() > Duration::from_millis(TTL_MS) {
                members[i].start();
            } else {
                dead.push((i, at));
            }
        }
        if rng.below(2) == 0 {
            let chain = if rng.below(2) == 0 { "one" } else { "two" };
            if let Some(o) = owner_of(&mut members, chain).await {
                let i = members.iter().position(|m| m.name == o).unwrap();
                if members[i].alive() {
                    members[i].kill9();
                    dead.push((i, Instant::now()));
                    kills += 1;
                }
            }
        }
        assert!(t0.elapsed() < Duration::from_secs(600), "chaos took too long");
    }
    for (i, _) in dead {
        members[i].start();
    }
    synced(&store, "one", &a1, 90).await;
    synced(&store, "two", &a2, 90).await;
    for (chain, anvil) in [("one", &a1), ("two", &a2)] {
        exactly_canonical(&store, chain, anvil).await;
        let live = open_pokes(&store, chain).await;
        let replayed = replay_keys(dir.path(), chain, anvil).await;
        assert_eq!(
            live, replayed,
            "{chain}: the cluster's findings differ from a single process over the final chain"
        );
    }
    // Every alert reaches the receiver; duplicates only where a kill interrupted a delivery.
    wait_for(60, "the outbox drained", || async {
        (store.outbox_depth().await.ok()? == 0).then_some(())
    })
    .await;
    let got = rx.received();
    let mut last: BTreeMap<String, String> = BTreeMap::new();
    let mut seen: BTreeMap<String, u64> = BTreeMap::new();
    for r in &got {
        let key = r.body["key"].as_str().unwrap().to_string();
        last.insert(key, r.body["action"].as_str().unwrap().to_string());
        *seen.entry(r.header("idempotency-key").unwrap().to_string()).or_default() += 1;
    }
    for chain in ["one", "two"] {
        for k in open_pokes(&store, chain).await {
            assert_eq!(
                last.get(&k).map(String::as_str),
                Some("alert"),
                "{chain}: alert {k} never reached the receiver (or its last word was a resolve)"
            );
        }
    }
    let dups: u64 = seen.values().map(|n| n - 1).sum();
    eprintln!("{kills} kills; {} notifications received, {dups} duplicates", got.len());
    assert!(dups <= kills, "{dups} duplicate deliveries for {kills} kills");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_paused_owner_past_its_lease_is_fenced_off_and_stops_owning() {
    let Some((pg, nats)) = services().await else { return };
    let db = fresh_db(&pg).await;
    let prefix = prefix();
    let anvil = Anvil::start(&[]).await;
    let vault = anvil.deploy(ACCOUNT0, &artifact_bytecode("Vault")).await;
    let port = free_port();
    let rx = Receiver::new(port);
    rx.up().await;
    let dir = tempfile::tempdir().unwrap();
    let chains = chains_toml(&[("one", &anvil)]);
    let body = format!("{POKE}\n{}", hook(port, "hook", "webhook"));
    let all = ["owner", "deliverer", "responder", "api"];
    let mut members: Vec<Member> = ["a", "b"]
        .iter()
        .map(|n| Member::new(dir.path(), n, &all, &db, &nats, &prefix, &chains, &body))
        .collect();
    let store = wait_for(30, "the store", || async { Store::open(&db).await.ok() }).await;
    synced(&store, "one", &anvil, 60).await;
    let owner = owner_of(&mut members, "one").await.unwrap();
    let i = members.iter().position(|m| m.name == owner).unwrap();
    members[i].signal("-STOP");
    for v in 0..10 {
        anvil.send(ACCOUNT1, Some(&vault), &poke(v), 0).await;
        tokio::time::sleep(Duration::from_millis(TTL_MS / 2)).await;
    }
    let other = &members[1 - i];
    let took = wait_for(20, "the standby taking over", || async {
        let h = other.health().await?;
        (h["cluster"]["leases"]["one"]["owner"] == other.name.as_str()).then_some(())
    });
    took.await;
    synced(&store, "one", &anvil, 30).await;
    members[i].signal("-CONT");
    for v in 10..14 {
        anvil.send(ACCOUNT1, Some(&vault), &poke(v), 0).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let paused = &members[i];
    wait_for(20, "the paused owner noticing it lost the chain", || async {
        let log = paused.log();
        [
            "The lease moved to another member",
            "lease expired",
            "write refused",
            "no longer owned",
            "Cannot renew the lease",
        ]
        .iter()
        .any(|m| log.contains(m))
        .then_some(())
    })
    .await;
    synced(&store, "one", &anvil, 30).await;
    exactly_canonical(&store, "one", &anvil).await;
    let owner_now = owner_of(&mut members, "one").await.unwrap();
    let fences = store.fences().await.unwrap();
    let (_, _, holder, _) = fences.iter().find(|f| f.0 == "one").unwrap();
    assert_eq!(*holder, owner_now, "the newest token is the current owner's");
    assert_eq!(open_pokes(&store, "one").await, replay_keys(dir.path(), "one", &anvil).await);
    wait_for(30, "the outbox drained", || async {
        (store.outbox_depth().await.ok()? == 0).then_some(())
    })
    .await;
    let mut seen = BTreeMap::new();
    for r in rx.received() {
        *seen.entry(r.header("idempotency-key").unwrap().to_string()).or_insert(0) += 1;
    }
    assert!(seen.values().all(|n| *n == 1), "nothing doubled: {seen:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn two_deliverers_deliver_each_notification_once() {
    let Some((pg, nats)) = services().await else { return };
    let db = fresh_db(&pg).await;
    let prefix = prefix();
    let anvil = Anvil::start(&[]).await;
    let vault = anvil.deploy(ACCOUNT0, &artifact_bytecode("Vault")).await;
    let port = free_port();
    let rx = Receiver::new(port);
    rx.up().await;
    let dir = tempfile::tempdir().unwrap();
    let chains = chains_toml(&[("one", &anvil)]);
    let body = format!("{POKE}\n{}\n{}", hook(port, "a", "hook-a"), hook(port, "b", "hook-b"));
    let _owner =
        Member::new(dir.path(), "o", &["owner", "api"], &db, &nats, &prefix, &chains, &body);
    let _d1 = Member::new(dir.path(), "d1", &["deliverer"], &db, &nats, &prefix, &chains, &body);
    let _d2 = Member::new(dir.path(), "d2", &["deliverer"], &db, &nats, &prefix, &chains, &body);
    let store = wait_for(30, "the store", || async { Store::open(&db).await.ok() }).await;
    synced(&store, "one", &anvil, 60).await;
    for v in 0..30 {
        anvil.send(ACCOUNT1, Some(&vault), &poke(v), 0).await;
    }
    synced(&store, "one", &anvil, 30).await;
    let want = open_pokes(&store, "one").await.len() * 2;
    assert!(want >= 60);
    let got = wait_for(60, "every notification", || async {
        let got = rx.received();
        (got.len() >= want).then_some(got)
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let got = rx.received().len().max(got.len());
    assert_eq!(got, want, "each notification once, by one deliverer");
    let claims = [&_d1, &_d2].iter().filter(|d| d.log().contains("Delivery failed")).count();
    assert_eq!(claims, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_replay_split_over_workers_and_processes_finds_what_a_sequential_one_does() {
    let Some((pg, nats)) = services().await else { return };
    let db = fresh_db(&pg).await;
    let prefix = prefix();
    let dir = tempfile::tempdir().unwrap();
    let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/mainnet/mev-inspect-20.jsonl.zst");
    let detectors = "[[detectors]]\ntype = 'chain_health'\nexpected_block_time_secs = 12\nwindow = 4\n[[detectors]]\ntype = 'sandwich'\n[[detectors]]\ntype = 'rule'\nname = 'weth'\naddresses = ['0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2']\nevents = [{ signature = 'Transfer(address indexed src, address indexed dst, uint256 wad)', expression = 'wad >= 1_000000000000000000' }]\n";
    // A second process of the cluster (it works ranges alongside the one replaying).
    let anvil = Anvil::start(&[]).await;
    let chains = chains_toml(&[("mainnet", &anvil)]);
    let worker = Member::new(dir.path(), "w", &["owner"], &db, &nats, &prefix, &chains, detectors);
    let cfg = dir.path().join("replay.toml");
    std::fs::write(
        &cfg,
        format!("[store]\nurl = '{db}'\n[cluster]\nnats_url = '{nats}'\nnode_id = 'coordinator'\nprefix = '{prefix}'\n{chains}\n{detectors}"),
    )
    .unwrap();
    let keys = |extra: &[&str]| -> BTreeSet<String> {
        let out = Command::new(BIN)
            .args(["replay", file.to_str().unwrap(), "--config", cfg.to_str().unwrap(), "--json"])
            .args(extra)
            .output()
            .unwrap();
        assert!(out.status.success(), "{extra:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap()["key"].as_str().unwrap().to_string())
            .collect()
    };
    let sequential = keys(&["--workers", "1"]);
    assert!(sequential.len() >= 5, "the bundled blocks have findings: {sequential:?}");
    assert_eq!(keys(&["--workers", "2"]), sequential, "2 workers");
    wait_for(30, "the worker in the cluster", || async {
        worker.log().contains("Joining the cluster").then_some(())
    })
    .await;
    assert_eq!(keys(&["--cluster", "--range-lines", "3"]), sequential, "split over the cluster");
}

#[tokio::test(flavor = "multi_thread")]
async fn nats_and_postgres_going_away_lose_nothing() {
    let Some((pg, nats)) = services().await else { return };
    // NATS down at start: a clear message.
    let dir = tempfile::tempdir().unwrap();
    let anvil = Anvil::start(&[]).await;
    let vault = anvil.deploy(ACCOUNT0, &artifact_bytecode("Vault")).await;
    let db = fresh_db(&pg).await;
    let chains = chains_toml(&[("one", &anvil)]);
    let dead = free_port();
    let cfg = dir.path().join("down.toml");
    std::fs::write(
        &cfg,
        format!("[store]\nurl = '{db}'\n[api]\nlisten = ''\n[cluster]\nnats_url = 'nats://127.0.0.1:{dead}'\nnode_id = 'x'\n{chains}\n{POKE}"),
    )
    .unwrap();
    let out = Command::new(BIN).args(["run", "--config", cfg.to_str().unwrap()]).output().unwrap();
    assert!(!out.status.success());
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(e.contains(&format!("cannot reach NATS at 127.0.0.1:{dead}")), "{e}");
    // NATS and PostgreSQL behind switches.
    let nats_switch = Switch::start(nats.trim_start_matches("nats://")).await;
    let pg_host = pg.split_once("@").map(|(_, r)| r).unwrap().split('/').next().unwrap();
    let pg_switch = Switch::start(pg_host).await;
    let db_name = db.rsplit('/').next().unwrap();
    let user = pg.trim_start_matches("postgres://").split('@').next().unwrap();
    let db_via = format!("postgres://{user}@127.0.0.1:{}/{db_name}", pg_switch.port);
    let prefix = prefix();
    let port = free_port();
    let rx = Receiver::new(port);
    rx.up().await;
    let body = format!("{POKE}\n{}", hook(port, "hook", "webhook"));
    let nats_via = format!("nats://127.0.0.1:{}", nats_switch.port);
    let all = ["owner", "deliverer", "responder", "api"];
    let mut m = Member::new(dir.path(), "a", &all, &db_via, &nats_via, &prefix, &chains, &body);
    let store = wait_for(30, "the store", || async { Store::open(&db).await.ok() }).await;
    synced(&store, "one", &anvil, 60).await;
    // NATS lost mid-run: the owner stops writing once its lease can no longer be renewed.
    nats_switch.off();
    for v in 0..5 {
        anvil.send(ACCOUNT1, Some(&vault), &poke(v), 0).await;
        tokio::time::sleep(Duration::from_millis(TTL_MS / 2)).await;
    }
    wait_for(20, "the owner stopping", || async {
        m.log().contains("Cannot renew the lease").then_some(())
    })
    .await;
    let log_len = store.block_log("one").await.unwrap().len();
    tokio::time::sleep(Duration::from_millis(TTL_MS)).await;
    anvil.send(ACCOUNT1, Some(&vault), &poke(5), 0).await;
    tokio::time::sleep(Duration::from_millis(TTL_MS)).await;
    assert_eq!(store.block_log("one").await.unwrap().len(), log_len, "no writes without a lease");
    nats_switch.on();
    synced_or(&store, "one", &anvil, 60, &[&m]).await;
    // PostgreSQL away for three seconds while blocks come.
    pg_switch.off();
    for v in 6..10 {
        anvil.send(ACCOUNT1, Some(&vault), &poke(v), 0).await;
        tokio::time::sleep(Duration::from_millis(700)).await;
    }
    pg_switch.on();
    if !m.alive() {
        // A store that stayed down stops the process; a restart resumes from the store.
        m.start();
    }
    synced(&store, "one", &anvil, 60).await;
    exactly_canonical(&store, "one", &anvil).await;
    assert_eq!(open_pokes(&store, "one").await, replay_keys(dir.path(), "one", &anvil).await);
    wait_for(60, "the outbox drained", || async {
        (store.outbox_depth().await.ok()? == 0).then_some(())
    })
    .await;
    let delivered: BTreeSet<String> = rx
        .received()
        .iter()
        .filter(|r| r.body["action"] == "alert")
        .map(|r| r.body["key"].as_str().unwrap().to_string())
        .collect();
    assert!(open_pokes(&store, "one").await.is_subset(&delivered), "every alert delivered");
}

/// Issue 13: a member with only the `api` role shows what the owners store: its alerts listing
/// reads the shared store, its live view hears a poke stored by another process, and an ack
/// made there is what the owner's store holds.
#[tokio::test(flavor = "multi_thread")]
async fn an_api_member_shows_live_what_owners_store() {
    let Some((pg, nats)) = services().await else { return };
    let db = fresh_db(&pg).await;
    let prefix = prefix();
    let anvil = Anvil::start(&[]).await;
    let vault = anvil.deploy(ACCOUNT0, &artifact_bytecode("Vault")).await;
    let dir = tempfile::tempdir().unwrap();
    let chains = chains_toml(&[("one", &anvil)]);
    let token = "cluster-api-operate-token-01";
    let body =
        format!("{POKE}\n[[api.tokens]]\nname = 'oncall'\nscope = 'operate'\ntoken = '{token}'\n");
    let _owner =
        Member::new(dir.path(), "o", &["owner", "deliverer"], &db, &nats, &prefix, &chains, &body);
    let api = Member::new(dir.path(), "a", &["api"], &db, &nats, &prefix, &chains, &body);
    let store = wait_for(30, "the store", || async { Store::open(&db).await.ok() }).await;
    synced(&store, "one", &anvil, 60).await;
    let base = format!("http://127.0.0.1:{}", api.api);
    let http = reqwest::Client::new();
    let mut events = wait_for(30, "the API member", || async {
        http.get(format!("{base}/api/v1/events"))
            .send()
            .await
            .ok()
            .filter(|r| r.status().is_success())
    })
    .await;
    let tx = anvil.send(ACCOUNT1, Some(&vault), &poke(42), 0).await;
    let mut text = String::new();
    let heard = tokio::time::timeout(Duration::from_secs(30), async {
        while !text.contains(&tx) {
            match events.chunk().await {
                Ok(Some(c)) => text.push_str(&String::from_utf8_lossy(&c)),
                _ => break,
            }
        }
    })
    .await;
    assert!(
        heard.is_ok() && text.contains(&tx),
        "the API member's live view never heard {tx}:\n{text}\n{}",
        api.log()
    );
    let list: Value = http
        .get(format!("{base}/api/v1/alerts?chain=one"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let item = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["tx_hashes"][0] == tx.as_str())
        .expect("the API member lists the owner's alert")
        .clone();
    let key = item["key"].as_str().unwrap();
    let r = http
        .post(format!("{base}/api/v1/alerts/{key}/ack"))
        .bearer_auth(token)
        .json(&serde_json::json!({"note": "from the api member"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let a = store.get_alert(key).await.unwrap();
    assert_eq!((a.status.as_str(), a.ack_note.as_deref()), ("acked", Some("from the api member")));
}
