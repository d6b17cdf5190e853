//! Driver files are parsed strictly: a typo is an error naming the file, the line and the
//! closest known key. No cluster needed.

use kube_e2e::Timeouts;
use kube_e2e::manifest::testfiles::TestFiles;
use kube_e2e_storage::external::{ClassSource, ExternalDriver, LoadOptions, UnknownKeys};
use kube_e2e_storage::{Capability, DriverInfo, SizeRange, TestDriver};
use std::time::Duration;

const VALID: &str = "\
StorageClass:
  FromName: true
DriverInfo:
  Name: hostpath.csi.example.io
  Capabilities:
    persistence: true
    snapshotDataSource: true
Timeouts:
  PodStart: 3m
";

fn error_of(text: &str) -> String {
    match ExternalDriver::parse("driver.yaml", text) {
        Ok(_) => panic!("expected an error for:\n{text}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn the_shipped_example_file_parses() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../testing-manifests/storage-csi/external/hostpath.yaml"
    );
    let driver = ExternalDriver::load(std::path::Path::new(path)).unwrap();
    assert_eq!(driver.driver_info().name, "hostpath.csi.kube-e2e.io");
}

#[test]
fn a_valid_file_parses() {
    let driver = ExternalDriver::parse("driver.yaml", VALID).unwrap();
    let expected = DriverInfo {
        name: "hostpath.csi.example.io".into(),
        capabilities: [
            (Capability::Persistence, true),
            (Capability::SnapshotDataSource, true),
        ]
        .into(),
        // Unset in the file: any file system, upstream's minimum claim size.
        supported_fs_types: [String::new()].into(),
        supported_size_range: SizeRange {
            min: "5Gi".into(),
            max: String::new(),
        },
        ..DriverInfo::default()
    };
    assert_eq!(driver.driver_info(), &expected);
    assert_eq!(
        driver.storage_class_source(),
        Some(&ClassSource::FromName),
        "StorageClass: FromName"
    );
    assert!(
        driver.as_dynamic_pv().is_some(),
        "a storage class source makes the driver provision dynamically"
    );
    assert_eq!(driver.snapshot_class_source(), None);
    assert!(
        driver.as_snapshottable().is_none(),
        "no SnapshotClass, no snapshot class"
    );
    assert!(
        driver.as_ephemeral().is_none(),
        "no InlineVolumes, no inline volumes"
    );
    assert_eq!(
        driver.timeouts(),
        Some(Timeouts {
            pod_start: Duration::from_secs(180),
            ..Timeouts::default()
        }),
        "Timeouts: PodStart: 3m, the rest upstream's defaults"
    );
}

#[test]
fn a_misspelled_top_level_key_names_its_line_and_the_fix() {
    let text = VALID.replace("StorageClass:", "StorgeClass:");
    let error = error_of(&text);
    assert!(error.starts_with("driver.yaml:1:"), "{error}");
    assert!(error.contains("StorgeClass"), "{error}");
    assert!(
        error.contains("StorageClass"),
        "suggests the right key: {error}"
    );
}

#[test]
fn a_misspelled_capability_names_its_line_and_the_fix() {
    let text = VALID.replace("snapshotDataSource", "snapshotDataSorce");
    let error = error_of(&text);
    assert!(error.starts_with("driver.yaml:7:"), "{error}");
    assert!(error.contains("snapshotDataSource"), "{error}");
}

#[test]
fn a_bad_timeout_value_is_an_error() {
    let text = VALID.replace("PodStart: 3m", "PodStart: soon");
    let error = error_of(&text);
    assert!(error.contains("driver.yaml:"), "{error}");
    assert!(
        error.to_lowercase().contains("soon"),
        "names the bad value: {error}"
    );
}

#[test]
fn two_class_sources_are_an_error() {
    let text = VALID.replace(
        "  FromName: true\nDriverInfo",
        "  FromName: true\n  FromExistingClassName: fast\nDriverInfo",
    );
    let error = error_of(&text);
    assert!(error.contains("driver.yaml"), "{error}");
}

fn options_with_root(root: &std::path::Path) -> LoadOptions {
    LoadOptions {
        unknown_keys: UnknownKeys::Error,
        test_files: Some(TestFiles::new(Some(root.to_path_buf()))),
    }
}

#[test]
fn a_storage_class_from_file_is_checked_through_the_test_files_before_anything_runs() {
    let root = tempfile::tempdir().unwrap();
    let text = "DriverInfo:\n  Name: d.example\nStorageClass:\n  FromFile: deploy/sc.yaml\n";
    let e = ExternalDriver::parse_with("driver.yaml", text, &options_with_root(root.path()))
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        format!(
            "driver.yaml:4:13: error: `StorageClass.FromFile` `deploy/sc.yaml`: not found under --framework.repo-root {} (nor among the embedded test files)",
            root.path().display()
        )
    );
    let abs = "DriverInfo:\n  Name: d.example\nStorageClass:\n  FromFile: /no/such/sc.yaml\n";
    let e = ExternalDriver::parse_with("driver.yaml", abs, &options_with_root(root.path()))
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        "driver.yaml:4:13: error: `StorageClass.FromFile` `/no/such/sc.yaml`: no such file"
    );
    std::fs::create_dir_all(root.path().join("deploy")).unwrap();
    std::fs::write(
        root.path().join("deploy/sc.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n",
    )
    .unwrap();
    let e = ExternalDriver::parse_with("driver.yaml", text, &options_with_root(root.path()))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("holds a ConfigMap, expected a StorageClass"),
        "{e}"
    );
    std::fs::write(
        root.path().join("deploy/sc.yaml"),
        "apiVersion: storage.k8s.io/v1\nkind: StorageClass\nmetadata:\n  name: x\nprovisioner: d.example\n",
    )
    .unwrap();
    let d =
        ExternalDriver::parse_with("driver.yaml", text, &options_with_root(root.path())).unwrap();
    assert!(matches!(
        d.storage_class_source(),
        Some(ClassSource::FromFile { path, .. }) if path == "deploy/sc.yaml"
    ));
}

#[test]
fn a_snapshot_class_from_file_is_read_from_the_working_directory_as_upstream_does() {
    let text = "DriverInfo:\n  Name: d.example\nSnapshotClass:\n  FromFile: no-such-dir/vsc.yaml\n";
    let e = ExternalDriver::parse_with("driver.yaml", text, &LoadOptions::default())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains(
            "`SnapshotClass.FromFile` `no-such-dir/vsc.yaml`: not found in the working directory"
        ) && e.contains("(upstream reads `SnapshotClass.FromFile` from there)"),
        "{e}"
    );
}

#[test]
fn a_fifo_is_refused_instead_of_read_forever() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("driver.yaml");
    let status = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(status.success());
    let e = ExternalDriver::load(&fifo).unwrap_err().to_string();
    assert!(e.contains("not a regular file: it is a FIFO"), "{e}");
    assert!(e.contains(&fifo.display().to_string()), "{e}");
}

#[test]
fn files_given_twice_and_drivers_defined_twice_are_one_sentence_each() {
    use kube_e2e::config::param::{ParamValue, Params};
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.yaml");
    let b = dir.path().join("b.yaml");
    std::fs::write(&a, VALID).unwrap();
    std::fs::write(&b, VALID).unwrap();
    let params = |files: &[&std::path::Path]| {
        let list = files.iter().map(|f| f.display().to_string()).collect();
        Params::from_values([("storage.testdriver".to_string(), ParamValue::List(list))])
    };
    let e = kube_e2e_storage::external::load_from_params(&params(&[&a, &a]))
        .unwrap_err()
        .to_string();
    assert_eq!(e.lines().count(), 1, "{e}");
    assert!(e.contains("is given twice"), "{e}");
    let e = kube_e2e_storage::external::load_from_params(&params(&[&a, &b]))
        .unwrap_err()
        .to_string();
    assert_eq!(e.lines().count(), 1, "{e}");
    assert!(
        e.contains("driver `hostpath.csi.example.io` is defined twice"),
        "{e}"
    );
}
