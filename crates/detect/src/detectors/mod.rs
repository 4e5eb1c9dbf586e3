//! One module per detector.

pub mod admin_call;
pub mod anomaly;
pub mod assertion;
pub mod beacon;
pub mod bridge_invariant;
pub mod chain_health;
pub mod comet;
pub mod contract_deployment;
pub mod exploit_shape;
pub mod liquidation_health;
pub mod liquidity_drain;
pub mod mempool_frontrun;
pub mod oracle;
pub mod rule;
pub mod sandwich;
pub mod simulation;
pub mod storage_watch;
pub mod upgrade_audit;

pub(crate) fn median(xs: &mut [u128]) -> Option<u128> {
    if xs.is_empty() {
        return None;
    }
    xs.sort_unstable();
    let m = xs.len() / 2;
    Some(if xs.len() % 2 == 1 { xs[m] } else { (xs[m - 1] + xs[m]) / 2 })
}
