//! Human-readable output.

use palisade_primitives::Finding;
use palisade_store::AlertRow;

/// One line for a finding.
pub(crate) fn finding_line(f: &Finding) -> String {
    let txs = match f.tx_hashes.as_slice() {
        [] => String::new(),
        [one] => format!(" tx {one:#x}"),
        many => format!(" {} txs", many.len()),
    };
    format!(
        "{:<8} {:<8} {} {}{}: {}",
        f.severity.as_str().to_uppercase(),
        f.chain,
        f.detector,
        f.anchor,
        txs,
        f.title
    )
}

/// One line for a stored alert.
pub(crate) fn alert_line(r: &AlertRow) -> String {
    format!("{:.12}  {:<8} {}", r.finding.key.to_string(), r.status, finding_line(&r.finding))
}
