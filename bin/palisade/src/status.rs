//! `palisade status`: what a running instance says of its chains and endpoints.

use crate::EXIT_USAGE;
use serde_json::Value;
use std::path::PathBuf;
use std::process::ExitCode;

pub(crate) async fn cmd(
    config: Option<PathBuf>,
    api: Option<String>,
    json: bool,
) -> eyre::Result<ExitCode> {
    let addr = match (api, config) {
        (Some(a), _) => a,
        (None, Some(c)) => match crate::cli::load_config(&c) {
            Ok(cfg) if cfg.api.listen.is_empty() => {
                eprintln!("error: {}: the API is turned off (api.listen = \"\")", c.display());
                return Ok(ExitCode::from(EXIT_USAGE));
            }
            Ok(cfg) => cfg.api.listen,
            Err(code) => return Ok(code),
        },
        (None, None) => "127.0.0.1:9464".into(),
    };
    let url = format!("http://{addr}/health");
    let body: Value = match reqwest::get(&url).await {
        Ok(r) => r.json().await.map_err(|e| eyre::eyre!("{url}: not the Palisade API: {e}"))?,
        Err(e) => {
            eprintln!(
                "error: cannot reach the Palisade API at {addr} (is `palisade run` up?): {}",
                e.without_url()
            );
            return Ok(ExitCode::FAILURE);
        }
    };
    if json {
        outln!("{}", serde_json::to_string_pretty(&body)?);
    } else {
        print!("{}", render(&body));
    }
    Ok(if body["status"] == "ok" { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

fn opt(v: &Value) -> String {
    match v {
        Value::Null => "-".into(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The human form of `/health`.
pub(crate) fn render(body: &Value) -> String {
    let mut out = format!(
        "status: {}   outbox: {} undelivered\n",
        opt(&body["status"]),
        opt(&body["outbox_depth"])
    );
    let empty = serde_json::Map::new();
    for (name, c) in body["chains"].as_object().unwrap_or(&empty) {
        let q = &c["quorum"];
        out.push_str(&format!(
            "\nchain {name}: tip {}  head {}  quorum {}/{} {}{}\n",
            opt(&c["tip"]),
            opt(&c["head"]),
            opt(&q["counting"]),
            opt(&q["required"]),
            if q["met"] == true { "met" } else { "NOT MET" },
            c["error"].as_str().map(|e| format!("  error: {e}")).unwrap_or_default(),
        ));
        let m = &c["mempool"];
        if m.is_object() {
            out.push_str(&format!(
                "  mempool: {} pending, {} judged, {} findings, simulating on block {}{}\n",
                opt(&m["pending"]),
                opt(&m["judged"]),
                opt(&m["findings"]),
                opt(&m["state_block"]),
                m["last_error"].as_str().map(|e| format!("; last error: {e}")).unwrap_or_default(),
            ));
        }
        out.push_str(&format!(
            "  {:<3} {:<34} {:<12} {:>9} {:>5} {:>9} {:>6} {:>7}  {}\n",
            "#", "endpoint", "state", "head", "lag", "latency", "peers", "strikes", "why"
        ));
        for e in c["endpoints"].as_array().into_iter().flatten() {
            let mut why = opt(&e["reason"]);
            if let Some(s) = e["quarantine_secs_left"].as_u64() {
                why = format!("{why} ({s} s left)");
            }
            if let Some(b) = e["probation_blocks_left"].as_u64() {
                why = format!("{why} ({b} blocks of probation left)");
            }
            out.push_str(&format!(
                "  {:<3} {:<34} {:<12} {:>9} {:>5} {:>9} {:>6} {:>7}  {}\n",
                opt(&e["index"]),
                opt(&e["url"]),
                opt(&e["state"]),
                opt(&e["head"]),
                opt(&e["lag"]),
                e["latency_ms"].as_f64().map_or("-".into(), |l| format!("{l:.1} ms")),
                opt(&e["peers"]),
                opt(&e["strikes"]),
                why,
            ));
        }
    }
    if let Some(c) = body["cluster"].as_object() {
        out.push_str(&cluster(c));
    }
    out
}

fn secs(ms: &Value) -> String {
    ms.as_u64().map_or("-".into(), |ms| format!("{:.1} s", ms as f64 / 1e3))
}

/// The cluster part of `/health`: members, their roles, and who owns which chain.
fn cluster(c: &serde_json::Map<String, Value>) -> String {
    let list = |v: &Value| {
        let xs: Vec<String> = v.as_array().into_iter().flatten().map(opt).collect();
        if xs.is_empty() {
            "-".to_string()
        } else {
            xs.join(",")
        }
    };
    let mut out =
        format!("\ncluster: this member {} ({})\n", opt(&c["node_id"]), list(&c["roles"]));
    out.push_str(&format!(
        "  {:<20} {:<36} {:<24} {:>9} {:>9}\n",
        "member", "roles", "owns", "up", "seen"
    ));
    for m in c["members"].as_array().into_iter().flatten() {
        out.push_str(&format!(
            "  {:<20} {:<36} {:<24} {:>9} {:>9}\n",
            opt(&m["node_id"]),
            list(&m["roles"]),
            list(&m["owns"]),
            secs(&m["up_ms"]),
            format!("{} ago", secs(&m["seen_ms_ago"])),
        ));
    }
    out.push_str(&format!(
        "  {:<20} {:<20} {:>9} {:>9} {:>14}\n",
        "chain", "owner", "lease rev", "held", "renewed"
    ));
    let empty = serde_json::Map::new();
    for (chain, l) in c["leases"].as_object().unwrap_or(&empty) {
        out.push_str(&format!(
            "  {:<20} {:<20} {:>9} {:>9} {:>14}\n",
            chain,
            opt(&l["owner"]),
            opt(&l["revision"]),
            secs(&l["held_ms"]),
            format!("{} ago", secs(&l["renewed_ms_ago"])),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_cluster_shows_members_roles_owners_and_lease_age() {
        let body = json!({
            "status": "ok", "outbox_depth": 0, "chains": {},
            "cluster": {
                "node_id": "a", "roles": ["chain_owner", "api"],
                "members": [
                    {"node_id": "a", "roles": ["chain_owner", "api"], "owns": ["eth"], "up_ms": 61000, "seen_ms_ago": 400},
                    {"node_id": "b", "roles": ["deliverer"], "owns": [], "up_ms": 5000, "seen_ms_ago": 900}
                ],
                "leases": {"eth": {"owner": "a", "revision": 17, "held_ms": 60000, "renewed_ms_ago": 300}}
            }
        });
        let text = render(&body);
        assert!(text.contains("cluster: this member a (chain_owner,api)"), "{text}");
        let a = text.lines().find(|l| l.trim_start().starts_with("a ")).unwrap();
        assert!(a.contains("eth") && a.contains("61.0 s") && a.contains("0.4 s ago"), "{a}");
        let b = text.lines().find(|l| l.trim_start().starts_with("b ")).unwrap();
        assert!(b.contains("deliverer") && b.contains(" - "), "{b}");
        let eth = text.lines().find(|l| l.trim_start().starts_with("eth ")).unwrap();
        assert!(eth.contains(" a ") && eth.contains("17") && eth.contains("60.0 s"), "{eth}");
        // Without a cluster, no cluster section.
        assert!(!render(&json!({"status": "ok", "chains": {}})).contains("cluster"));
    }
}
