//! One module per detector.

pub mod chain_health;
pub mod rule;
pub mod storage_watch;

pub(crate) fn median(xs: &mut [u128]) -> Option<u128> {
    if xs.is_empty() {
        return None;
    }
    xs.sort_unstable();
    let m = xs.len() / 2;
    Some(if xs.len() % 2 == 1 { xs[m] } else { (xs[m - 1] + xs[m]) / 2 })
}
