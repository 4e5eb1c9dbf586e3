//! A recorded block through the DeFi decoders and every execution-layer detector: no panic,
//! whatever the logs, traces, view calls and code say, and decoding is deterministic.
#![no_main]
use libfuzzer_sys::fuzz_target;
use palisade_detect::DetectorConfig;
use palisade_primitives::{BlockData, ChainSegment, Findings};
use std::sync::{Arc, OnceLock};

const A: &str = "0x5fbdb2315678afecb367f032d93f642f64180aa3";
const B: &str = "0xe7f1725e7734ce288f8367e1bb143e90bb3f0512";

fn configs() -> &'static Vec<DetectorConfig> {
    static C: OnceLock<Vec<DetectorConfig>> = OnceLock::new();
    C.get_or_init(|| {
        [
            "type = 'sandwich'".to_string(),
            format!("type = 'admin_call'\nname = 'a'\ncontracts = ['{A}', '{B}']\nfunctions = ['transferOwnership(address)', 'upgradeTo(address)']"),
            format!("type = 'contract_deployment'\nmin_score = 0\nwatched = ['{A}']\nlabelled = ['{B}']"),
            format!("type = 'liquidity_drain'\nname = 'd'\ncontracts = ['{A}', '{B}']\ntokens = [{{ token = '{B}', max_outflow = '1' }}, {{ token = '0xeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee' }}]\nwindow_blocks = 2"),
            format!("type = 'oracle'\nname = 'o'\nfeeds = [{{ address = '{A}', heartbeat_secs = 60, reference_feed = '{B}' }}, {{ address = '{B}', heartbeat_secs = 60, reference_pool = {{ address = '{A}' }} }}]\ntwap = [{{ address = '{A}', window_blocks = 2 }}]"),
            format!("type = 'liquidation_health'\nname = 'l'\nmarkets = ['{A}']\nfeed = '{B}'\nwindow_blocks = 2\ngrace_blocks = 1"),
            format!("type = 'bridge_invariant'\nname = 'b'\nsource_chain = 'x'\ndest_chain = 'mainnet'\nsource_contract = '{B}'\ndest_contract = '{A}'\nlock_event = 'Locked(address indexed sender, uint256 amount, uint256 nonce)'\nmint_event = 'Transfer(address indexed from, address indexed nonce, uint256 amount)'"),
        ]
        .iter()
        .map(|s| toml::from_str(s).expect("fuzz config"))
        .collect()
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    let Ok(b) = BlockData::from_json_line(s) else { return };
    let a = palisade_defi::classify(&b);
    let _ = palisade_defi::sandwiches(&a);
    assert_eq!(a, palisade_defi::classify(&b), "classification is not deterministic");
    let Ok(seg) = ChainSegment::new(vec![Arc::new(b)]) else { return };
    for c in configs() {
        let Ok(mut d) = c.build("mainnet", None, &Default::default()) else { continue };
        let mut out = Findings::new();
        let _ = d.commit(&seg, &mut out);
        let _ = d.checkpoint();
        let _ = d.revert(&seg, &mut out);
    }
});
