//! Registration of the csi-hostpath driver with the CSI suites: what is registered, what is
//! left out and why — the same data `--dry-run` prints. No cluster needed.

use std::sync::Arc;

use kube_e2e::Registry;
use kube_e2e_storage::{CsiHostpathDriver, register_driver, suites};

fn spec_set() -> kube_e2e::SpecSet {
    let mut registry = Registry::new();
    registry.add(|s| {
        register_driver(
            s,
            "CSI Volumes",
            Arc::new(CsiHostpathDriver::new()),
            &suites::csi_suites(),
        )
    });
    match registry.build() {
        Ok(set) => set,
        Err(errors) => panic!("definition errors: {errors}"),
    }
}

#[test]
fn every_supported_combination_is_registered_once_with_upstream_naming() {
    let set = spec_set();
    let names: Vec<&str> = set.specs.iter().map(|s| s.info.name.as_str()).collect();
    assert_eq!(names.len(), 62, "registered specs: {names:#?}");
    for name in &names {
        assert!(
            name.starts_with("[sig-storage] CSI Volumes [Driver: csi-hostpath] [Testpattern: "),
            "{name}"
        );
    }
    // Checked here, not only by the registry: sorted first, so any repeat is adjacent.
    let unique: std::collections::BTreeSet<&str> = names.iter().copied().collect();
    assert_eq!(unique.len(), names.len(), "names are unique");
    for suite in [
        "provisioning",
        "volumes",
        "volumeIO",
        "subPath",
        "volume-expand",
        "ephemeral",
        "read-write-once-pod",
        "volumeMode",
        "multiVolume",
        "fsgroupchangepolicy",
        "volumeLimits",
        "topology",
        "capacity",
        "disruptive",
    ] {
        assert!(
            names.iter().any(|n| n.contains(&format!("] {suite} "))),
            "suite {suite} has specs"
        );
    }
}

#[test]
fn unsupported_combinations_are_dropped_with_their_reasons() {
    let set = spec_set();
    let reasons: Vec<String> = set
        .unregistered
        .iter()
        .map(|u| format!("{}: {}", u.name, u.reason))
        .collect();
    assert!(reasons.len() >= 30, "dropped: {reasons:#?}");
    let has = |needle: &str| reasons.iter().any(|r| r.contains(needle));
    assert!(has(
        "[Testpattern: Dynamic PV (xfs)] volumes: driver csi-hostpath does not support fs type xfs"
    ));
    assert!(has("does not provide pre-provisioned PVs"));
    assert!(has("does not provide inline volumes"));
    assert!(has(
        "multiVolume should access to two volumes with the same volume mode and retain data across pod recreation on different node: driver csi-hostpath only supports single-node volumes"
    ));
    assert!(has(
        "multiVolume should concurrently access the single volume from pods on different node: driver csi-hostpath does not support ReadWriteMany volumes (capability `RWX`)"
    ));
    assert!(has(
        "[Testpattern: Dynamic PV (block volmode)] volumeMode should fail in binding dynamic provisioned PV to PVC: driver csi-hostpath supports block volumes"
    ));
    assert!(has(
        "[Testpattern: Dynamic PV (filesystem volmode)] multiVolume should access to two volumes with different volume mode and retain data across pod recreation on the same node: the block patterns cover it"
    ));
    // Nothing both registered and dropped.
    for spec in &set.specs {
        assert!(
            !set.unregistered.iter().any(|u| u.name == spec.info.name),
            "{} is registered and dropped",
            spec.info.name
        );
    }
}

#[test]
fn without_block_support_block_patterns_are_dropped_or_check_the_refusal() {
    let driver = kube_e2e_storage::external::ExternalDriver::parse(
        "fs-only.yaml",
        "StorageClass: {FromName: true}\nDriverInfo:\n  Name: fs.csi.example.io\n  Capabilities: {persistence: true}\n",
    )
    .expect("a valid driver file");
    let mut registry = Registry::new();
    let driver: Arc<dyn kube_e2e_storage::TestDriver> = Arc::new(driver);
    registry.add(move |s| {
        register_driver(s, "External Storage", driver.clone(), &suites::csi_suites())
    });
    let set = registry.build().expect("no definition errors");
    let names: Vec<&str> = set.specs.iter().map(|s| s.info.name.as_str()).collect();
    let block: Vec<&&str> = names
        .iter()
        .filter(|n| n.contains("(block volmode)"))
        .collect();
    assert_eq!(
        block,
        vec![
            &"[sig-storage] External Storage [Driver: fs.csi.example.io] [Testpattern: Dynamic PV (block volmode)] volumeMode should fail in binding dynamic provisioned PV to PVC [Slow] [LinuxOnly]"
        ],
        "the only block spec checks the refusal"
    );
    let reasons: Vec<String> = set
        .unregistered
        .iter()
        .map(|u| format!("{}: {}", u.name, u.reason))
        .collect();
    assert!(reasons.iter().any(|r| r.contains(
        "[Testpattern: Dynamic PV (block volmode)] volumeMode should not mount / map unused volumes in a pod: driver fs.csi.example.io does not support block volumes (capability `block`)"
    )), "{reasons:#?}");
}
