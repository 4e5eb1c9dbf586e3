//! Profiling aid: decodes the bundled mev-inspect lines in a loop, next to a `serde_json::Value`
//! parse of the same lines (fastest pass of each, so a noisy machine shows its quiet moments).
//! `cargo run --release -p palisade-defi --example decode_loop [-- --decode-only]`
fn main() {
    let text = palisade_testing::fixtures::text("mainnet/mev-inspect-20.jsonl.zst");
    let lines: Vec<&str> = text.lines().collect();
    let fastest = |f: &mut dyn FnMut()| {
        (0..40)
            .map(|_| {
                let t = std::time::Instant::now();
                f();
                t.elapsed().as_secs_f64() / lines.len() as f64 * 1e6
            })
            .fold(f64::MAX, f64::min)
    };
    let decode = fastest(&mut || {
        for l in &lines {
            std::hint::black_box(palisade_primitives::BlockData::from_json_line(l).ok());
        }
    });
    if std::env::args().nth(1).as_deref() == Some("--decode-only") {
        println!("decode: {decode:.1} us/block");
        return;
    }
    let parse = fastest(&mut || {
        for l in &lines {
            std::hint::black_box(serde_json::from_str::<serde_json::Value>(l).ok());
        }
    });
    println!(
        "decode: {decode:.1} us/block; Value parse: {parse:.1} us/block; ratio {:.2}x",
        decode / parse
    );
}
