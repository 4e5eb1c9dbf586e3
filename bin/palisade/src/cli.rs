//! Command-line definitions and dispatch.

use crate::EXIT_USAGE;
use clap::{Parser, Subcommand};
use eyre::WrapErr;
use palisade_node::config::Config;
use palisade_primitives::Severity;
use palisade_store::{AlertFilter, Store};
use std::path::PathBuf;
use std::process::ExitCode;

/// Palisade: a verified, reorg-exact security monitor for DeFi networks.
#[derive(Debug, Parser)]
#[command(name = "palisade", version, about, long_about = None)]
pub(crate) struct Cli {
    /// Log format on stderr (colours only when stderr is a terminal).
    #[arg(long, global = true, value_name = "FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// More logging (-v info, -vv debug). PALISADE_LOG overrides (tracing filter syntax).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    #[command(subcommand)]
    pub cmd: Cmd,
}

/// How log lines are written on stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Cmd {
    /// Monitor live: follow every configured chain, run the detectors, store and deliver alerts.
    Run {
        /// Config file.
        #[arg(long, short)]
        config: PathBuf,
    },
    /// Run the detectors over recorded data (JSON lines, plain or .zst; `-` for stdin).
    Replay {
        /// Recorded file, or `-` for stdin. Several chains replay together (merged by block
        /// timestamp, as for detectors that watch two chains) when each is named: `l1=a.jsonl
        /// l2=b.jsonl`.
        #[arg(required = true, value_name = "[CHAIN=]FILE")]
        file: Vec<String>,
        /// Config file (default: every detector that needs no configuration).
        #[arg(long, short)]
        config: Option<PathBuf>,
        /// Chain name for findings (default: the config's first chain, else `mainnet`).
        #[arg(long)]
        chain: Option<String>,
        /// One JSON object per finding per line on stdout.
        #[arg(long)]
        json: bool,
        /// Also store the alerts (sqlite://PATH or postgres://...).
        #[arg(long, value_name = "URL")]
        store: Option<String>,
        /// Threads decoding blocks ahead (default: the cores); blocks are still committed in
        /// order, so the findings are a sequential replay's.
        #[arg(long, value_name = "N")]
        workers: Option<usize>,
        /// Split the file into ranges worked by the members of the config's `[cluster]` (and
        /// this process), each warmed up over its detectors' window; the same findings as
        /// replaying it whole.
        #[arg(long)]
        cluster: bool,
        /// With --cluster: lines per range (default: a sixteenth of the file, at least four
        /// warm-ups and 64).
        #[arg(long, value_name = "N", requires = "cluster")]
        range_lines: Option<u64>,
    },
    /// Record blocks from a node in the replay format (block, receipts, traces when served).
    Record {
        /// Node JSON-RPC URL (http or https).
        #[arg(long)]
        rpc: String,
        /// First block.
        #[arg(long)]
        from: u64,
        /// Last block (inclusive).
        #[arg(long)]
        to: u64,
        /// Output file; `.zst` compresses; `-` for stdout.
        #[arg(long, short)]
        output: String,
        /// Do not fetch traces.
        #[arg(long)]
        no_traces: bool,
        /// Do not fetch receipts.
        #[arg(long)]
        no_receipts: bool,
        /// Also record `eth_getProof` of this account at each block, with storage slots
        /// (`eip1967.implementation`, `erc7201:<namespace>`, hex or decimal); repeatable.
        #[arg(long = "proof", value_name = "ADDRESS[:SLOT,...]")]
        proofs: Vec<String>,
        /// Also record what this config's detectors need at each block: proofs of watched
        /// accounts, view calls (oracle feeds, pools, balances) and the code of new contracts.
        #[arg(long, short)]
        config: Option<std::path::PathBuf>,
        /// The config's chain whose detectors count (default: its first chain).
        #[arg(long, requires = "config")]
        chain: Option<String>,
        /// Blocks fetched at once (each one JSON-RPC batch: block, receipts, traces); they are
        /// written in order.
        #[arg(long, value_name = "N", default_value_t = 16)]
        concurrency: usize,
        /// Go on from the last complete block of the output file (an interrupted run's).
        #[arg(long)]
        resume: bool,
    },
    /// DeFi actions per transaction: swaps, transfers, flash loans, liquidations, arbitrages and
    /// sandwiches, with exact amounts (from a recorded file, or one block of a node).
    Inspect {
        /// Recorded file (JSON lines, plain or .zst), or `-` for stdin.
        file: Option<String>,
        /// Node JSON-RPC URL (with --block).
        #[arg(long, requires = "block", conflicts_with = "file")]
        rpc: Option<String>,
        /// Block number to fetch from --rpc.
        #[arg(long, requires = "rpc")]
        block: Option<u64>,
        /// One JSON object per block.
        #[arg(long)]
        json: bool,
        /// Threads decoding and classifying blocks ahead (default: the cores); printed in order.
        #[arg(long, value_name = "N")]
        workers: Option<usize>,
        /// CEX quotes (CSV: time,pair,bid,ask; pairs quoted in dollars): transactions whose
        /// swaps the quotes at the block's time make profitable are CEX-DEX arbitrage candidates.
        #[arg(long, value_name = "CSV")]
        cex_quotes: Option<PathBuf>,
        /// With --cex-quotes: how old a quote may be at the block's time (seconds).
        #[arg(long, value_name = "SECS", default_value_t = 30, requires = "cex_quotes")]
        cex_max_age: u64,
        /// With --cex-quotes: the smallest profit reported (US dollars).
        #[arg(long, value_name = "USD", default_value_t = 0.0, requires = "cex_quotes")]
        cex_min_profit: f64,
    },
    /// Show a running instance's chains and endpoints (state, lag, latency, quarantine, quorum).
    Status {
        /// Config file (for the API address).
        #[arg(long, short)]
        config: Option<PathBuf>,
        /// API address (default: the config's, else 127.0.0.1:9464).
        #[arg(long, value_name = "HOST:PORT")]
        api: Option<String>,
        /// The /health JSON as it is.
        #[arg(long)]
        json: bool,
    },
    /// Verify recorded blocks: hashes, roots, bloom, senders, proofs; exit 1 when a check fails.
    Verify {
        /// Recorded file (JSON lines, plain or .zst), or `-` for stdin.
        file: String,
        /// One JSON object per block.
        #[arg(long)]
        json: bool,
    },
    /// Check a config file for `palisade run` (a chain to watch, a usable store); exit 2 with
    /// the line and field of each error.
    Validate {
        /// Config file.
        file: PathBuf,
        /// Check it only as a config for `palisade replay` (detectors, no chain needed).
        #[arg(long)]
        replay: bool,
    },
    /// The settlement-risk index over recorded blocks: every block's index (0-100) and its
    /// components, as JSON lines (and retractions when the data reorgs) or, with --csv, the
    /// canonical series with timestamps; the series hash on stderr.
    Risk {
        /// Recorded file, or `-` for stdin; several chains as `CHAIN=FILE`.
        #[arg(required = true, value_name = "[CHAIN=]FILE")]
        file: Vec<String>,
        /// Config file (its `[risk]` weights and windows, its chains' reorg depths).
        #[arg(long, short)]
        config: Option<PathBuf>,
        /// Chain name (default: the config's first chain, else `mainnet`).
        #[arg(long)]
        chain: Option<String>,
        /// CSV with a header, one row per canonical block.
        #[arg(long)]
        csv: bool,
        /// Threads decoding blocks ahead (default: the cores).
        #[arg(long, value_name = "N")]
        workers: Option<usize>,
    },
    /// List detector types with their descriptions and config fields.
    Detectors {
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// Read and acknowledge stored alerts.
    Alerts {
        /// Config file (for the store location).
        #[arg(long, short, global = true)]
        config: Option<PathBuf>,
        /// Store URL (overrides the config).
        #[arg(long, global = true, value_name = "URL")]
        store: Option<String>,
        #[command(subcommand)]
        cmd: AlertsCmd,
    },
    /// Replay the bundled real mainnet data through the detectors and summarise the findings;
    /// or, with `--scenario defense`, stop a vault drain on a local anvil before it lands.
    Demo {
        /// Where to put the demo's SQLite store (default .palisade/demo.sqlite).
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// `mainnet` (the bundled data) or `defense` (needs anvil).
        #[arg(long, default_value = "mainnet", value_parser = ["mainnet", "defense"])]
        scenario: String,
        /// Defense: the benign twin (the owner redeems 40%; nothing may be paused).
        #[arg(long)]
        benign: bool,
        /// Defense: print the summary as JSON on the last line.
        #[arg(long)]
        json: bool,
        /// Defense: guard the vault with the example Solidity assertions (share price, outflow
        /// bound) instead of the simulation detector's limits.
        #[arg(long)]
        assertions: bool,
    },
    /// Solidity assertions.
    Assertions {
        #[command(subcommand)]
        cmd: AssertionsCmd,
    },
    /// Check the config's alert sinks.
    Sinks {
        #[command(subcommand)]
        cmd: SinksCmd,
    },
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell) on stdout:
    /// `palisade completions bash > /etc/bash_completion.d/palisade`.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff) on stdout: `palisade man > palisade.1 && man ./palisade.1`.
    Man,
    /// Measure replay throughput against plain JSON parsing of the same input.
    Bench {
        /// Recorded file (default: the bundled mainnet data).
        file: Option<String>,
        /// Config file (default: the demo config).
        #[arg(long, short)]
        config: Option<PathBuf>,
        /// Passes over the data.
        #[arg(long, default_value_t = 5)]
        loops: u64,
        /// Replay at least this many blocks in total, looping the data (for the memory check).
        #[arg(long)]
        blocks: Option<u64>,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum AssertionsCmd {
    /// Run the config's `assertion` detectors over a recording made with `palisade record
    /// --config` (which keeps the state each block's re-execution reads) and print every
    /// outcome. Exit status 1 when one was violated.
    Test {
        /// The recording (JSON lines, plain or .zst).
        file: String,
        /// Config file with the assertions.
        #[arg(long, short)]
        config: PathBuf,
        /// Chain whose assertions run (default: the config's first chain).
        #[arg(long)]
        chain: Option<String>,
        /// One JSON object per outcome per line.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum SinksCmd {
    /// Send a marked test notification through each sink and print what each answered; exit 1
    /// when one failed.
    Test {
        /// Config file.
        #[arg(long, short)]
        config: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum AlertsCmd {
    /// List alerts, newest first.
    List {
        /// Only this status.
        #[arg(long, value_parser = ["pending", "open", "acked", "resolved", "reorged"])]
        status: Option<String>,
        /// Only at least this severity.
        #[arg(long, value_parser = ["info", "low", "medium", "high", "critical"])]
        severity: Option<String>,
        /// Only this chain.
        #[arg(long)]
        chain: Option<String>,
        /// At most this many.
        #[arg(long, default_value_t = 50)]
        limit: i64,
        /// JSON lines.
        #[arg(long)]
        json: bool,
    },
    /// Show one alert with its evidence.
    Show {
        /// Alert key or a unique prefix of it.
        key: String,
    },
    /// Acknowledge an alert.
    Ack {
        /// Alert key or a unique prefix of it.
        key: String,
        /// Who acknowledges (default $USER).
        #[arg(long)]
        by: Option<String>,
        /// A note.
        #[arg(long)]
        note: Option<String>,
    },
    /// Resolve an alert (sinks that were told of it hear of it).
    Resolve {
        /// Alert key or a unique prefix of it.
        key: String,
        /// Who resolves (default $USER).
        #[arg(long)]
        by: Option<String>,
        /// A note.
        #[arg(long)]
        note: Option<String>,
    },
    /// Silence an alert's notifications for a while.
    Silence {
        /// Alert key or a unique prefix of it.
        key: String,
        /// How long: 30m, 2h, 1d.
        #[arg(long = "for", value_parser = humantime::parse_duration)]
        duration: std::time::Duration,
        /// Who silences (default $USER).
        #[arg(long)]
        by: Option<String>,
        /// A note.
        #[arg(long)]
        note: Option<String>,
    },
    /// List notifications a receiver refused for what they are (HTTP 400, 413, 422...): parked,
    /// not retried, with the receiver's answer.
    Parked,
    /// List what responders did (plans, dry runs, transactions sent and mined, refusals),
    /// newest first.
    Responses {
        /// At most this many.
        #[arg(long, default_value_t = 50)]
        limit: i64,
        /// JSON lines.
        #[arg(long)]
        json: bool,
    },
}

pub(crate) fn load_config(path: &std::path::Path) -> Result<Config, ExitCode> {
    Config::load(path).map_err(|errs| {
        for e in &errs.0 {
            eprintln!("error: {e}");
        }
        ExitCode::from(EXIT_USAGE)
    })
}

/// Loads a config that `palisade run` must be able to run (a chain to watch, a usable store).
pub(crate) fn load_runnable(path: &std::path::Path) -> Result<Config, ExitCode> {
    let cfg = load_config(path)?;
    cfg.check_runnable(&path.display().to_string()).map_err(|errs| {
        for e in &errs.0 {
            eprintln!("error: {e}");
        }
        ExitCode::from(EXIT_USAGE)
    })?;
    Ok(cfg)
}

pub(crate) async fn dispatch(cli: Cli) -> eyre::Result<ExitCode> {
    match cli.cmd {
        Cmd::Run { config } => {
            let cfg = match load_runnable(&config) {
                Ok(c) => c,
                Err(code) => return Ok(code),
            };
            let shutdown = tokio_util_shutdown();
            palisade_node::run(cfg, shutdown).await?;
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Replay { file, config, chain, json, store, workers, cluster, range_lines } => {
            let workers = workers.unwrap_or_else(palisade_node::replay::default_workers).max(1);
            crate::replay::cmd(crate::replay::Args {
                files: file,
                config,
                chain,
                json,
                store,
                workers,
                cluster,
                range_lines,
            })
            .await
        }
        Cmd::Record {
            rpc,
            from,
            to,
            output,
            no_traces,
            no_receipts,
            proofs,
            config,
            chain,
            concurrency,
            resume,
        } => {
            let needs = match config {
                None => palisade_detect::Needs::default(),
                Some(p) => {
                    let cfg = match load_config(&p) {
                        Ok(c) => c,
                        Err(code) => return Ok(code),
                    };
                    let ch = chain
                        .or_else(|| cfg.chains.first().map(|c| c.name.clone()))
                        .unwrap_or_else(|| "mainnet".into());
                    palisade_node::config::build_detectors(&cfg.detectors, &ch, &cfg.links)?
                        .iter()
                        .fold(palisade_detect::Needs::default(), |n, d| n.union(d.needs()))
                }
            };
            let enrich = palisade_source::evm_rpc::Enrich {
                receipts: !no_receipts || needs.receipts,
                traces: !no_traces || needs.traces,
            };
            crate::record::cmd(crate::record::Args {
                rpc: &rpc,
                from,
                to,
                output: &output,
                enrich,
                proofs: &proofs,
                needs: &needs,
                concurrency,
                resume,
            })
            .await
        }
        Cmd::Status { config, api, json } => crate::status::cmd(config, api, json).await,
        Cmd::Inspect {
            file,
            rpc,
            block,
            json,
            workers,
            cex_quotes,
            cex_max_age,
            cex_min_profit,
        } => {
            let workers = workers.unwrap_or_else(palisade_node::replay::default_workers).max(1);
            let cex = match cex_quotes {
                None => None,
                Some(p) => {
                    let text = match std::fs::read_to_string(&p) {
                        Ok(t) => t,
                        Err(e) => {
                            eprintln!("error: --cex-quotes {}: {e}", p.display());
                            return Ok(ExitCode::from(EXIT_USAGE));
                        }
                    };
                    match palisade_defi::Quotes::parse(&text, cex_max_age) {
                        Ok(q) => {
                            Some(crate::inspect::Cex { quotes: q, min_profit: cex_min_profit })
                        }
                        Err(e) => {
                            eprintln!("error: --cex-quotes {}: {e}", p.display());
                            return Ok(ExitCode::from(EXIT_USAGE));
                        }
                    }
                }
            };
            crate::inspect::cmd(file, rpc, block, json, workers, cex.map(std::sync::Arc::new)).await
        }
        Cmd::Verify { file, json } => crate::verify::cmd(&file, json),
        Cmd::Validate { file, replay } => {
            match if replay { load_config(&file) } else { load_runnable(&file) } {
                Ok(cfg) => {
                    outln!(
                        "{}: ok ({} chains, {} detectors, {} sinks)",
                        file.display(),
                        cfg.chains.len(),
                        cfg.detectors.len(),
                        cfg.sinks.len()
                    );
                    Ok(ExitCode::SUCCESS)
                }
                Err(code) => Ok(code),
            }
        }
        Cmd::Sinks { cmd: SinksCmd::Test { config } } => sinks_test(&config).await,
        Cmd::Assertions { cmd: AssertionsCmd::Test { file, config, chain, json } } => {
            crate::assertions::test(&file, &config, chain, json)
        }
        Cmd::Completions { shell } => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            let mut out = Vec::new();
            clap_complete::generate(shell, &mut cmd, "palisade", &mut out);
            outln!("{}", String::from_utf8_lossy(&out).trim_end());
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Man => {
            let mut out = Vec::new();
            clap_mangen::Man::new(<Cli as clap::CommandFactory>::command()).render(&mut out)?;
            outln!("{}", String::from_utf8_lossy(&out).trim_end());
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Risk { file, config, chain, csv, workers } => crate::risk::cmd(crate::risk::Args {
            files: file,
            config,
            chain,
            csv,
            workers: workers.unwrap_or_else(palisade_node::replay::default_workers).max(1),
        }),
        Cmd::Detectors { json } => {
            if json {
                for d in palisade_detect::catalog() {
                    outln!("{}", serde_json::to_string(d)?);
                }
            } else {
                fn fields(fs: &[palisade_detect::FieldInfo], indent: usize) {
                    for f in fs {
                        let name = format!("{:indent$}{}", "", f.name);
                        outln!(
                            "    {:<26} {:<20} default {:<28} {}",
                            name,
                            f.ty,
                            f.default.text(),
                            f.doc
                        );
                        fields(&f.nested, indent + 2);
                    }
                }
                for d in palisade_detect::catalog() {
                    outln!("{}  {}", d.kind, d.description);
                    fields(&d.fields, 0);
                    outln!();
                }
                outln!("Runtime findings: chain_health also reports stalls (live) and reorgs deeper than max_reorg_depth.");
            }
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Alerts { config, store, cmd } => alerts(config, store, cmd).await,
        Cmd::Demo { data_dir, scenario, benign, json, assertions } => {
            if scenario == "defense" {
                crate::defense::cmd(data_dir, json, benign, assertions).await
            } else if benign || json || assertions {
                eprintln!("error: --benign, --json and --assertions belong to --scenario defense");
                Ok(ExitCode::from(2))
            } else {
                crate::demo::cmd(data_dir).await
            }
        }
        Cmd::Bench { file, config, loops, blocks } => {
            crate::bench::cmd(file, config, loops, blocks)
        }
    }
}

/// `palisade sinks test`: one marked test notification through each sink.
async fn sinks_test(config: &std::path::Path) -> eyre::Result<ExitCode> {
    let cfg = match load_runnable(config) {
        Ok(c) => c,
        Err(code) => return Ok(code),
    };
    let sinks = match palisade_alert::build_sinks(&cfg.sinks, &cfg.data_dir) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {}: {e}", config.display());
            return Ok(ExitCode::from(EXIT_USAGE));
        }
    };
    if sinks.is_empty() {
        eprintln!("error: {}: no [[sinks]] to test", config.display());
        return Ok(ExitCode::from(EXIT_USAGE));
    }
    let n = palisade_alert::Notification::test();
    let mut failed = 0;
    for s in &sinks {
        let t = std::time::Instant::now();
        let r = match s.healthcheck().await {
            Ok(()) => s.deliver(&n).await,
            Err(e) => Err(e),
        };
        let ms = t.elapsed().as_millis();
        match r {
            Ok(()) => outln!("ok      {:<20} delivered in {ms} ms", s.id()),
            Err(e) => {
                failed += 1;
                outln!("FAILED  {:<20} {e} ({ms} ms)", s.id());
            }
        }
    }
    Ok(if failed == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

/// A cancellation token fired by Ctrl-C or SIGTERM.
fn tokio_util_shutdown() -> palisade_node::Shutdown {
    let token = palisade_node::Shutdown::new();
    let t = token.clone();
    tokio::spawn(async move {
        #[cfg(unix)]
        {
            let mut term =
                match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                    Ok(s) => s,
                    Err(_) => return,
                };
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
        tracing::info!(target: "palisade", "Shutting down.");
        t.cancel();
    });
    token
}

async fn alerts(
    config: Option<PathBuf>,
    store: Option<String>,
    cmd: AlertsCmd,
) -> eyre::Result<ExitCode> {
    let url = match (store, config) {
        (Some(u), _) => u,
        (None, Some(c)) => match load_config(&c) {
            Ok(cfg) => cfg.store_url(),
            Err(code) => return Ok(code),
        },
        (None, None) => {
            format!("sqlite://{}", PathBuf::from(".palisade").join("palisade.sqlite").display())
        }
    };
    if let Some(path) = url.strip_prefix("sqlite://") {
        let p = path.split('?').next().unwrap_or(path);
        if !std::path::Path::new(p).exists() {
            eprintln!("error: no store at {p} (run `palisade run` or `palisade demo` first, or pass --store/--config)");
            return Ok(ExitCode::from(EXIT_USAGE));
        }
    }
    let store = Store::open(&url).await.wrap_err("opening the store")?;
    match cmd {
        AlertsCmd::List { status, severity, chain, limit, json } => {
            let min_severity = match severity.as_deref().map(Severity::parse) {
                Some(None) => {
                    eprintln!("error: --severity must be one of info, low, medium, high, critical");
                    return Ok(ExitCode::from(EXIT_USAGE));
                }
                Some(s) => s,
                None => None,
            };
            let rows = store
                .list_alerts(&AlertFilter {
                    status,
                    min_severity,
                    chain,
                    limit: Some(limit),
                    ..Default::default()
                })
                .await?;
            for r in &rows {
                if json {
                    outln!("{}", r.to_json());
                } else {
                    outln!("{}", crate::output::alert_line(r));
                }
            }
            if !json {
                eprintln!("{} alerts", rows.len());
            }
            Ok(ExitCode::SUCCESS)
        }
        AlertsCmd::Show { key } => {
            let r = store.get_alert(&key).await?;
            let mut j = r.to_json();
            let notes = store.notes(&r.finding.key.to_string()).await?;
            j["notes"] = serde_json::Value::Array(
                notes
                    .iter()
                    .map(|n| {
                        serde_json::json!({"at": palisade_primitives::time::rfc3339_ms(n.at_ms),
                            "at_ms": n.at_ms, "by": n.by, "action": n.action, "note": n.note})
                    })
                    .collect(),
            );
            outln!("{}", serde_json::to_string_pretty(&j)?);
            Ok(ExitCode::SUCCESS)
        }
        AlertsCmd::Ack { key, by, note } => {
            let by = by.or_else(|| std::env::var("USER").ok()).unwrap_or_else(|| "unknown".into());
            let r = store.ack(&key, &by, note.as_deref()).await?;
            outln!("acknowledged {} ({})", r.finding.key, r.finding.title);
            Ok(ExitCode::SUCCESS)
        }
        AlertsCmd::Resolve { key, by, note } => {
            let by = by.or_else(|| std::env::var("USER").ok()).unwrap_or_else(|| "unknown".into());
            let r = store
                .act(&key, &by, palisade_store::OperatorAction::Resolve, note.as_deref())
                .await?;
            outln!("resolved {} ({})", r.finding.key, r.finding.title);
            Ok(ExitCode::SUCCESS)
        }
        AlertsCmd::Silence { key, duration, by, note } => {
            let by = by.or_else(|| std::env::var("USER").ok()).unwrap_or_else(|| "unknown".into());
            let until_ms = palisade_store::now_ms().saturating_add(duration.as_millis() as i64);
            let r = store
                .act(
                    &key,
                    &by,
                    palisade_store::OperatorAction::Silence { until_ms },
                    note.as_deref(),
                )
                .await?;
            outln!(
                "silenced {} until {} ({})",
                r.finding.key,
                palisade_primitives::time::rfc3339_ms(until_ms),
                r.finding.title
            );
            Ok(ExitCode::SUCCESS)
        }
        AlertsCmd::Parked => {
            let parked = store.parked().await?;
            for (key, sink, action, said) in &parked {
                outln!("{:.12}  {sink:<16} {action:<8} {said}", key);
            }
            eprintln!("{} parked", parked.len());
            Ok(ExitCode::SUCCESS)
        }
        AlertsCmd::Responses { limit, json } => {
            for r in store.list_responses(limit).await? {
                let detail: serde_json::Value =
                    serde_json::from_str(&r.detail).unwrap_or(serde_json::Value::Null);
                if json {
                    outln!(
                        "{}",
                        serde_json::json!({"id": r.id, "responder": r.responder, "type": r.kind,
                            "chain": r.chain, "alert": r.alert_key, "stage": r.stage, "dry_run": r.dry_run,
                            "outcome": r.outcome, "detail": detail, "error": r.error,
                            "created_ms": r.created_ms, "updated_ms": r.updated_ms,
                            "created_at": palisade_primitives::time::rfc3339_ms(r.created_ms),
                            "updated_at": palisade_primitives::time::rfc3339_ms(r.updated_ms)})
                    );
                } else {
                    let tx =
                        detail["tx_hash"].as_str().map(|h| format!(" tx {h}")).unwrap_or_default();
                    let err = r.error.as_deref().map(|e| format!(" ({e})")).unwrap_or_default();
                    outln!(
                        "{}  {:<14} {:<16} {:<9} {}{}{}{}  alert {}",
                        palisade_primitives::time::rfc3339_ms(r.updated_ms),
                        r.responder,
                        r.kind,
                        r.stage,
                        r.outcome,
                        if r.dry_run { " [dry run]" } else { "" },
                        tx,
                        err,
                        &r.alert_key[..r.alert_key.len().min(12)]
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
