//! `[cluster]`: several processes sharing the work through NATS JetStream and PostgreSQL.

use serde::{Deserialize, Serialize};

/// A part of the work a process takes in a cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Owns chains (one owner per chain at a time, by lease): votes, fetches, verifies,
    /// tracks, detects and stores them, and publishes the verified chain.
    Owner,
    /// Drains the outbox: delivers notifications to sinks (one deliverer per sink at a time).
    Deliverer,
    /// Runs responders on the findings the owners store.
    Responder,
    /// Serves the HTTP API from the shared store and the verified-chain streams.
    Api,
}

impl Role {
    /// Every role.
    pub const ALL: [Role; 4] = [Role::Owner, Role::Deliverer, Role::Responder, Role::Api];

    /// As written in configs.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Owner => "owner",
            Self::Deliverer => "deliverer",
            Self::Responder => "responder",
            Self::Api => "api",
        }
    }
}

/// `[cluster]`. Without it, one process does everything with in-process channels.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterConfig {
    /// NATS server with JetStream (required), `nats://127.0.0.1:4222`.
    pub nats_url: String,
    /// This process's name in the cluster, unique (required).
    pub node_id: String,
    /// The roles this process takes (default: all of them).
    #[serde(default = "all_roles")]
    pub roles: Vec<Role>,
    /// How long a chain's lease lasts without renewal, in milliseconds (default 5000): a
    /// standby takes over a chain this long after its owner stopped renewing.
    #[serde(default = "lease_ttl")]
    pub lease_ttl_ms: u64,
    /// Prefix of the JetStream buckets and streams (default `palisade`), so that several
    /// clusters can share one NATS server.
    #[serde(default = "prefix")]
    pub prefix: String,
}

fn all_roles() -> Vec<Role> {
    Role::ALL.to_vec()
}

fn lease_ttl() -> u64 {
    5_000
}

fn prefix() -> String {
    "palisade".into()
}

impl ClusterConfig {
    /// True when this process takes `r`.
    pub fn has(&self, r: Role) -> bool {
        self.roles.contains(&r)
    }
}
