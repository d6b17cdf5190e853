//! The driver-file corpus (`tests/driver-files/`): one file per construct real driver files
//! use, each read as upstream reads it — the upstream-compatible spellings give the same model
//! as the canonical file — and each problem upstream hides reported with its exact message.
//! No cluster needed.

use kube_e2e_storage::external::{
    ClassKind, ClassSource, ExternalDriver, LoadOptions, TimeoutKey, UnknownKeys,
};
use kube_e2e_storage::{Capability, TestDriver};
use std::path::{Path, PathBuf};
use std::time::Duration;

fn corpus(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/driver-files")
        .join(name)
}

fn load(name: &str) -> ExternalDriver {
    ExternalDriver::load(&corpus(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn load_warn(name: &str) -> ExternalDriver {
    let options = LoadOptions {
        unknown_keys: UnknownKeys::Warn,
        ..LoadOptions::default()
    };
    ExternalDriver::load_with(&corpus(name), &options).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// The error text with the corpus directory cut from file names.
fn error(name: &str) -> String {
    match ExternalDriver::load(&corpus(name)) {
        Ok(_) => panic!("{name}: expected an error"),
        Err(e) => e.to_string().replace(&corpus("").display().to_string(), ""),
    }
}

fn warnings(driver: &ExternalDriver) -> Vec<String> {
    let dir = corpus("").display().to_string();
    driver
        .warnings()
        .into_iter()
        .map(|w| w.replace(&dir, ""))
        .collect()
}

#[test]
fn the_canonical_file_reads_with_upstreams_meaning() {
    let d = load("canonical.yaml");
    let info = d.driver_info();
    assert_eq!(info.name, "blk.csi.corpus.example");
    assert_eq!(info.max_file_size, 1 << 30);
    assert_eq!(
        (
            info.supported_size_range.min.as_str(),
            info.supported_size_range.max.as_str()
        ),
        ("1Gi", "64Ti")
    );
    // Upstream's set starts as {""}: the default file system stays next to the listed ones.
    assert_eq!(
        info.supported_fs_types,
        ["", "ext4", "xfs"].map(String::from).into()
    );
    assert_eq!(info.supported_mount_options, ["noatime".to_string()].into());
    // controllerExpansion implies offline and online expansion, unless the file says otherwise.
    assert!(info.has(Capability::OfflineExpansion));
    assert!(!info.has(Capability::OnlineExpansion));
    assert_eq!(
        info.capabilities.get(&Capability::OnlineExpansion),
        Some(&false)
    );
    assert_eq!(d.storage_class_source(), Some(&ClassSource::FromName));
    assert_eq!(d.snapshot_class_source(), Some(&ClassSource::FromName));
    assert!(d.as_dynamic_pv().is_some() && d.as_snapshottable().is_some());
    assert!(d.as_ephemeral().is_some());
    assert!(d.definition().inline_volumes[0].shared);
    let t = d.timeouts().expect("the file sets timeouts");
    assert_eq!(t.pod_start, Duration::from_secs(600));
    assert_eq!(t.claim_provision, Duration::from_secs(480));
    assert!(d.warnings().is_empty(), "{:?}", d.warnings());
}

#[test]
fn every_upstream_spelling_reads_as_the_canonical_file() {
    let canonical = load("canonical.yaml");
    for name in [
        "canonical.json",
        "set-flow.yaml",
        "set-null.yaml",
        "obsolete-keys.yaml",
    ] {
        let d = load(name);
        let mut expected = canonical.definition().clone();
        if name == "obsolete-keys.yaml" {
            // The stress options are the one addition of that file.
            expected.info.stress_test_options = d.driver_info().stress_test_options.clone();
        }
        assert_eq!(d.definition(), &expected, "{name}");
    }
}

#[test]
fn keys_upstream_no_longer_has_are_warnings_that_say_so() {
    let d = load("obsolete-keys.yaml");
    assert_eq!(
        warnings(&d),
        [
            "obsolete-keys.yaml:3:1: warning: `ShortName` has no effect: upstream's driver definition no longer has it",
            "obsolete-keys.yaml:4:1: warning: `ClaimSize` has no effect: upstream's driver definition no longer has it; claims are sized from `DriverInfo.SupportedSizeRange.Min`",
            "obsolete-keys.yaml:5:1: warning: `SupportedSizeRange` has no effect: at the top level it is not read (older releases' place); it belongs under `DriverInfo`",
            "obsolete-keys.yaml:13:3: warning: `DriverInfo.FeatureTag` has no effect: upstream replaced it with `TestTags`",
            "obsolete-keys.yaml:36:5: warning: `DriverInfo.StressTestOptions.NumSnapshots` has no effect: upstream moved it to `DriverInfo.VolumeSnapshotStressTestOptions.NumSnapshots`",
        ]
    );
    let stress = d.driver_info().stress_test_options.clone().unwrap();
    assert_eq!((stress.num_pods, stress.num_restarts), (4, 2));
}

#[test]
fn upstreams_defaults_apply_to_a_minimal_file() {
    let d = load("minimal.yaml");
    let info = d.driver_info();
    assert_eq!(info.supported_fs_types, [String::new()].into());
    assert_eq!(info.supported_size_range.min, "5Gi");
    assert_eq!(info.supported_size_range.max, "");
    assert!(info.capabilities.is_empty());
    assert!(
        d.as_dynamic_pv().is_none(),
        "no StorageClass: no dynamic provisioning"
    );
    assert!(d.as_snapshottable().is_none());
    assert!(d.as_ephemeral().is_none());
    assert_eq!(d.timeouts(), None);
}

#[test]
fn every_field_of_upstreams_definition_is_read() {
    let d = load("every-field.yaml");
    let def = d.definition();
    let info = &def.info;
    assert_eq!(
        def.classes.get(&ClassKind::Storage),
        Some(&ClassSource::FromExistingClassName("fast".into()))
    );
    for kind in [
        ClassKind::Snapshot,
        ClassKind::VolumeAttributes,
        ClassKind::GroupSnapshot,
    ] {
        assert_eq!(
            def.classes.get(&kind),
            Some(&ClassSource::FromName),
            "{kind:?}"
        );
    }
    assert_eq!(info.test_tags, ["[Slow]"]);
    assert_eq!(info.max_file_size, 10 << 20);
    assert_eq!(info.required_mount_options, ["noatime".to_string()].into());
    assert_eq!(info.required_access_modes, ["ReadWriteOncePod"]);
    assert_eq!(info.num_allowed_topologies, 2);
    assert_eq!(info.topology_keys.len(), 2);
    for cap in [
        Capability::GroupSnapshot,
        Capability::RwxFilesystemOnly,
        Capability::ReadOnlyMany,
        Capability::VolumeMountGroup,
    ] {
        assert!(info.has(cap), "{cap}");
    }
    assert_eq!(
        info.capabilities.get(&Capability::RwxBlockOnly),
        Some(&false)
    );
    let snap = info.volume_snapshot_stress_test_options.clone().unwrap();
    assert_eq!((snap.num_pods, snap.num_snapshots), (2, 4));
    assert_eq!(
        info.volume_modify_stress_test_options
            .clone()
            .unwrap()
            .num_pods,
        6
    );
    let perf = info
        .performance_test_options
        .clone()
        .unwrap()
        .provisioning
        .unwrap();
    assert_eq!((perf.volume_size.as_str(), perf.count), ("1Gi", 50));
    let metrics = perf.expected_metrics.unwrap();
    assert_eq!(metrics.avg_latency, Duration::from_secs(2));
    assert_eq!(metrics.throughput, 0.5);
    assert_eq!(def.client_node_name.as_deref(), Some("worker-1"));
    assert_eq!(
        def.node_selectors
            .get("corpus.example/storage")
            .map(String::as_str),
        Some("true")
    );
    assert_eq!(
        def.timeouts.get(&TimeoutKey::Poll),
        Some(&Duration::from_secs(5))
    );
    let t = d.timeouts().unwrap();
    assert_eq!(t.node_not_ready, Duration::from_secs(240));
    // What is read but changes no spec here is said.
    assert_eq!(
        warnings(&d),
        [
            "every-field.yaml:7:3: warning: `VolumeAttributesClass` is read, but kube-e2e has no volume-modify suite yet: no spec uses it",
            "every-field.yaml:9:3: warning: `GroupSnapshotClass` is read, but kube-e2e has no volumegroupsnapshottable suite yet: no spec uses it",
            "every-field.yaml:23:5: warning: capability `groupSnapshot` is read, but no suite of kube-e2e uses it yet: it changes no spec",
            "every-field.yaml:24:5: warning: capability `RWXFilesystemOnly` is read, but no suite of kube-e2e uses it yet: it changes no spec",
        ]
    );
}

#[test]
fn upstreams_quirks_are_read_its_way_and_said() {
    let d = load("upstream-quirks.yaml");
    let info = d.driver_info();
    assert_eq!(
        info.name, "quirks.csi.corpus.example",
        "the last of two keys"
    );
    assert_eq!(info.max_file_size, 1_000_000);
    assert_eq!(info.num_allowed_topologies, 2);
    assert_eq!(
        info.stress_test_options.clone().unwrap().num_pods,
        8,
        "YAML 1.1 octal"
    );
    assert!(info.has(Capability::Persistence));
    assert_eq!(
        warnings(&d),
        [
            "upstream-quirks.yaml:5:3: warning: `DriverInfo.Name` is given twice (first at 4:3); the last one is used, as upstream does",
            "upstream-quirks.yaml:12:5: warning: `DriverInfo.Capabilities.persistence` is given twice (first at 11:5); the last one is used, as upstream does",
            "upstream-quirks.yaml:14:1: warning: a second YAML document starts here; only the first is read, as upstream reads it",
        ]
    );
}

#[test]
fn a_null_fs_type_set_runs_nothing_as_upstream_and_says_so() {
    let d = load("null-fs-type.yaml");
    assert!(d.driver_info().supported_fs_types.is_empty());
    assert_eq!(
        warnings(&d),
        [
            "null-fs-type.yaml:3:18: warning: `DriverInfo.SupportedFsType` is empty (null), which upstream reads as no file system at all: no spec runs for this driver; write `SupportedFsType: {\"\": {}}` (or leave the key out) for the default file system"
        ]
    );
}

#[test]
fn scalars_of_the_wrong_type_and_old_capabilities_are_refused_as_upstream_refuses_them() {
    assert_eq!(
        error("typed-scalars.yaml"),
        "typed-scalars.yaml:2:9: error: `DriverInfo.Name` must be a string, found the boolean `true`; quote it: `\"true\"`\n\
         typed-scalars.yaml:4:5: error: capability `dataSource` was split upstream into `pvcDataSource` and `snapshotDataSource`; name the ones the driver supports (upstream ignores it, so the specs it meant would never run)\n\
         typed-scalars.yaml:7:13: error: `InlineVolumes[0].Attributes.size` must be a string, found the number `10`; quote it: `\"10\"`"
    );
}

#[test]
fn two_sources_in_one_block_are_an_error_and_upstreams_precedence_under_warn() {
    assert_eq!(
        error("precedence.yaml"),
        "precedence.yaml:5:3: error: `StorageClass` sets `FromExistingClassName` and `FromFile`; upstream uses only `FromExistingClassName` (FromName, then FromExistingClassName, then FromFile) — keep one\n\
         precedence.yaml:8:3: error: `SnapshotClass` sets `FromName` and `FromFile`; upstream uses only `FromName` (FromName, then FromExistingClassName, then FromFile) — keep one"
    );
    let d = load_warn("precedence.yaml");
    assert_eq!(
        d.storage_class_source(),
        Some(&ClassSource::FromExistingClassName("fast".into()))
    );
    assert_eq!(d.snapshot_class_source(), Some(&ClassSource::FromName));
    assert_eq!(d.warnings().len(), 2);
}

#[test]
fn a_near_miss_key_is_an_error_with_the_real_key() {
    assert_eq!(
        error("near-miss-shared.yaml"),
        "near-miss-shared.yaml:6:5: error: unknown key `shared` in `InlineVolumes[0]`; did you mean `Shared`? (upstream ignores it, so it would never take effect)"
    );
    assert_eq!(
        error("near-miss-vac.yaml"),
        "near-miss-vac.yaml:3:1: error: unknown key `VolumeAttributeClass` in the file's top level; did you mean `VolumeAttributesClass`? (upstream ignores it, so it would never take effect)"
    );
    // Migrate first, fix after: under `warn` the key is ignored, as upstream ignores it.
    let d = load_warn("near-miss-shared.yaml");
    assert!(!d.definition().inline_volumes[0].shared);
    assert_eq!(
        warnings(&d),
        [
            "near-miss-shared.yaml:6:5: warning: unknown key `shared` in `InlineVolumes[0]`; did you mean `Shared`? (upstream ignores it, so it would never take effect)"
        ]
    );
}

#[test]
fn an_unknown_capability_is_an_error_with_the_closest_one() {
    let e = error("unknown-capability.yaml");
    let lines: Vec<&str> = e.lines().collect();
    assert_eq!(
        lines[0],
        "unknown-capability.yaml:4:5: error: unknown capability `persistance`; did you mean `persistence`? (upstream ignores it, so the specs it would enable never run)"
    );
    assert!(
        lines[1].starts_with("unknown-capability.yaml:5:5: error: unknown capability `teleport` (upstream ignores it, so the specs it would enable never run); known capabilities (Kubernetes 1.33–1.35): persistence, block,"),
        "{e}"
    );
    assert_eq!(lines.len(), 2, "{e}");
}

#[test]
fn an_unparsable_timeout_is_an_error_not_a_silent_reset() {
    assert_eq!(
        error("bad-timeout.yaml"),
        "bad-timeout.yaml:4:13: error: `Timeouts.PodStart`: expected a duration such as `90s`, `5m` or `1h30m`, found `10 minutes` (upstream would drop every custom timeout of this file)"
    );
}

#[test]
fn template_placeholders_are_named_as_such() {
    assert_eq!(
        error("placeholder.yaml"),
        "placeholder.yaml:4:9: error: `DriverInfo.Name`: `{driver_name}` looks like an unrendered template placeholder; render the template before passing the file"
    );
    assert_eq!(
        error("placeholder-go.yaml"),
        "placeholder-go.yaml:4:10: error: `{{ .Values.driverName }}` looks like an unrendered template placeholder; render the template before passing the file"
    );
    assert_eq!(
        error("placeholder-env.yaml"),
        "placeholder-env.yaml:2:13: error: `$WORKDIR` looks like an unrendered template placeholder; render the template before passing the file"
    );
}

#[test]
fn bad_values_are_each_named_at_their_place() {
    assert_eq!(
        error("bad-values.yaml"),
        "bad-values.yaml:3:16: error: `DriverInfo.MaxFileSize` must be a number of bytes from 0 to 9223372036854775807, found the number `-1`\n\
         bad-values.yaml:5:5: error: `DriverInfo.SupportedSizeRange`: `Min` (10Gi) is larger than `Max` (1Gi)\n\
         bad-values.yaml:7:25: error: `DriverInfo.RequiredAccessModes`: unknown access mode `ReadWriteOnse`; did you mean `ReadWriteOnce`?\n\
         bad-values.yaml:8:25: error: `DriverInfo.NumAllowedTopologies` must be a whole number from 0 to 4294967295, found the string `many`"
    );
}
