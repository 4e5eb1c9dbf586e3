//! A user's path to an assertion: Solidity source compiled with solc. The example assertions
//! (examples/assertions) compiled here with solcjs 0.8.28 (npm `solc`, installed by
//! scripts/test.sh; `PALISADE_SOLCJS`, else `solcjs` on `PATH`), the same way
//! scripts/build_contracts.sh does, give exactly the bytecode committed in testdata/contracts
//! that the other tests and the demo run: the artifacts are what their source says.

use std::process::Command;

#[test]
fn the_example_assertions_compile_to_the_committed_artifacts() {
    let solcjs = std::env::var("PALISADE_SOLCJS").unwrap_or_else(|_| "solcjs".into());
    let root = format!("{}/../..", env!("CARGO_MANIFEST_DIR"));
    let out = tempfile_dir();
    let run = Command::new(&solcjs)
        .current_dir(format!("{root}/examples/assertions"))
        .args(["--bin", "--abi", "--optimize", "--base-path", ".", "-o"])
        .arg(&out)
        .arg("Examples.sol")
        .output()
        .unwrap_or_else(|e| panic!("cannot run {solcjs} (scripts/test.sh installs it): {e}"));
    assert!(run.status.success(), "solcjs failed: {}", String::from_utf8_lossy(&run.stderr));
    let version = Command::new(&solcjs).arg("--version").output().unwrap();
    assert!(
        String::from_utf8_lossy(&version.stdout).starts_with("0.8.28"),
        "solcjs 0.8.28 expected"
    );

    let mut compared = Vec::new();
    for entry in std::fs::read_dir(&out).unwrap() {
        let path = entry.unwrap().path();
        let file = path.file_name().unwrap().to_str().unwrap().to_string();
        let Some(name) = file.strip_prefix("Examples_sol_").and_then(|f| f.strip_suffix(".bin"))
        else {
            continue;
        };
        let code = std::fs::read_to_string(&path).unwrap();
        if code.trim().is_empty() {
            continue; // interfaces and abstract contracts
        }
        let artifact = format!("{root}/testdata/contracts/{name}.json");
        let committed: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(&artifact)
                .unwrap_or_else(|e| panic!("{artifact}: {e} (run scripts/build_contracts.sh)")),
        )
        .unwrap();
        assert_eq!(
            committed["bytecode"].as_str().unwrap(),
            format!("0x{}", code.trim()),
            "{name}: the committed artifact is not what examples/assertions compiles to \
             (run scripts/build_contracts.sh)"
        );
        compared.push(name.to_string());
    }
    compared.sort();
    assert_eq!(
        compared,
        [
            "ImplementationSlotAssertion",
            "OutflowBoundAssertion",
            "OwnerTimelockAssertion",
            "RunawayAssertion",
            "SharePriceAssertion"
        ],
        "every example assertion is compiled and compared"
    );
    std::fs::remove_dir_all(&out).ok();
}

fn tempfile_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("palisade-solcjs-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
