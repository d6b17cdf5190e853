//! Driver files are parsed strictly: a typo is an error naming the file, the line and the
//! closest known key. No cluster needed.

use kube_e2e::Timeouts;
use kube_e2e_storage::external::{ClassSource, ExternalDriver};
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
        Some(&ClassSource {
            from_name: true,
            ..ClassSource::default()
        }),
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
