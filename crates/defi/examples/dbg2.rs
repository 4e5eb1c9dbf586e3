//! scratch
fn main() {
    let f = std::env::args().nth(1).unwrap();
    for b in palisade_testing::fixtures::blocks(&f) {
        let a = palisade_defi::classify(&b);
        println!("block {} txs {}", b.header.number, a.txs.len());
        for t in &a.txs {
            for s in &t.swaps {
                println!(
                    "  tx {} swap {:?} {:?} pool {} from {} to {} {} {} -> {} {} res {:?}",
                    t.index,
                    s.at,
                    s.protocol,
                    s.pool,
                    s.from,
                    s.to,
                    s.token_in,
                    s.amount_in,
                    s.token_out,
                    s.amount_out,
                    s.reserves
                );
            }
            for l in &t.liquidations {
                println!("  tx {} liq {:?}", t.index, l);
            }
            for l in &t.flash_loans {
                println!("  tx {} flash {:?}", t.index, l);
            }
            for l in &t.arbitrages {
                println!("  tx {} arb {:?}", t.index, l);
            }
        }
        for s in palisade_defi::sandwiches(&a) {
            println!("SANDWICH {:?}", s);
        }
    }
}
