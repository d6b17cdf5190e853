//! What the runner's end-to-end tests share: where the `fixture-suite` example is built.

use std::path::{Path, PathBuf};

/// `target/<profile>`: tests run from `target/<profile>/deps/<name>-<hash>`.
pub fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    exe.parent()
        .and_then(Path::parent)
        .expect("target profile dir")
        .to_path_buf()
}

/// The built `fixture-suite` example (`cargo test` builds examples).
pub fn fixture() -> PathBuf {
    let path = target_dir().join("examples").join("fixture-suite");
    assert!(
        path.exists(),
        "{} is missing; `cargo test` builds examples",
        path.display()
    );
    path
}
