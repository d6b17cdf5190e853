//! `examples/downstream-driver` built as a crate outside this workspace would be: copied into a
//! temporary directory, its path dependencies pointed at this checkout, this workspace's
//! `Cargo.lock` beside it (the same versions, resolvable offline), built with `cargo`, listed
//! with `--dry-run`, and its own specs run against the cluster (`KUBECONFIG`, else the local
//! cluster, started or reused as every example does).
//!
//! It builds into this workspace's target directory: with the same `Cargo.lock`, profile
//! settings and `K8S_OPENAPI_ENABLED_VERSION` the registry crates (kube, k8s-openapi, tokio, …)
//! are the very artifacts the workspace compiled, so only the kube-e2e crates (a path
//! dependency outside the workspace gets other hashes) and the suite itself compile. A second
//! run finds everything built. Nothing is skipped: a missing tool, crate or cluster fails it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Instant;

/// Where cargo put this test (`<target>/<profile>/deps/<name>-<hash>`): the shared target dir.
fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    exe.ancestors().nth(3).expect("target dir").to_path_buf()
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("examples/ is inside the workspace")
        .to_path_buf()
}

/// Copies `from` into `to` recursively, without build output and lock files.
fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap_or_else(|e| panic!("creating {}: {e}", to.display()));
    for entry in std::fs::read_dir(from).unwrap_or_else(|e| panic!("{}: {e}", from.display())) {
        let entry = entry.expect("directory entry");
        let name = entry.file_name();
        if name == "target" || name == "Cargo.lock" {
            continue;
        }
        let (src, dst) = (entry.path(), to.join(&name));
        if src.is_dir() {
            copy_tree(&src, &dst);
        } else {
            std::fs::copy(&src, &dst).unwrap_or_else(|e| panic!("copying {}: {e}", src.display()));
        }
    }
}

/// The `version` of package `name` in a `Cargo.lock`.
fn locked_version(lock: &str, name: &str) -> Option<String> {
    let header = format!("name = \"{name}\"\nversion = \"");
    let start = lock.find(&header)? + header.len();
    let end = lock[start..].find('"')?;
    Some(lock[start..start + end].to_string())
}

/// `cargo <args>` in `dir`, into the shared target dir, offline.
fn cargo(dir: &Path, args: &[&str]) -> Output {
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    // What cargo set for this test (`CARGO_MANIFEST_DIR`, `CARGO_PKG_NAME`, …) is not the
    // copy's; build scripts that watch those variables (ring's) would rebuild for nothing.
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy();
        if key.starts_with("CARGO_PKG_")
            || key.starts_with("CARGO_BIN_EXE_")
            || [
                "CARGO_MANIFEST_DIR",
                "CARGO_MANIFEST_PATH",
                "CARGO_MANIFEST_LINKS",
                "CARGO_CRATE_NAME",
                "CARGO_BIN_NAME",
                "CARGO_PRIMARY_PACKAGE",
                "CARGO_TARGET_TMPDIR",
                "OUT_DIR",
            ]
            .contains(&key.as_ref())
        {
            cmd.env_remove(key.as_ref());
        }
    }
    cmd.current_dir(dir)
        .env("CARGO_TARGET_DIR", target_dir())
        .arg(args[0])
        .arg("--offline")
        .args(&args[1..]);
    // The workspace's `.cargo/config.toml` sets it for its own builds; the copy, outside the
    // workspace, gets the same value so k8s-openapi's fingerprint matches.
    if let Some(v) = option_env!("K8S_OPENAPI_ENABLED_VERSION") {
        cmd.env("K8S_OPENAPI_ENABLED_VERSION", v);
    }
    cmd.output().expect("cargo runs")
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn a_crate_outside_the_workspace_embeds_its_manifests_and_runs_its_specs() {
    let workspace = workspace();
    let tmp = tempfile::tempdir().expect("temp dir");
    let crate_dir = tmp.path().join("downstream-driver");
    copy_tree(&workspace.join("examples/downstream-driver"), &crate_dir);

    // Path dependencies: relative to examples/ in the checkout, absolute in the copy.
    let manifest_path = crate_dir.join("Cargo.toml");
    let mut manifest = std::fs::read_to_string(&manifest_path).expect("Cargo.toml");
    for (relative, dir) in [
        ("../../framework", "framework"),
        ("../../storage-suite", "storage-suite"),
    ] {
        let from = format!("path = \"{relative}\"");
        assert!(manifest.contains(&from), "{from} in {manifest}");
        let to = format!("path = {:?}", workspace.join(dir).display().to_string());
        manifest = manifest.replace(&from, &to);
    }
    std::fs::write(&manifest_path, &manifest).expect("writing Cargo.toml");
    let workspace_lock =
        std::fs::read_to_string(workspace.join("Cargo.lock")).expect("workspace Cargo.lock");
    std::fs::write(crate_dir.join("Cargo.lock"), &workspace_lock).expect("copying Cargo.lock");

    let started = Instant::now();
    let build = cargo(&crate_dir, &["test", "--test", "e2e", "--no-run"]);
    let build_time = started.elapsed();
    assert!(build.status.success(), "build failed:\n{}", text(&build));
    eprintln!(
        "downstream build: {:.1}s; compiled: {:?}",
        build_time.as_secs_f64(),
        text(&build)
            .lines()
            .filter_map(|l| l.trim().strip_prefix("Compiling "))
            .collect::<Vec<_>>()
    );
    let lock = std::fs::read_to_string(crate_dir.join("Cargo.lock")).expect("Cargo.lock");
    for name in ["kube", "k8s-openapi", "tokio"] {
        assert_eq!(
            locked_version(&lock, name),
            locked_version(&workspace_lock, name),
            "{name}: the copy resolves the workspace's version"
        );
    }

    let dry = cargo(&crate_dir, &["test", "--test", "e2e", "--", "--dry-run"]);
    let listing = text(&dry);
    assert!(dry.status.success(), "--dry-run failed:\n{listing}");
    for spec in [
        "[sig-storage] Downstream driver deploys its objects from the manifests it embeds",
        "[sig-storage] Downstream driver finds the csi-hostpath manifests kube-e2e-storage ships",
        "[sig-storage] External Storage [Driver: example.csi.downstream.dev] [Testpattern: Dynamic PV (default fs)] provisioning should provision storage with defaults",
        "[sig-storage] External Storage [Driver: example.csi.downstream.dev] [Testpattern: Dynamic Snapshot (delete policy)] snapshottable",
    ] {
        assert!(listing.contains(spec), "`{spec}` not listed:\n{listing}");
    }
    assert!(
        listing.contains(
            "not registered: [sig-storage] External Storage [Driver: example.csi.downstream.dev] \
             [Testpattern: Dynamic PV (block volmode)] provisioning: driver \
             example.csi.downstream.dev does not support block volumes"
        ),
        "the driver file claims no block volumes:\n{listing}"
    );

    let run = cargo(
        &crate_dir,
        &[
            "test",
            "--test",
            "e2e",
            "--",
            "--focus",
            "Downstream driver",
        ],
    );
    let output = text(&run);
    eprintln!("{output}");
    assert!(run.status.success(), "the specs failed:\n{output}");
    assert!(
        output.contains("2 passed; 0 failed"),
        "both specs ran and passed:\n{output}"
    );
}
