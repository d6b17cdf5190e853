//! Test patterns: how a suite's volume is made (volume type, fs type, volume mode, snapshot
//! type, binding mode, expansion) and upstream's standard pattern list.

use kube_e2e::Tag;

/// How the test volume is provided.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum VolType {
    /// A volume source directly in the pod spec (in-tree style).
    Inline,
    /// A PV created by the test, bound to a claim.
    PreprovisionedPv,
    /// A claim provisioned through a storage class.
    DynamicPv,
    /// A CSI ephemeral (inline) volume in the pod spec.
    CsiInline,
    /// A generic ephemeral volume: a claim template in the pod spec.
    GenericEphemeral,
}

/// Filesystem or raw block.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum VolMode {
    /// A mounted file system.
    Filesystem,
    /// A raw block device.
    Block,
}

/// How a snapshot is made.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SnapshotType {
    /// Created from a claim through a VolumeSnapshotClass.
    Dynamic,
    /// A VolumeSnapshotContent created by the test.
    Preprovisioned,
    /// Of a generic ephemeral volume.
    Ephemeral,
}

/// What happens to a snapshot's content when the snapshot is deleted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DeletionPolicy {
    /// The content (and the backing snapshot) is deleted.
    Delete,
    /// The content stays.
    Retain,
}

impl DeletionPolicy {
    /// The API value.
    pub fn as_str(self) -> &'static str {
        match self {
            DeletionPolicy::Delete => "Delete",
            DeletionPolicy::Retain => "Retain",
        }
    }
}

/// When a claim is bound.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BindingMode {
    /// As soon as the claim exists.
    Immediate,
    /// When the first pod using it is scheduled.
    WaitForFirstConsumer,
}

impl BindingMode {
    /// The API value.
    pub fn as_str(self) -> &'static str {
        match self {
            BindingMode::Immediate => "Immediate",
            BindingMode::WaitForFirstConsumer => "WaitForFirstConsumer",
        }
    }
}

/// One way of running a suite; its name is the `[Testpattern: …]` part of spec names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TestPattern {
    /// Display name, e.g. `Dynamic PV (default fs)`.
    pub name: String,
    /// Tags added to every spec of the pattern (e.g. `[Slow]` for xfs).
    pub tags: Vec<Tag>,
    /// How the volume is provided.
    pub vol_type: VolType,
    /// File system type; empty means the driver's default.
    pub fs_type: String,
    /// Filesystem or block.
    pub vol_mode: VolMode,
    /// Snapshot type, for snapshot suites.
    pub snapshot_type: Option<SnapshotType>,
    /// Snapshot deletion policy, for snapshot suites.
    pub snapshot_deletion_policy: Option<DeletionPolicy>,
    /// Binding mode of the storage class; `None` keeps the driver's.
    pub binding_mode: Option<BindingMode>,
    /// Whether the storage class allows expansion.
    pub allow_expansion: bool,
}

impl TestPattern {
    /// A filesystem pattern of `vol_type` with `fs_type` and no snapshot or binding settings.
    pub fn new(name: impl Into<String>, vol_type: VolType, fs_type: &str) -> Self {
        TestPattern {
            name: name.into(),
            tags: Vec::new(),
            vol_type,
            fs_type: fs_type.to_string(),
            vol_mode: VolMode::Filesystem,
            snapshot_type: None,
            snapshot_deletion_policy: None,
            binding_mode: None,
            allow_expansion: false,
        }
    }

    fn tag(mut self, tag: Tag) -> Self {
        self.tags.push(tag);
        self
    }

    fn block(mut self) -> Self {
        self.vol_mode = VolMode::Block;
        self
    }

    fn snapshot(mut self, t: SnapshotType, p: DeletionPolicy) -> Self {
        self.snapshot_type = Some(t);
        self.snapshot_deletion_policy = Some(p);
        self
    }

    fn binding(mut self, b: BindingMode) -> Self {
        self.binding_mode = Some(b);
        self
    }

    fn expansion(mut self) -> Self {
        self.allow_expansion = true;
        self
    }

    /// The fs type as shown in reasons: `default fs` for the empty one.
    pub fn fs_display(&self) -> &str {
        if self.fs_type.is_empty() {
            "default fs"
        } else {
            &self.fs_type
        }
    }
}

/// Upstream's standard patterns, by the names of its Go variables.
pub mod patterns {
    use super::*;
    use kube_e2e::prelude::feature;

    fn fs_family(fs: &str, label: &str, tag: Option<Tag>) -> [TestPattern; 5] {
        let mk = |prefix: &str, vt| {
            let p = TestPattern::new(format!("{prefix} ({label})"), vt, fs);
            match &tag {
                Some(t) => p.tag(t.clone()),
                None => p,
            }
        };
        [
            mk("Inline-volume", VolType::Inline),
            mk("CSI Ephemeral-volume", VolType::CsiInline),
            mk("Generic Ephemeral-volume", VolType::GenericEphemeral),
            mk("Pre-provisioned PV", VolType::PreprovisionedPv),
            mk("Dynamic PV", VolType::DynamicPv),
        ]
    }

    fn windows() -> Tag {
        feature("Windows")
    }

    /// `DefaultFsInlineVolume` and friends: default fs × the five volume types.
    pub fn default_fs() -> [TestPattern; 5] {
        fs_family("", "default fs", None)
    }
    /// ext3 × the five volume types.
    pub fn ext3() -> [TestPattern; 5] {
        fs_family("ext3", "ext3", None)
    }
    /// ext4 × the five volume types.
    pub fn ext4() -> [TestPattern; 5] {
        fs_family("ext4", "ext4", None)
    }
    /// xfs × the five volume types, `[Slow]`.
    pub fn xfs() -> [TestPattern; 5] {
        fs_family("xfs", "xfs", Some(Tag::Slow))
    }
    /// ntfs × the five volume types, `[Feature:Windows]`.
    pub fn ntfs() -> [TestPattern; 5] {
        fs_family("ntfs", "ntfs", Some(windows()))
    }

    /// `DefaultFsInlineVolume`.
    pub fn default_fs_inline_volume() -> TestPattern {
        default_fs()[0].clone()
    }
    /// `DefaultFsCSIEphemeralVolume`.
    pub fn default_fs_csi_ephemeral_volume() -> TestPattern {
        default_fs()[1].clone()
    }
    /// `DefaultFsGenericEphemeralVolume`.
    pub fn default_fs_generic_ephemeral_volume() -> TestPattern {
        default_fs()[2].clone()
    }
    /// `DefaultFsPreprovisionedPV`.
    pub fn default_fs_preprovisioned_pv() -> TestPattern {
        default_fs()[3].clone()
    }
    /// `DefaultFsDynamicPV` (with dynamic snapshots, delete policy).
    pub fn default_fs_dynamic_pv() -> TestPattern {
        default_fs()[4]
            .clone()
            .snapshot(SnapshotType::Dynamic, DeletionPolicy::Delete)
    }
    /// `Ext4DynamicPV`.
    pub fn ext4_dynamic_pv() -> TestPattern {
        ext4()[4]
            .clone()
            .snapshot(SnapshotType::Dynamic, DeletionPolicy::Delete)
    }
    /// `XfsDynamicPV`.
    pub fn xfs_dynamic_pv() -> TestPattern {
        xfs()[4]
            .clone()
            .snapshot(SnapshotType::Dynamic, DeletionPolicy::Delete)
    }
    /// `NtfsDynamicPV`.
    pub fn ntfs_dynamic_pv() -> TestPattern {
        ntfs()[4]
            .clone()
            .snapshot(SnapshotType::Dynamic, DeletionPolicy::Delete)
    }

    /// `FsVolModePreprovisionedPV`.
    pub fn fs_vol_mode_preprovisioned_pv() -> TestPattern {
        TestPattern::new(
            "Pre-provisioned PV (filesystem volmode)",
            VolType::PreprovisionedPv,
            "",
        )
    }
    /// `FsVolModeDynamicPV`.
    pub fn fs_vol_mode_dynamic_pv() -> TestPattern {
        TestPattern::new("Dynamic PV (filesystem volmode)", VolType::DynamicPv, "")
    }
    /// `BlockVolModePreprovisionedPV`.
    pub fn block_vol_mode_preprovisioned_pv() -> TestPattern {
        TestPattern::new(
            "Pre-provisioned PV (block volmode)",
            VolType::PreprovisionedPv,
            "",
        )
        .block()
    }
    /// `BlockVolModeDynamicPV`.
    pub fn block_vol_mode_dynamic_pv() -> TestPattern {
        TestPattern::new("Dynamic PV (block volmode)", VolType::DynamicPv, "")
            .block()
            .snapshot(SnapshotType::Dynamic, DeletionPolicy::Delete)
    }
    /// `BlockVolModeGenericEphemeralVolume`.
    pub fn block_vol_mode_generic_ephemeral_volume() -> TestPattern {
        TestPattern::new(
            "Generic Ephemeral-volume (block volmode) (late-binding)",
            VolType::GenericEphemeral,
            "",
        )
        .block()
        .binding(BindingMode::WaitForFirstConsumer)
        .expansion()
    }

    fn snap(prefix: &str, vt: VolType, t: SnapshotType, p: DeletionPolicy) -> TestPattern {
        let policy = match p {
            DeletionPolicy::Delete => "delete policy",
            DeletionPolicy::Retain => "retain policy",
        };
        TestPattern::new(format!("{prefix} ({policy})"), vt, "").snapshot(t, p)
    }
    /// `DynamicSnapshotDelete`.
    pub fn dynamic_snapshot_delete() -> TestPattern {
        snap(
            "Dynamic Snapshot",
            VolType::DynamicPv,
            SnapshotType::Dynamic,
            DeletionPolicy::Delete,
        )
    }
    /// `DynamicSnapshotRetain`.
    pub fn dynamic_snapshot_retain() -> TestPattern {
        snap(
            "Dynamic Snapshot",
            VolType::DynamicPv,
            SnapshotType::Dynamic,
            DeletionPolicy::Retain,
        )
    }
    /// `PreprovisionedSnapshotDelete`.
    pub fn preprovisioned_snapshot_delete() -> TestPattern {
        snap(
            "Pre-provisioned Snapshot",
            VolType::DynamicPv,
            SnapshotType::Preprovisioned,
            DeletionPolicy::Delete,
        )
    }
    /// `PreprovisionedSnapshotRetain`.
    pub fn preprovisioned_snapshot_retain() -> TestPattern {
        snap(
            "Pre-provisioned Snapshot",
            VolType::DynamicPv,
            SnapshotType::Preprovisioned,
            DeletionPolicy::Retain,
        )
    }
    /// `EphemeralSnapshotDelete`.
    pub fn ephemeral_snapshot_delete() -> TestPattern {
        snap(
            "Ephemeral Snapshot",
            VolType::GenericEphemeral,
            SnapshotType::Ephemeral,
            DeletionPolicy::Delete,
        )
    }
    /// `EphemeralSnapshotRetain`.
    pub fn ephemeral_snapshot_retain() -> TestPattern {
        snap(
            "Ephemeral Snapshot",
            VolType::GenericEphemeral,
            SnapshotType::Ephemeral,
            DeletionPolicy::Retain,
        )
    }

    /// `DefaultFsDynamicPVAllowExpansion`.
    pub fn default_fs_dynamic_pv_allow_expansion() -> TestPattern {
        TestPattern::new(
            "Dynamic PV (default fs)(allowExpansion)",
            VolType::DynamicPv,
            "",
        )
        .expansion()
    }
    /// `BlockVolModeDynamicPVAllowExpansion`.
    pub fn block_vol_mode_dynamic_pv_allow_expansion() -> TestPattern {
        TestPattern::new(
            "Dynamic PV (block volmode)(allowExpansion)",
            VolType::DynamicPv,
            "",
        )
        .block()
        .expansion()
    }
    /// `NtfsDynamicPVAllowExpansion`.
    pub fn ntfs_dynamic_pv_allow_expansion() -> TestPattern {
        TestPattern::new(
            "Dynamic PV (ntfs)(allowExpansion)",
            VolType::DynamicPv,
            "ntfs",
        )
        .tag(windows())
        .expansion()
    }

    /// `TopologyImmediate`.
    pub fn topology_immediate() -> TestPattern {
        TestPattern::new("Dynamic PV (immediate binding)", VolType::DynamicPv, "")
            .binding(BindingMode::Immediate)
    }
    /// `TopologyDelayed`.
    pub fn topology_delayed() -> TestPattern {
        TestPattern::new("Dynamic PV (delayed binding)", VolType::DynamicPv, "")
            .binding(BindingMode::WaitForFirstConsumer)
    }

    /// The ephemeral suite's generic late-binding variant.
    pub fn generic_ephemeral_late_binding() -> TestPattern {
        TestPattern::new(
            "Generic Ephemeral-volume (default fs) (late-binding)",
            VolType::GenericEphemeral,
            "",
        )
        .binding(BindingMode::WaitForFirstConsumer)
        .expansion()
    }
    /// The ephemeral suite's generic immediate-binding variant.
    pub fn generic_ephemeral_immediate_binding() -> TestPattern {
        TestPattern::new(
            "Generic Ephemeral-volume (default fs) (immediate-binding)",
            VolType::GenericEphemeral,
            "",
        )
        .binding(BindingMode::Immediate)
        .expansion()
    }

    /// Every standard pattern, de-duplicated by name (41, as upstream's list).
    pub fn all() -> Vec<TestPattern> {
        let mut all: Vec<TestPattern> = Vec::new();
        let mut push = |p: TestPattern| {
            if let Some(existing) = all.iter_mut().find(|e| e.name == p.name) {
                *existing = p;
            } else {
                all.push(p);
            }
        };
        for family in [default_fs(), ext3(), ext4(), xfs(), ntfs()] {
            family.into_iter().for_each(&mut push);
        }
        for p in [
            default_fs_dynamic_pv(),
            ext4_dynamic_pv(),
            xfs_dynamic_pv(),
            ntfs_dynamic_pv(),
            fs_vol_mode_preprovisioned_pv(),
            fs_vol_mode_dynamic_pv(),
            block_vol_mode_preprovisioned_pv(),
            block_vol_mode_dynamic_pv(),
            block_vol_mode_generic_ephemeral_volume(),
            dynamic_snapshot_delete(),
            dynamic_snapshot_retain(),
            preprovisioned_snapshot_delete(),
            preprovisioned_snapshot_retain(),
            ephemeral_snapshot_delete(),
            ephemeral_snapshot_retain(),
            default_fs_dynamic_pv_allow_expansion(),
            block_vol_mode_dynamic_pv_allow_expansion(),
            ntfs_dynamic_pv_allow_expansion(),
            topology_immediate(),
            topology_delayed(),
        ] {
            push(p);
        }
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_standard_list_has_upstreams_41_patterns_with_unique_names() {
        let all = patterns::all();
        assert_eq!(
            all.len(),
            41,
            "{:#?}",
            all.iter().map(|p| &p.name).collect::<Vec<_>>()
        );
        let mut names: Vec<&str> = all.iter().map(|p| p.name.as_str()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), 41);
    }

    #[test]
    fn patterns_carry_upstreams_settings() {
        let p = patterns::default_fs_dynamic_pv();
        assert_eq!(p.name, "Dynamic PV (default fs)");
        assert_eq!(p.snapshot_type, Some(SnapshotType::Dynamic));
        assert_eq!(p.fs_display(), "default fs");
        let x = patterns::xfs()[4].clone();
        assert_eq!(x.name, "Dynamic PV (xfs)");
        assert!(x.tags.contains(&Tag::Slow));
        let b = patterns::block_vol_mode_generic_ephemeral_volume();
        assert_eq!(b.vol_mode, VolMode::Block);
        assert_eq!(b.binding_mode, Some(BindingMode::WaitForFirstConsumer));
        assert!(b.allow_expansion);
        assert_eq!(
            patterns::dynamic_snapshot_retain().name,
            "Dynamic Snapshot (retain policy)"
        );
        assert_eq!(
            patterns::ntfs()[0].tags,
            vec![kube_e2e::prelude::feature("Windows")]
        );
    }
}
