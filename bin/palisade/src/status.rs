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
    out
}
