//! Profiling aid: decodes and classifies the bundled mev-inspect blocks in a loop.
//! `cargo run --release -p palisade-defi --example classify_loop`
fn main() {
    let blocks = palisade_testing::fixtures::blocks("mainnet/mev-inspect-20.jsonl.zst");
    let t = std::time::Instant::now();
    let mut n = 0;
    for _ in 0..50 {
        for b in &blocks {
            let a = palisade_defi::classify(b);
            n += palisade_defi::sandwiches(&a).len() + a.txs.len();
        }
    }
    let per = t.elapsed().as_secs_f64() / (50 * blocks.len()) as f64;
    println!("{n} items; classify + sandwiches: {:.1} us/block", per * 1e6);
}
