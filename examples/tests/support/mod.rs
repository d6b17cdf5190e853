//! What the examples' tests that run built executables share: where the target directory and
//! the workspace are, and the executables the test command builds.

use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The workspace root.
pub fn workspace() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap()
}

/// `target/`: tests run from `target/<profile>/deps/<name>-<hash>`.
pub fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    exe.ancestors().nth(3).expect("target dir").to_path_buf()
}

/// The executables of the workspace's binaries, examples and tests by kind (`bin`, `example`,
/// `test`) and target name, built as the test command builds them (`cargo test --workspace`, so
/// nothing is rebuilt when it already ran).
pub fn executables() -> &'static BTreeMap<(String, String), PathBuf> {
    static BUILT: OnceLock<BTreeMap<(String, String), PathBuf>> = OnceLock::new();
    BUILT.get_or_init(build)
}

/// The executable of the `kind` target `name`.
pub fn executable(kind: &str, name: &str) -> PathBuf {
    executables()
        .get(&(kind.to_string(), name.to_string()))
        .unwrap_or_else(|| panic!("the {kind} target `{name}` is built by the test command"))
        .clone()
}

fn build() -> BTreeMap<(String, String), PathBuf> {
    let out = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .env("CARGO_TARGET_DIR", target_dir())
        .args(["test", "--workspace", "--no-run", "--message-format=json"])
        .current_dir(workspace())
        .output()
        .expect("cargo runs");
    assert!(
        out.status.success(),
        "building the workspace's tests: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut found = BTreeMap::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let Ok(msg) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        let Some(exe) = msg["executable"].as_str() else {
            continue;
        };
        let name = msg["target"]["name"].as_str().unwrap_or_default();
        let kind = msg["target"]["kind"][0].as_str().unwrap_or_default();
        // `cargo test` also builds each binary (and an example with `test = true`) as a test
        // harness; the target itself is the artifact that is not one.
        let harness = msg["profile"]["test"].as_bool().unwrap_or(true);
        if kind != "test" && harness {
            continue;
        }
        found.insert((kind.to_string(), name.to_string()), PathBuf::from(exe));
    }
    found
}
