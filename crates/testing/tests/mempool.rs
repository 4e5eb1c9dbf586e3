//! The pending-transaction follower on a real anvil (automine off, so transactions stay
//! pending): over the WebSocket subscription, and over `txpool_content` polling alone.

use palisade_primitives::pending::PendingTx;
use palisade_source::evm_rpc::{EndpointConfig, RpcClient, RpcSettings};
use palisade_source::mempool::{follow_pending, txpool_content};
use palisade_source::SensitiveUrl;
use palisade_testing::anvil::{Anvil, ACCOUNT0, ACCOUNT1};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

async fn send(anvil: &Anvil, nonce: u64) -> String {
    let tx = json!({"from": ACCOUNT0, "to": ACCOUNT1, "value": "0x2a", "gas": "0x5208", "nonce": format!("{nonce:#x}"),
        "maxPriorityFeePerGas": "0x3b9aca00", "maxFeePerGas": "0x174876e800", "data": "0x"});
    anvil.rpc("eth_sendTransaction", json!([tx])).await.as_str().unwrap().to_string()
}

async fn next(rx: &mut tokio::sync::mpsc::Receiver<PendingTx>, hash: &str) -> PendingTx {
    tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let p = rx.recv().await.expect("follower stopped");
            if format!("{:#x}", p.hash) == hash {
                return p;
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("{hash} not seen pending"))
}

fn check(p: &PendingTx, nonce: u64) {
    assert_eq!(format!("{:#x}", p.from), ACCOUNT0);
    assert_eq!(p.to.map(|a| format!("{a:#x}")), Some(ACCOUNT1.to_string()));
    assert_eq!((p.nonce, p.gas, p.tx_type), (nonce, 21_000, 2));
    assert_eq!((p.priority_fee, p.max_fee), (1_000_000_000, 100_000_000_000));
    assert_eq!(p.value, palisade_primitives::U256::from(42));
}

#[tokio::test]
async fn pending_transactions_arrive_over_the_subscription_and_over_polling() {
    let anvil = Anvil::start(&["--no-mining"]).await;
    let rpc = Arc::new(
        RpcClient::new(&EndpointConfig::http(&anvil.http_url()), &RpcSettings::default()).unwrap(),
    );
    let stop = CancellationToken::new();

    // WebSocket (polling every hour: only the subscription can deliver).
    let (tx, mut rx) = tokio::sync::mpsc::channel(64);
    let ws = Some(SensitiveUrl::parse(&anvil.ws_url()).unwrap());
    tokio::spawn(follow_pending(rpc.clone(), ws, Duration::from_secs(3600), tx, stop.clone()));
    tokio::time::sleep(Duration::from_millis(300)).await;
    let h = send(&anvil, 0).await;
    check(&next(&mut rx, &h).await, 0);

    // Polling alone.
    let (tx, mut rx) = tokio::sync::mpsc::channel(64);
    tokio::spawn(follow_pending(rpc.clone(), None, Duration::from_millis(100), tx, stop.clone()));
    let h = send(&anvil, 1).await;
    check(&next(&mut rx, &h).await, 1);
    assert_eq!(txpool_content(&rpc).await.unwrap().len(), 2);
    stop.cancel();
}
