//! Robust statistics over small windows, exact and deterministic (sorted copies; no sampling).

/// The median (the mean of the two middle values of an even count); 0 for none.
pub fn median(xs: &[f64]) -> f64 {
    if xs.is_empty() {
        return 0.0;
    }
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// The median absolute deviation from `center`.
pub fn median_abs_dev(xs: &[f64], center: f64) -> f64 {
    let d: Vec<f64> = xs.iter().map(|x| (x - center).abs()).collect();
    median(&d)
}

/// The rank of `x` in `xs` from 0 (below all) to 1 (above all): the share of values below it,
/// ties counting half.
pub fn rank(xs: &[f64], x: f64) -> f64 {
    if xs.is_empty() {
        return 0.5;
    }
    let below = xs.iter().filter(|v| **v < x).count() as f64;
    let ties = xs.iter().filter(|v| **v == x).count() as f64;
    (below + ties / 2.0) / xs.len() as f64
}
