//! The config file: one TOML document, typed, unknown fields rejected, every field documented
//! with its default. `palisade validate` reports each error with its line and field.

mod beacon;
mod chain;
mod cluster;
mod comet;

pub use beacon::{BeaconChainConfig, BeaconEndpoint};
pub use chain::{ChainConfig, MempoolConfig, Verification};
pub use cluster::{ClusterConfig, Role};
pub use comet::{CometChainConfig, CometEndpoint};

use palisade_alert::SinkConfig;
use palisade_detect::DetectorConfig;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The whole config.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Directory for the SQLite store and relative sink files (default `.palisade`, relative
    /// to the working directory).
    #[serde(default = "default_data_dir")]
    pub data_dir: PathBuf,
    /// Alert store (default: SQLite file `palisade.sqlite` in `data_dir`).
    #[serde(default)]
    pub store: StoreConfig,
    /// HTTP API: `/health`, `/metrics`, `/alerts` (default listen 127.0.0.1:9464).
    #[serde(default)]
    pub api: ApiConfig,
    /// Chains to monitor.
    #[serde(default)]
    pub chains: Vec<ChainConfig>,
    /// Beacon chains to monitor through the Beacon API.
    #[serde(default)]
    pub beacon_chains: Vec<BeaconChainConfig>,
    /// CometBFT chains to monitor through their RPC.
    #[serde(default)]
    pub comet_chains: Vec<CometChainConfig>,
    /// Detectors.
    #[serde(default)]
    pub detectors: Vec<DetectorConfig>,
    /// Alert destinations (default: none; alerts are still stored).
    #[serde(default)]
    pub sinks: Vec<SinkConfig>,
    /// On-call routes: a finding goes to the sinks of every route it matches (by detector,
    /// severity, chain, stage), else to `default_route` (default: none configured, every
    /// finding to every sink).
    #[serde(default)]
    pub routes: Vec<palisade_store::Route>,
    /// The sinks of findings no route matches (default: every sink).
    #[serde(default)]
    pub default_route: Option<Vec<String>>,
    /// Automated responses (default: none). Each is dry-run unless it says `dry_run = false`.
    #[serde(default)]
    pub responders: Vec<palisade_respond::ResponderConfig>,
    /// Several processes sharing the work (default: none, one process does everything).
    #[serde(default)]
    pub cluster: Option<ClusterConfig>,
    /// The settlement-risk index: weights and windows (docs/risk.md).
    #[serde(default)]
    pub risk: palisade_risk::RiskConfig,
    /// State shared by the chains' parts of detectors that watch several chains (not a setting).
    #[serde(skip)]
    pub links: palisade_detect::Links,
}

fn default_data_dir() -> PathBuf {
    PathBuf::from(".palisade")
}

/// `[store]`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreConfig {
    /// `sqlite://PATH` or `postgres://USER@HOST:PORT/DB` (default: SQLite in `data_dir`).
    #[serde(default)]
    pub url: Option<String>,
}

/// `[api]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiConfig {
    /// Address to listen on; empty string disables the API (default `127.0.0.1:9464`).
    #[serde(default = "default_listen")]
    pub listen: String,
    /// Public read-only mode: the dashboard and reads need no token, and nothing can be changed
    /// through the API or the page, whatever token is shown.
    #[serde(default)]
    pub read_only: bool,
    /// API tokens. Without any, changes (ack, resolve, silence) are refused; reads need a token
    /// only when a `read` token is configured. The environment variables
    /// `PALISADE_API_OPERATE_TOKEN` and `PALISADE_API_READ_TOKEN`, when set, add one of each.
    #[serde(default)]
    pub tokens: Vec<ApiToken>,
}

impl Default for ApiConfig {
    fn default() -> Self {
        Self { listen: default_listen(), read_only: false, tokens: Vec::new() }
    }
}

/// One `[[api.tokens]]` entry.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiToken {
    /// Who uses it: recorded as the author of what is done with it.
    pub name: String,
    /// `read` (look) or `operate` (look, acknowledge, resolve, silence).
    pub scope: ApiScope,
    /// The token (a secret): `{ env = "VAR" }` (or a string).
    pub token: palisade_alert::SecretString,
}

/// What an API token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApiScope {
    /// Read everything the API shows.
    Read,
    /// Read, and acknowledge, resolve, silence and annotate alerts.
    Operate,
}

fn default_listen() -> String {
    "127.0.0.1:9464".into()
}

/// What the chain service needs to know of a chain's config, whatever its kind.
#[derive(Debug, Clone)]
pub struct ChainSettings {
    /// Chain name.
    pub name: String,
    /// Deepest reorg followed exactly.
    pub max_reorg_depth: u64,
    /// Where to start on an empty store (default: the head).
    pub start_block: Option<u64>,
    /// Blocks on top before delivery.
    pub confirmations: u64,
}

impl From<&ChainConfig> for ChainSettings {
    fn from(c: &ChainConfig) -> Self {
        Self {
            name: c.name.clone(),
            max_reorg_depth: c.max_reorg_depth,
            start_block: c.start_block,
            confirmations: c.confirmations,
        }
    }
}

impl From<&BeaconChainConfig> for ChainSettings {
    fn from(c: &BeaconChainConfig) -> Self {
        Self {
            name: c.name.clone(),
            max_reorg_depth: c.max_reorg_depth,
            start_block: None,
            confirmations: c.confirmations,
        }
    }
}

impl From<&CometChainConfig> for ChainSettings {
    fn from(c: &CometChainConfig) -> Self {
        // Blocks are final when committed: nothing deeper than one block can be undone.
        Self {
            name: c.name.clone(),
            max_reorg_depth: 1,
            start_block: Some(c.trusted_height + 1),
            confirmations: c.confirmations,
        }
    }
}

/// Most confirmations a chain may wait for before delivering an alert: more would hold alerts
/// for days on any chain.
pub const MAX_CONFIRMATIONS: u64 = 100_000;

/// Highest start block accepted: a trillion blocks, far beyond any chain (the fastest make a few
/// hundred million a year). A start block ahead of the head but below this is waited for.
pub const MAX_START_BLOCK: u64 = 1_000_000_000_000;

/// Checks shared by every kind of chain: a start block the store can hold, confirmations that
/// let an alert out.
fn common_chain_checks(
    errs: &mut Vec<ConfigError>,
    err: &impl Fn(Option<usize>, String, String) -> ConfigError,
    line: Option<usize>,
    at: &str,
    start_block: Option<u64>,
    confirmations: u64,
) {
    if let Some(b) = start_block.filter(|b| *b > MAX_START_BLOCK) {
        errs.push(err(
            line,
            format!("{at}.start_block"),
            format!("{b} is beyond any chain (at most {MAX_START_BLOCK}; a start block ahead of the head is waited for)"),
        ));
    }
    if confirmations > MAX_CONFIRMATIONS {
        errs.push(err(
            line,
            format!("{at}.confirmations"),
            format!(
                "{confirmations} confirmations would hold alerts forever (at most {MAX_CONFIRMATIONS})"
            ),
        ));
    }
}

/// A config error, with where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The file.
    pub path: String,
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// Field path (for example `detectors[2].functions[0].expression`).
    pub field: Option<String>,
    /// What is wrong.
    pub message: String,
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.path)?;
        if let Some(l) = self.line {
            write!(f, ":{l}")?;
        }
        if let Some(fl) = &self.field {
            write!(f, ": {fl}")?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for ConfigError {}

/// All errors found in one config.
#[derive(Debug, Clone)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl std::fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

fn line_of(src: &str, offset: usize) -> usize {
    src[..offset.min(src.len())].bytes().filter(|b| *b == b'\n').count() + 1
}

/// Finds the line of the `index`-th `[[table]]` header.
fn table_line(src: &str, table: &str, index: usize) -> Option<usize> {
    let header = format!("[[{table}]]");
    src.lines()
        .enumerate()
        .filter(|(_, l)| l.trim_start().starts_with(&header))
        .nth(index)
        .map(|(i, _)| i + 1)
}

/// The text of the `index`-th `[[table]]` entry with its sub-tables renamed to stand alone, and
/// its `type` line blanked (so a tagged entry parses as its concrete struct); line numbers are
/// kept: line 1 of the result is the header's line.
fn entry_text(src: &str, table: &str, index: usize) -> Option<(usize, String)> {
    let start = table_line(src, table, index)?;
    let lines: Vec<&str> = src.lines().collect();
    let (sub_array, sub_table) = (format!("[[{table}."), format!("[{table}."));
    let mut out = vec![String::new()];
    for l in &lines[start..] {
        let t = l.trim_start();
        if t.starts_with('[') && !t.starts_with(&sub_array) && !t.starts_with(&sub_table) {
            break;
        }
        let l = if t.starts_with(&sub_array) {
            l.replacen(&sub_array, "[[", 1)
        } else if t.starts_with(&sub_table) {
            l.replacen(&sub_table, "[", 1)
        } else if t.starts_with("type") && t[4..].trim_start().starts_with('=') {
            String::new()
        } else {
            (*l).to_string()
        };
        out.push(l);
    }
    Some((start, out.join("\n")))
}

/// Where in the entry's text a typed parse fails: (line, message).
fn entry_error<T: serde::de::DeserializeOwned>(
    src: &str,
    table: &str,
    index: usize,
) -> Option<(usize, String)> {
    let (start, text) = entry_text(src, table, index)?;
    let e = toml::from_str::<T>(&text).err()?;
    let at = e.span().map(|s| line_of(&text, s.start));
    let line = at.map(|l| start + l - 1).unwrap_or(start);
    let message = e.message().trim().to_string();
    // Name the key on that line ("contracts: odd number of digits"), unless the message does.
    let key = at
        .and_then(|l| text.lines().nth(l - 1))
        .and_then(|l| l.split_once('='))
        .map(|(k, _)| k.trim().trim_matches(['"', '\'']).to_string())
        .filter(|k| !k.is_empty() && !k.starts_with('[') && !message.contains(k.as_str()));
    Some((line, key.map_or(message.clone(), |k| format!("{k}: {message}"))))
}

/// The arrays of tables, read entry by entry.
const ARRAYS: &[&str] =
    &["chains", "beacon_chains", "comet_chains", "detectors", "sinks", "responders"];

/// `src` with the arrays of tables blanked (their headers, keys and sub-tables), keeping line
/// numbers: the rest of the file, read on its own.
fn without_arrays(src: &str) -> String {
    let mut inside = false;
    src.split('\n')
        .map(|l| {
            let t = l.trim_start();
            if t.starts_with('[') {
                let name = t.trim_start_matches('[').split([']', '.']).next().unwrap_or("").trim();
                inside = ARRAYS.contains(&name);
            }
            if inside {
                ""
            } else {
                l
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The line of key `k` in entry `index` of the array of tables `table`.
fn key_line(src: &str, table: &str, index: usize, k: &str) -> Option<usize> {
    let (start, text) = entry_text(src, table, index)?;
    text.lines()
        .position(|l| {
            l.split_once('=').is_some_and(|(key, _)| key.trim().trim_matches(['"', '\'']) == k)
        })
        .map(|i| start + i)
}

/// At most this many errors are reported at once.
const MAX_ERRORS: usize = 25;

/// Blanks line `line` (1-based) of `text` when it is a `key = value` line, and returns its
/// key; table headers and other lines are kept (blanking them would move keys elsewhere).
fn blank_line(text: &mut String, line: usize) -> Option<String> {
    let mut lines: Vec<&str> = text.split('\n').collect();
    let l = lines.get(line.checked_sub(1)?)?.trim();
    if l.starts_with('[') || l.starts_with('#') {
        return None;
    }
    let key = l.split_once('=')?.0.trim().trim_matches(['"', '\'']).to_string();
    if key.is_empty() {
        return None;
    }
    lines[line - 1] = "";
    *text = lines.join("\n");
    Some(key)
}

/// A parser's message in a reader's words: an unknown field gets the field meant, an address
/// that does not parse says what an address is.
fn explain(message: &str) -> String {
    if let Some(rest) = message.split("unknown field `").nth(1) {
        let unknown = rest.split('`').next().unwrap_or("");
        let expected: Vec<&str> = message
            .split("expected one of ")
            .nth(1)
            .or_else(|| message.split("expected ").nth(1))
            .map(|l| l.split('`').skip(1).step_by(2).collect())
            .unwrap_or_default();
        if let Some(s) = palisade_detect::vars::suggest(unknown, expected.iter().copied()) {
            return format!("{message}; did you mean `{s}`?");
        }
        return message.to_string();
    }
    if ["odd number of digits", "invalid string length", "Invalid character"]
        .iter()
        .any(|m| message.contains(m))
    {
        return format!(
            "{message}: not an address or hash (0x and 40 hex digits for an address, 64 for a hash)"
        );
    }
    message.to_string()
}

/// Re-parses an entry as a detector kind's config type, for the line of its error.
struct Locate<'a> {
    src: &'a str,
    table: &'a str,
    index: usize,
}

impl palisade_detect::WithConfigType for Locate<'_> {
    type Out = Option<(usize, String)>;
    fn with<T: serde::de::DeserializeOwned>(self) -> Self::Out {
        entry_error::<T>(self.src, self.table, self.index)
    }
}

impl Config {
    /// Reads, parses and checks a config file.
    pub fn load(path: &Path) -> Result<Self, ConfigErrors> {
        let p = path.display().to_string();
        let src = std::fs::read_to_string(path).map_err(|e| {
            ConfigErrors(vec![ConfigError {
                path: p.clone(),
                line: None,
                field: None,
                message: format!("cannot read: {e}"),
            }])
        })?;
        Self::parse(&src, &p, path.parent().unwrap_or(Path::new(".")))
    }

    /// Parses and checks config text; `path` names it in errors and `base` resolves relative
    /// ABI paths.
    pub fn parse(src: &str, path: &str, base: &Path) -> Result<Self, ConfigErrors> {
        // Every mistake at once: after an error, the line it is on is blanked and the text read
        // again (up to a limit), so a file with three typos reports three errors, not one per
        // run. Blanking keeps line numbers. The entries of the arrays of tables are read first,
        // then the rest of the file without them.
        let syntax = |text: &str, e: toml::de::Error| ConfigError {
            path: path.into(),
            line: e.span().map(|s| line_of(text, s.start)),
            field: None,
            message: explain(e.message().trim()),
        };
        if let Err(e) = toml::from_str::<toml::Table>(src) {
            return Err(ConfigErrors(vec![syntax(src, e)]));
        }
        let mut all: Vec<ConfigError> = Vec::new();
        let mut blanked: Vec<String> = Vec::new();
        let mut note = |text: &mut String, e: ConfigError, all: &mut Vec<ConfigError>| -> bool {
            let dup = all.iter().any(|x| x.line == e.line && x.message == e.message);
            // A field missing because its line was blanked was reported already.
            let ours = blanked.iter().any(|k| e.message.contains(&format!("missing field `{k}`")));
            if dup || ours {
                return false;
            }
            let progressed = match e.line.and_then(|l| blank_line(text, l)) {
                Some(k) => {
                    blanked.push(k);
                    true
                }
                None => false,
            };
            all.push(e);
            progressed
        };
        let mut work = src.to_string();
        for _ in 0..MAX_ERRORS {
            let errs = Self::entry_errors(&work, path);
            let mut progressed = false;
            for e in errs {
                progressed |= note(&mut work, e, &mut all);
            }
            if !progressed {
                break;
            }
        }
        let mut rest = without_arrays(src);
        for _ in 0..MAX_ERRORS {
            match toml::from_str::<Config>(&rest) {
                Ok(_) => break,
                Err(e) => {
                    let e = syntax(&rest, e);
                    if !note(&mut rest, e, &mut all) {
                        break;
                    }
                }
            }
        }
        if !all.is_empty() {
            all.sort_by_key(|e| e.line.unwrap_or(0));
            return Err(ConfigErrors(all));
        }
        Self::parse_checked(src, path, base)
    }

    /// Each entry's first error (of the arrays of tables), or the syntax error of `src`.
    fn entry_errors(src: &str, path: &str) -> Vec<ConfigError> {
        let doc: toml::Table = match toml::from_str(src) {
            Ok(d) => d,
            Err(e) => {
                return vec![ConfigError {
                    path: path.into(),
                    line: e.span().map(|s| line_of(src, s.start)),
                    field: None,
                    message: explain(e.message().trim()),
                }]
            }
        };
        // Entries of the arrays of tables are checked one by one: serde loses the position of
        // errors inside tagged enums, and this names the entry and its line.
        let mut entry_errs = Vec::new();
        for &key in ARRAYS {
            let Some(toml::Value::Array(items)) = doc.get(key) else { continue };
            for (i, item) in items.iter().enumerate() {
                let r = match key {
                    "chains" => item.clone().try_into::<ChainConfig>().map(drop),
                    "beacon_chains" => item.clone().try_into::<BeaconChainConfig>().map(drop),
                    "comet_chains" => item.clone().try_into::<CometChainConfig>().map(drop),
                    "detectors" => item.clone().try_into::<DetectorConfig>().map(drop),
                    "responders" => {
                        item.clone().try_into::<palisade_respond::ResponderConfig>().map(drop)
                    }
                    _ => item.clone().try_into::<SinkConfig>().map(drop),
                };
                if let Err(e) = r {
                    // Re-parse the entry's own text as its concrete type to find the line.
                    let kind = item.get("type").and_then(toml::Value::as_str).unwrap_or("");
                    let precise = match (key, kind) {
                        ("chains", _) => entry_error::<ChainConfig>(src, key, i),
                        ("beacon_chains", _) => entry_error::<BeaconChainConfig>(src, key, i),
                        ("comet_chains", _) => entry_error::<CometChainConfig>(src, key, i),
                        ("detectors", kind) => palisade_detect::with_config_type(
                            kind,
                            Locate { src, table: key, index: i },
                        )
                        .flatten(),
                        _ => None,
                    };
                    let (line, message) = precise.unwrap_or_else(|| {
                        let message = e.message().trim().to_string();
                        // An unknown field is on its own line in the entry.
                        let unknown = message
                            .split("unknown field `")
                            .nth(1)
                            .and_then(|r| r.split('`').next())
                            .map(str::to_string);
                        let line = unknown
                            .and_then(|k| key_line(src, key, i, &k))
                            .or_else(|| table_line(src, key, i))
                            .unwrap_or(0);
                        (line, message)
                    });
                    let message = explain(&message);
                    entry_errs.push(ConfigError {
                        path: path.into(),
                        line: (line > 0).then_some(line),
                        field: Some(format!("{key}[{i}]")),
                        message,
                    });
                }
            }
        }
        entry_errs
    }

    /// Parses text that reads without error and checks what types cannot: names, references,
    /// ranges, URLs.
    fn parse_checked(src: &str, path: &str, base: &Path) -> Result<Self, ConfigErrors> {
        let syntax = |e: toml::de::Error| ConfigError {
            path: path.into(),
            line: e.span().map(|s| line_of(src, s.start)),
            field: None,
            message: explain(e.message().trim()),
        };
        let mut cfg: Config = toml::from_str(src).map_err(|e| ConfigErrors(vec![syntax(e)]))?;
        let mut errs = Vec::new();
        let err = |line: Option<usize>, field: String, message: String| ConfigError {
            path: path.into(),
            line,
            field: Some(field),
            message,
        };
        let mut names = std::collections::BTreeSet::new();
        let no_chains =
            cfg.chains.is_empty() && cfg.beacon_chains.is_empty() && cfg.comet_chains.is_empty();
        for (i, c) in cfg.comet_chains.iter().enumerate() {
            let line = table_line(src, "comet_chains", i);
            let f = |k: &str| format!("comet_chains[{i}].{k}");
            if c.name.trim().is_empty() {
                errs.push(err(line, f("name"), "must not be empty".into()));
            }
            if !names.insert(c.name.clone()) {
                errs.push(err(line, f("name"), format!("duplicate chain name {:?}", c.name)));
            }
            if c.endpoints.is_empty() {
                errs.push(err(line, f("endpoints"), "at least one endpoint is needed".into()));
            }
            for e in &c.endpoints {
                if let Err(e) = palisade_source::comet_rpc::CometClient::new(
                    &e.url,
                    e.ws.as_deref(),
                    std::time::Duration::from_millis(c.timeout_ms),
                ) {
                    errs.push(err(line, f("endpoints"), e.to_string()));
                }
            }
            if c.chain_id.trim().is_empty() {
                errs.push(err(line, f("chain_id"), "must not be empty".into()));
            }
            for (field, v) in
                [("timeout_ms", c.timeout_ms), ("poll_interval_ms", c.poll_interval_ms)]
            {
                if v == 0 {
                    errs.push(err(line, f(field), "must be at least 1".into()));
                }
            }
            common_chain_checks(
                &mut errs,
                &err,
                line,
                &format!("comet_chains[{i}]"),
                None,
                c.confirmations,
            );
        }
        for (i, c) in cfg.beacon_chains.iter().enumerate() {
            let line = table_line(src, "beacon_chains", i);
            let f = |k: &str| format!("beacon_chains[{i}].{k}");
            if c.name.trim().is_empty() {
                errs.push(err(line, f("name"), "must not be empty".into()));
            }
            if !names.insert(c.name.clone()) {
                errs.push(err(line, f("name"), format!("duplicate chain name {:?}", c.name)));
            }
            if c.endpoints.is_empty() {
                errs.push(err(line, f("endpoints"), "at least one endpoint is needed".into()));
            }
            for e in &c.endpoints {
                if let Err(e) = palisade_source::beacon_api::BeaconClient::new(
                    &e.url,
                    std::time::Duration::from_millis(c.timeout_ms),
                ) {
                    errs.push(err(line, f("endpoints"), e.to_string()));
                }
            }
            if let Err(e) = c.network() {
                errs.push(err(line, f("network"), e.to_string()));
            }
            if c.checkpoint.is_none() && !c.trust_node_checkpoint {
                errs.push(err(
                    line,
                    f("checkpoint"),
                    "a trusted block root is needed (or trust_node_checkpoint = true)".into(),
                ));
            }
            if c.max_reorg_depth == 0 {
                errs.push(err(line, f("max_reorg_depth"), "must be at least 1".into()));
            }
            for (field, v) in
                [("timeout_ms", c.timeout_ms), ("poll_interval_ms", c.poll_interval_ms)]
            {
                if v == 0 {
                    errs.push(err(line, f(field), "must be at least 1".into()));
                }
            }
            common_chain_checks(
                &mut errs,
                &err,
                line,
                &format!("beacon_chains[{i}]"),
                None,
                c.confirmations,
            );
        }
        for (i, c) in cfg.chains.iter().enumerate() {
            let line = table_line(src, "chains", i);
            if c.name.trim().is_empty() {
                errs.push(err(line, format!("chains[{i}].name"), "must not be empty".into()));
            }
            if !names.insert(c.name.clone()) {
                errs.push(err(
                    line,
                    format!("chains[{i}].name"),
                    format!("duplicate chain name {:?}", c.name),
                ));
            }
            if c.endpoints.is_empty() {
                errs.push(err(
                    line,
                    format!("chains[{i}].endpoints"),
                    "at least one endpoint is needed".into(),
                ));
            }
            for e in &c.endpoints {
                if let Err(e) = palisade_source::evm_rpc::RpcClient::new(e, &c.rpc) {
                    errs.push(err(line, format!("chains[{i}].endpoints"), e.to_string()));
                }
            }
            if let Some(q) = c.quorum {
                if q == 0 || q > c.endpoints.len() {
                    errs.push(err(
                        line,
                        format!("chains[{i}].quorum"),
                        format!(
                            "must be between 1 and the number of endpoints ({}), got {q}",
                            c.endpoints.len()
                        ),
                    ));
                }
            }
            if c.max_reorg_depth == 0 {
                errs.push(err(
                    line,
                    format!("chains[{i}].max_reorg_depth"),
                    "must be at least 1".into(),
                ));
            }
            for (field, v) in [
                ("rpc.timeout_ms", c.rpc.timeout_ms),
                ("rpc.poll_interval_ms", c.rpc.poll_interval_ms),
                ("rpc.concurrency", c.rpc.concurrency as u64),
            ] {
                if v == 0 {
                    errs.push(err(
                        line,
                        format!("chains[{i}].{field}"),
                        "must be at least 1".into(),
                    ));
                }
            }
            if c.mempool.enabled {
                for (field, v) in [
                    ("mempool.sim_timeout_ms", c.mempool.sim_timeout_ms),
                    ("mempool.sim_workers", c.mempool.sim_workers as u64),
                    ("mempool.max_pending", c.mempool.max_pending as u64),
                ] {
                    if v == 0 {
                        errs.push(err(
                            line,
                            format!("chains[{i}].{field}"),
                            "must be at least 1".into(),
                        ));
                    }
                }
            }
            common_chain_checks(
                &mut errs,
                &err,
                line,
                &format!("chains[{i}]"),
                c.start_block,
                c.confirmations,
            );
        }
        let mut ids = std::collections::BTreeSet::new();
        for (i, d) in cfg.detectors.iter().enumerate() {
            let line = table_line(src, "detectors", i);
            for ch in d.chains() {
                if !no_chains && !names.contains(ch) {
                    errs.push(err(
                        line,
                        format!("detectors[{i}].chain"),
                        format!("no chain named {ch:?}"),
                    ));
                }
            }
            let abi = match d.side_file() {
                Some((field, p)) => {
                    let bundled = p.to_str().is_some_and(|s| s.starts_with("bundled:"));
                    let full = if bundled { p.to_path_buf() } else { base.join(p) };
                    match DetectorConfig::read_side_file(&full) {
                        Ok(s) => Some(s),
                        Err(e) => {
                            errs.push(err(
                                line,
                                format!("detectors[{i}].{field}"),
                                format!("cannot read {}: {e}", full.display()),
                            ));
                            continue;
                        }
                    }
                }
                None => None,
            };
            let check_chain = d.chains().first().copied().unwrap_or("check");
            let built = if d.pending_only() {
                d.build_pending(check_chain, abi.as_deref()).map(|p| p.map(|p| p.id().to_string()))
            } else {
                d.build(check_chain, abi.as_deref(), &palisade_detect::Links::default())
                    .map(|det| Some(det.id().to_string()))
            };
            match built {
                Ok(Some(id)) => {
                    if !ids.insert(id.clone()) {
                        errs.push(err(
                            line,
                            format!("detectors[{i}]"),
                            format!("duplicate detector id {id:?} (set `name`)"),
                        ));
                    }
                }
                Ok(None) => {}
                Err(palisade_detect::DetectError::Config { field, reason, .. }) => {
                    errs.push(err(line, format!("detectors[{i}].{field}"), reason));
                }
                Err(e) => errs.push(err(line, format!("detectors[{i}]"), e.to_string())),
            }
        }
        let mut responder_names = std::collections::BTreeSet::new();
        for (i, r) in cfg.responders.iter().enumerate() {
            let line = table_line(src, "responders", i);
            if let Err(e) = r.check() {
                let (field, message) = match e {
                    palisade_respond::RespondError::Config { field, reason, .. } => (field, reason),
                    other => ("".into(), other.to_string()),
                };
                errs.push(err(line, format!("responders[{i}].{field}"), message));
                continue;
            }
            if !responder_names.insert(r.name.clone()) {
                errs.push(err(
                    line,
                    format!("responders[{i}].name"),
                    format!("duplicate responder name {:?}", r.name),
                ));
            }
            if let Some(ch) = &r.chain {
                if !cfg.chains.iter().any(|c| &c.name == ch)
                    && (r.kind == palisade_respond::ActionKind::PauseTx || !names.contains(ch))
                {
                    errs.push(err(
                        line,
                        format!("responders[{i}].chain"),
                        format!("no EVM chain named {ch:?}"),
                    ));
                }
            }
            for d in &r.policy.detectors {
                if !ids.contains(d)
                    && !cfg.detectors.iter().any(|c| c.kind() == d)
                    && !["chain_health", "source_health", "source_integrity"].contains(&d.as_str())
                {
                    errs.push(err(
                        line,
                        format!("responders[{i}].policy.detectors"),
                        format!("no detector with id or type {d:?} in this config"),
                    ));
                }
            }
        }
        let sink_ids: Vec<String> = cfg.sinks.iter().map(|s| s.id()).collect();
        let named = |field: String, names: &[String], errs: &mut Vec<ConfigError>| {
            for n in names {
                if !sink_ids.contains(n) {
                    let hint =
                        palisade_detect::vars::suggest(n, sink_ids.iter().map(String::as_str))
                            .map(|s| format!(", did you mean {s:?}?"))
                            .unwrap_or_default();
                    errs.push(err(
                        None,
                        field.clone(),
                        format!("no sink named {n:?}{hint} (sinks: {})", sink_ids.join(", ")),
                    ));
                }
            }
        };
        for (i, r) in cfg.routes.iter().enumerate() {
            if r.sinks.is_empty() {
                errs.push(err(None, format!("routes[{i}].sinks"), "name at least one sink".into()));
            }
            named(format!("routes[{i}].sinks"), &r.sinks, &mut errs);
        }
        if let Some(d) = &cfg.default_route {
            named("default_route".into(), d, &mut errs);
        }
        if let Err(e) = palisade_alert::build_sinks(&cfg.sinks, &cfg.data_dir) {
            errs.push(err(None, "sinks".into(), e.to_string()));
        }
        if !cfg.api.listen.is_empty() && cfg.api.listen.parse::<std::net::SocketAddr>().is_err() {
            errs.push(err(
                None,
                "api.listen".into(),
                format!("not an address:port: {:?}", cfg.api.listen),
            ));
        }
        if let Err(e) = cfg.risk.check() {
            errs.push(err(None, "risk".into(), e.to_string()));
        }
        // The chains the risk config names must be chains of this config (a replay-only
        // config names none).
        let named: Vec<&str> = cfg.chains.iter().map(|c| c.name.as_str()).collect();
        if !named.is_empty() {
            let mut unknown = |field: String, chain: &str| {
                if !named.contains(&chain) {
                    errs.push(err(
                        None,
                        field,
                        format!(
                            "no [[chains]] entry is named {chain:?} (chains: {})",
                            named.join(", ")
                        ),
                    ));
                }
            };
            for (i, r) in cfg.risk.rollups.iter().enumerate() {
                unknown(format!("risk.rollups[{i}].chain"), &r.chain);
            }
            for (i, f) in cfg.risk.sequencer_feeds.iter().enumerate() {
                unknown(format!("risk.sequencer_feeds[{i}].chain"), &f.chain);
            }
        }
        // Off localhost, the API is not open to anyone who can reach it: reads need a token,
        // unless it is meant as a public read-only dashboard.
        if let Ok(addr) = cfg.api.listen.parse::<std::net::SocketAddr>() {
            let read_token = cfg.api.tokens.iter().any(|t| t.scope == ApiScope::Read)
                || std::env::var_os("PALISADE_API_READ_TOKEN").is_some();
            if !addr.ip().is_loopback() && !cfg.api.read_only && !read_token {
                errs.push(err(
                    None,
                    "api.listen".into(),
                    format!("{addr} is reachable from other machines: add a read token ([[api.tokens]] with scope = \"read\") or set read_only = true for a public read-only dashboard"),
                ));
            }
        }
        for (i, t) in cfg.api.tokens.iter().enumerate() {
            if t.name.trim().is_empty() {
                errs.push(err(None, format!("api.tokens[{i}].name"), "must not be empty".into()));
            }
            if t.token.unset_env().is_none() && t.token.expose().len() < 16 {
                errs.push(err(
                    None,
                    format!("api.tokens[{i}].token"),
                    "too short: use 16 characters or more (the value is not shown)".into(),
                ));
            }
        }
        if !errs.is_empty() {
            return Err(ConfigErrors(errs));
        }
        // Resolve side-file paths against the config file's directory now, so later reads are
        // exact.
        for d in &mut cfg.detectors {
            d.resolve_paths(base);
        }
        // The index's oracle freshness judges the feeds the oracle detectors watch.
        let detectors = cfg.detectors.clone();
        cfg.risk.adopt_oracle_feeds(&detectors);
        Ok(cfg)
    }

    /// Checks that `palisade run` can run this config and deliver what it finds: there is a
    /// chain to watch, the store URL is one Palisade speaks, and the data directory is a
    /// directory (or can be created). `validate` and `run` ask this; a config for `replay` only
    /// needs [`Config::parse`].
    pub fn check_runnable(&self, path: &str) -> Result<(), ConfigErrors> {
        let mut errs = Vec::new();
        let err = |field: &str, message: String| ConfigError {
            path: path.into(),
            line: None,
            field: Some(field.into()),
            message,
        };
        if self.chains.is_empty() && self.beacon_chains.is_empty() && self.comet_chains.is_empty() {
            errs.push(err(
                "chains",
                "nothing to monitor: add a [[chains]], [[beacon_chains]] or [[comet_chains]] entry (a config for `palisade replay` only: `palisade validate --replay`)".into(),
            ));
        }
        match self.store.url.as_deref() {
            None => {}
            Some(u) if u.starts_with("sqlite:") => {}
            Some(u) if u.starts_with("postgres://") || u.starts_with("postgresql://") => {}
            // The URL is not repeated: it may hold a password.
            Some(_) => errs.push(err(
                "store.url",
                "unsupported store: use sqlite://PATH or postgres://USER@HOST:PORT/DB (the value is not shown: it may hold a password)".into(),
            )),
        }
        if let Some(cl) = &self.cluster {
            if !self.store.url.as_deref().is_some_and(|u| u.starts_with("postgres")) {
                errs.push(err(
                    "store.url",
                    "[cluster] needs a shared PostgreSQL store (postgres://...): SQLite is one process's".into(),
                ));
            }
            if cl.node_id.trim().is_empty() {
                errs.push(err("cluster.node_id", "must not be empty".into()));
            }
            if cl.roles.is_empty() {
                errs.push(err(
                    "cluster.roles",
                    "name at least one of owner, deliverer, responder, api".into(),
                ));
            }
            if cl.lease_ttl_ms < 500 {
                errs.push(err(
                    "cluster.lease_ttl_ms",
                    format!("{} ms is too short to renew in time (at least 500)", cl.lease_ttl_ms),
                ));
            }
            if !cl.nats_url.starts_with("nats://") && !cl.nats_url.starts_with("tls://") {
                errs.push(err("cluster.nats_url", "must start with nats:// or tls://".into()));
            }
        }
        // Secrets named by environment variable: `run` needs them set (the values are never
        // shown; commands that do not use them read the config without them).
        for (i, sink) in self.sinks.iter().enumerate() {
            for (field, var) in sink.unset_secrets() {
                errs.push(err(
                    &format!("sinks[{i}] ({}).{field}", sink.id()),
                    format!("environment variable {var} is not set"),
                ));
            }
        }
        for (i, r) in self.responders.iter().enumerate() {
            for (field, var) in r.unset_env() {
                errs.push(err(
                    &format!("responders[{i}] ({}).{field}", r.name),
                    format!("environment variable {var} is not set"),
                ));
            }
        }
        // The nearest existing ancestor of the data directory must be a directory.
        let mut p = self.data_dir.as_path();
        loop {
            match std::fs::metadata(p) {
                Ok(m) if m.is_dir() => break,
                Ok(_) => {
                    errs.push(err(
                        "data_dir",
                        format!(
                            "{} is not a directory ({} is a file)",
                            self.data_dir.display(),
                            p.display()
                        ),
                    ));
                    break;
                }
                Err(_) => match p.parent() {
                    Some(up) if !up.as_os_str().is_empty() => p = up,
                    _ => break,
                },
            }
        }
        if errs.is_empty() {
            Ok(())
        } else {
            Err(ConfigErrors(errs))
        }
    }

    /// The store URL (default: SQLite in the data directory).
    pub fn store_url(&self) -> String {
        self.store.url.clone().unwrap_or_else(|| {
            format!("sqlite://{}", self.data_dir.join("palisade.sqlite").display())
        })
    }

    /// Builds the detectors that apply to `chain`.
    pub fn detectors_for(
        &self,
        chain: &str,
    ) -> eyre::Result<Vec<Box<dyn palisade_detect::Detector>>> {
        build_detectors(&self.detectors, chain, &self.links)
    }
}

/// Builds detectors for a chain from their configs, reading their side files.
pub fn build_detectors(
    cfgs: &[DetectorConfig],
    chain: &str,
    links: &palisade_detect::Links,
) -> eyre::Result<Vec<Box<dyn palisade_detect::Detector>>> {
    let mut out = Vec::new();
    for d in cfgs {
        if !d.applies_to(chain) || d.pending_only() {
            continue;
        }
        let abi = match d.side_file() {
            Some((_, p)) => Some(
                DetectorConfig::read_side_file(p)
                    .map_err(|e| eyre::eyre!("{}: {e}", p.display()))?,
            ),
            None => None,
        };
        out.push(d.build(chain, abi.as_deref(), links)?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<Config, ConfigErrors> {
        Config::parse(s, "t.toml", Path::new("."))
    }

    /// Issue 13: every mistake in one run, each at its line, with the field meant.
    #[test]
    fn every_error_comes_at_once_with_the_field_meant() {
        let src = "data_dir = 'x'\ndat_dir = 'y'\n\n[api]\nlisen = 'x'\n\n[store]\nulr = 'sqlite://x'\n\n[[chains]]\nname = 'a'\nchain_id = 'one'\nendpoints = [{ url = 'http://127.0.0.1:8545' }]\nconfirmations = -1\n\n[[sinks]]\ntype = 'webhook'\nulr = 'http://x'\n\n[[detectors]]\ntype = 'liquidity_drain'\nname = 'd'\ncontracts = ['0x123']\n";
        let e = parse(src).unwrap_err();
        let got: Vec<(Option<usize>, &str)> =
            e.0.iter().map(|x| (x.line, x.message.as_str())).collect();
        let at = |line: usize, says: &str| {
            assert!(
                got.iter().any(|(l, m)| *l == Some(line) && m.contains(says)),
                "no error at line {line} saying {says:?}: {e}"
            )
        };
        at(2, "did you mean `data_dir`?");
        at(5, "did you mean `listen`?");
        at(8, "did you mean `url`?");
        at(12, "chain_id");
        at(14, "confirmations");
        at(18, "did you mean `url`?");
        at(23, "contracts");
        at(23, "not an address");
        assert!(e.0.windows(2).all(|w| w[0].line <= w[1].line), "in file order: {e}");
    }

    #[test]
    fn errors_point_at_lines_and_fields() {
        let e = parse("data_dir = 'x'\nbogus = 1\n").unwrap_err();
        assert_eq!(e.0[0].line, Some(2), "{e}");
        assert!(e.to_string().contains("bogus"), "{e}");

        let src = "[[chains]]\nname = 'a'\nchain_id = 1\nendpoints = [{ url = 'http://127.0.0.1:1' }]\n\n[[detectors]]\ntype = 'rule'\nname = 'r'\nfunctions = [{ signature = 'transfer(address to, uint256 amount)', expression = 'amout > 1' }]\n";
        let e = parse(src).unwrap_err();
        assert_eq!(e.0[0].line, Some(6), "{e}");
        assert_eq!(e.0[0].field.as_deref(), Some("detectors[0].functions[0].expression"), "{e}");
        assert!(e.0[0].message.contains("amout"), "{e}");

        let e = parse("[[detectors]]\ntype = 'nope'\n").unwrap_err();
        assert!(e.to_string().contains("nope"), "{e}");
        let e = parse("[[chains]]\nname = 'a'\nchain_id = 1\nendpoints = [{ url = 'ftp://x' }]\n")
            .unwrap_err();
        assert!(e.to_string().contains("scheme"), "{e}");
        let e = parse("data_dir = 'x'\n\n[[detectors]]\ntype = 'chain_health'\n\n[[detectors]]\ntype = 'chain_health'\nname = 'b'\nwindow = 'many'\n").unwrap_err();
        assert_eq!(e.0[0].line, Some(9), "{e}");
        assert_eq!(e.0[0].field.as_deref(), Some("detectors[1]"), "{e}");
        assert!(e.0[0].message.contains("many"), "{e}");
        // Inside a sub-table of an entry.
        let e = parse("[[detectors]]\ntype = 'rule'\nname = 'r'\n\n[[detectors.functions]]\nsignature = 'f()'\ninclude_internal = 'yes'\n").unwrap_err();
        assert_eq!(e.0[0].line, Some(7), "{e}");
        // Issue 13: every detector kind, not only rule and chain_health, points at the line and
        // names the key of a bad value (a short address said only "odd number of digits").
        let e = parse("[[detectors]]\ntype = 'admin_call'\nname = 'a'\n\ncontracts = ['0xabc']\n")
            .unwrap_err();
        assert_eq!(e.0[0].line, Some(5), "{e}");
        assert!(e.0[0].message.starts_with("contracts: "), "{e}");
        // Issue 13: a route to a sink that does not exist, with the name meant.
        let e = parse("[[sinks]]\ntype = 'stdout'\nname = 'pager'\n\n[[routes]]\nmin_severity = 'critical'\nsinks = ['pagr']\n")
            .unwrap_err();
        assert_eq!(e.0[0].field.as_deref(), Some("routes[0].sinks"), "{e}");
        assert!(e.0[0].message.contains("did you mean \"pager\""), "{e}");
        let ok = parse("[[sinks]]\ntype = 'stdout'\nname = 'pager'\n\n[[sinks]]\ntype = 'stdout'\nname = 'chat'\n\n[[routes]]\nmin_severity = 'critical'\nstages = ['pending']\nsinks = ['pager']\n\ndefault_route = ['chat']\n");
        assert!(ok.is_err(), "default_route after a table belongs to the table: a config error");
        let cfg = parse("default_route = ['chat']\n\n[[sinks]]\ntype = 'stdout'\nname = 'pager'\n\n[[sinks]]\ntype = 'stdout'\nname = 'chat'\n\n[[routes]]\nmin_severity = 'critical'\nstages = ['pending']\nsinks = ['pager']\n").unwrap();
        assert_eq!(cfg.routes[0].sinks, ["pager"]);
        assert_eq!(cfg.default_route.as_deref(), Some(&["chat".to_string()][..]));
        let e = parse("[[detectors]]\ntype = 'sandwich'\nname = 's'\nmin_victims = 'lots'\n")
            .unwrap_err();
        assert_eq!(e.0[0].line, Some(4), "{e}");
    }

    #[test]
    fn rules_resolve_bare_names_from_an_abi_file_relative_to_the_config() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/contracts");
        let src = "[[detectors]]\ntype = 'rule'\nname = 'owner'\nabi = 'Vault.json'\nfunctions = [{ signature = 'setOwner', expression = 'newOwner != 0x0000000000000000000000000000000000000000' }]\nevents = [{ signature = 'OwnerChanged' }]\n";
        let cfg = Config::parse(src, "c.toml", &dir).unwrap();
        let d = cfg.detectors_for("anvil").unwrap();
        assert_eq!(d[0].id(), "rule:owner");
        // A name that is not in the ABI, and a missing file, are errors with the field.
        let e = Config::parse(&src.replace("'setOwner'", "'setOwnr'"), "c.toml", &dir).unwrap_err();
        assert_eq!(e.0[0].field.as_deref(), Some("detectors[0].functions[0].signature"), "{e}");
        let e = Config::parse(&src.replace("Vault.json", "Nope.json"), "c.toml", &dir).unwrap_err();
        assert_eq!(e.0[0].field.as_deref(), Some("detectors[0].abi"), "{e}");
    }

    #[test]
    fn examples_are_valid() {
        // examples/mainnet.toml reads its webhook secrets from the environment.
        std::env::set_var("PALISADE_WEBHOOK_URL", "http://127.0.0.1:9/hook");
        std::env::set_var("PALISADE_WEBHOOK_SECRET", "example");
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
        let mut n = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let p = entry.unwrap().path();
            if p.extension().is_some_and(|e| e == "toml") {
                Config::load(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
                n += 1;
            }
        }
        assert!(n >= 2, "expected example configs in {}", dir.display());
    }

    /// Issue 13: an example config copied out of the repository still loads and builds its
    /// detectors (its labels are built in, not a path into testdata/).
    #[test]
    fn examples_work_when_copied_elsewhere() {
        std::env::set_var("PALISADE_WEBHOOK_URL", "http://127.0.0.1:9/hook");
        std::env::set_var("PALISADE_WEBHOOK_SECRET", "example");
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
        let away = tempfile::tempdir().unwrap();
        for entry in std::fs::read_dir(&dir).unwrap() {
            let p = entry.unwrap().path();
            if p.extension().is_some_and(|e| e == "toml") {
                let copy = away.path().join(p.file_name().unwrap());
                std::fs::copy(&p, &copy).unwrap();
                let cfg = Config::load(&copy).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
                for c in &cfg.chains {
                    cfg.detectors_for(&c.name).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
                }
            }
        }
        let e = DetectorConfig::read_side_file(Path::new("bundled:nope")).unwrap_err();
        assert!(e.to_string().contains("forta-etherscan-malicious-labels"), "{e}");
        let labels =
            DetectorConfig::read_side_file(Path::new("bundled:forta-etherscan-malicious-labels"))
                .unwrap();
        assert!(labels.lines().count() > 7_000);
    }
}

#[cfg(test)]
mod doc_tests {
    #[test]
    fn the_config_reference_documents_every_detector_field() {
        let doc = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/config.md"),
        )
        .unwrap();
        let policy =
            serde_json::to_value(palisade_source::health::HealthPolicy::default()).unwrap();
        for k in policy.as_object().unwrap().keys() {
            assert!(doc.contains(&format!("| `health.{k}` |")), "docs/config.md lacks health.{k}");
        }
        for k in ["quorum", "genesis_hash", "verification", "confirmations", "max_reorg_depth"] {
            assert!(doc.contains(&format!("| `{k}` |")), "docs/config.md lacks chains.{k}");
        }
        for d in palisade_detect::catalog() {
            assert!(
                doc.contains(&format!("### `{}`", d.kind)),
                "docs/config.md lacks detector {}",
                d.kind
            );
            for f in &d.fields {
                assert!(
                    doc.contains(&format!("| `{}` |", f.name)),
                    "docs/config.md lacks {}.{}",
                    d.kind,
                    f.name
                );
            }
        }
    }
}

#[cfg(test)]
mod cluster_tests {
    use super::*;

    fn parse(src: &str) -> Result<Config, ConfigErrors> {
        Config::parse(src, "t.toml", Path::new("."))
    }

    const CHAIN: &str =
        "[[chains]]\nname = 'c'\nchain_id = 1\nendpoints = [{ url = 'http://127.0.0.1:1' }]\n";

    #[test]
    fn a_cluster_needs_postgres_and_a_name() {
        let c = parse(&format!("[cluster]\nnats_url = 'nats://127.0.0.1:4222'\nnode_id = ''\nroles = []\nlease_ttl_ms = 10\n{CHAIN}")).unwrap();
        let errs = c.check_runnable("t.toml").unwrap_err().to_string();
        for f in ["store.url", "cluster.node_id", "cluster.roles", "cluster.lease_ttl_ms"] {
            assert!(errs.contains(f), "{f}: {errs}");
        }
        let c = parse(&format!("[store]\nurl = 'postgres://u@h/d'\n[cluster]\nnats_url = 'nats://127.0.0.1:4222'\nnode_id = 'a'\n{CHAIN}")).unwrap();
        c.check_runnable("t.toml").unwrap();
        let cl = c.cluster.unwrap();
        assert_eq!(cl.roles, Role::ALL.to_vec(), "every role by default");
        assert_eq!(cl.lease_ttl_ms, 5000);
        assert!(parse("[cluster]\nnats_url = 'x'\nnode_id = 'a'\nroles = ['boss']\n").is_err());
    }

    #[test]
    fn settings_come_from_each_kind_of_chain() {
        let c = parse(&format!("{CHAIN}confirmations = 3\nstart_block = 7\n")).unwrap();
        let s: ChainSettings = (&c.chains[0]).into();
        assert_eq!(
            (s.name.as_str(), s.confirmations, s.start_block, s.max_reorg_depth),
            ("c", 3, Some(7), 64)
        );
    }
}
