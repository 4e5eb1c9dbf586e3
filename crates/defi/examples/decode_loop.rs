//! Profiling aid: decodes the bundled mev-inspect lines in a loop.
//! `cargo run --release -p palisade-defi --example decode_loop`
fn main() {
    let text = palisade_testing::fixtures::text("mainnet/mev-inspect-20.jsonl.zst");
    let lines: Vec<&str> = text.lines().collect();
    let t = std::time::Instant::now();
    let mut n = 0;
    for _ in 0..30 {
        for l in &lines {
            if let Ok(b) = palisade_primitives::BlockData::from_json_line(l) {
                n += b.transactions.len();
            }
        }
    }
    let per = t.elapsed().as_secs_f64() / (30 * lines.len()) as f64;
    println!("{n} txs; decode: {:.1} us/block", per * 1e6);
}
