//! Helpers for tests and benchmarks of several processes: fresh databases, NATS prefixes, and
//! `palisade run` members.
#![allow(dead_code, unreachable_pub)]

use super::*;
use palisade_testing::anvil::{free_port, Anvil};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

pub const TTL_MS: u64 = 2000;

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// The services, or `None` (skipped) off CI when one is missing.
pub async fn services() -> Option<(String, String)> {
    let ci = std::env::var("CI").as_deref() == Ok("true");
    let pg = match std::env::var("PALISADE_TEST_POSTGRES_URL") {
        Ok(u) => u,
        Err(_) if ci => panic!("CI=true but PALISADE_TEST_POSTGRES_URL is not set"),
        Err(_) => {
            eprintln!("PALISADE_TEST_POSTGRES_URL not set: cluster tests skipped");
            return None;
        }
    };
    let nats =
        std::env::var("PALISADE_TEST_NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".into());
    let host = nats.trim_start_matches("nats://").to_string();
    if tokio::net::TcpStream::connect(&host).await.is_err() {
        assert!(!ci, "CI=true but NATS is not reachable at {nats}");
        eprintln!("NATS not reachable at {nats}: cluster tests skipped");
        return None;
    }
    Some((pg, nats))
}

/// A fresh database on the test server, for one test.
pub async fn fresh_db(pg: &str) -> String {
    use sqlx::Connection;
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    let name = format!("palisade_cl_{}_{n}", std::process::id());
    let mut c = sqlx::PgConnection::connect(pg).await.unwrap();
    sqlx::query(&format!("DROP DATABASE IF EXISTS {name}")).execute(&mut c).await.unwrap();
    sqlx::query(&format!("CREATE DATABASE {name}")).execute(&mut c).await.unwrap();
    format!("{}/{name}", pg.rsplit_once('/').unwrap().0)
}

pub fn prefix() -> String {
    format!("t{}x{}", std::process::id(), COUNTER.fetch_add(1, Ordering::SeqCst))
}

/// One `palisade run` member.
pub struct Member {
    pub name: String,
    pub dir: PathBuf,
    pub config: PathBuf,
    pub api: u16,
    pub child: Option<Child>,
}

impl Member {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        root: &Path,
        name: &str,
        roles: &[&str],
        pg: &str,
        nats: &str,
        prefix: &str,
        chains: &str,
        body: &str,
    ) -> Self {
        let dir = root.join(name);
        std::fs::create_dir_all(&dir).unwrap();
        let api = free_port();
        let roles: Vec<String> = roles.iter().map(|r| format!("'{r}'")).collect();
        let config = dir.join("palisade.toml");
        std::fs::write(
            &config,
            format!(
                "data_dir = '{}'\n[store]\nurl = '{pg}'\n[api]\nlisten = '127.0.0.1:{api}'\n[cluster]\nnats_url = '{nats}'\nnode_id = '{name}'\nroles = [{}]\nprefix = '{prefix}'\nlease_ttl_ms = {TTL_MS}\n\n{chains}\n{body}",
                dir.display(),
                roles.join(", ")
            ),
        )
        .unwrap();
        let mut m = Self { name: name.into(), dir, config, api, child: None };
        m.start();
        m
    }

    pub fn start(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("palisade.log"))
            .unwrap();
        let child = Command::new(BIN)
            .args(["run", "--config", self.config.to_str().unwrap()])
            .env("PALISADE_LOG", "info,palisade::cluster=debug")
            .env("PALISADE_TEST_WEBHOOK_SECRET", WEBHOOK_SECRET)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        self.child = Some(child);
    }

    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub fn signal(&self, sig: &str) {
        let pid = self.child.as_ref().unwrap().id().to_string();
        assert!(Command::new("kill").args([sig, &pid]).status().unwrap().success());
    }

    pub fn alive(&mut self) -> bool {
        self.child.as_mut().is_some_and(|c| c.try_wait().ok().flatten().is_none())
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("palisade.log")).unwrap_or_default()
    }

    pub async fn health(&self) -> Option<Value> {
        let r = reqwest::Client::new()
            .get(format!("http://127.0.0.1:{}/health", self.api))
            .timeout(Duration::from_secs(2))
            .send()
            .await
            .ok()?;
        r.json().await.ok()
    }
}

impl Drop for Member {
    fn drop(&mut self) {
        self.kill9();
    }
}

pub fn chains_toml(chains: &[(&str, &Anvil)]) -> String {
    chains
        .iter()
        .map(|(name, a)| {
            format!(
                "[[chains]]\nname = '{name}'\nchain_id = 31337\nstart_block = 1\nendpoints = [{{ url = '{}', ws = '{}' }}]\nrpc = {{ poll_interval_ms = 200, timeout_ms = 3000 }}\n",
                a.http_url(),
                a.ws_url()
            )
        })
        .collect()
}
