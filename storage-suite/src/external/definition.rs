//! The driver definition a file describes, read from the node tree with upstream's meaning —
//! and with what upstream leaves unsaid said out loud.
//!
//! Upstream decodes the file into its `driverDefinition` struct without strict checks: a key it
//! does not have is dropped, so a misspelled key (`shared` for `Shared`) silently turns a test
//! off. Here every such key is reported at its line and column: keys upstream *used to* have
//! (`ShortName`, `ClaimSize`, …) as warnings, any other key as an error with the closest real
//! key (or a warning under `--storage.testdriver-unknown-keys=warn`).
//!
//! Upstream's meaning, kept:
//! - string sets (`SupportedFsType`, …) in any spelling: `{ext4: {}}`, `ext4:` with no value, or
//!   the flow set `{ext4, xfs}`; `SupportedFsType` keeps `""` (the default file system) next to
//!   the listed ones — unless it is null, which upstream reads as no set at all (warned);
//! - a key given twice: the last one (warned); only the first YAML document (warned);
//! - `SupportedSizeRange.Min` is `5Gi` unless the file sets it;
//! - `controllerExpansion: true` implies `onlineExpansion` and `offlineExpansion` unless set;
//! - a class block uses `FromName`, else `FromExistingClassName`, else `FromFile`;
//! - `Timeouts` keys match upstream's timeout names without regard to case.

use super::diagnostic::{Diagnostic, Severity, UnknownKeys};
use super::tree::{Node, Pos, Value, placeholder_in, quote};
use crate::capability::Capability;
use crate::driver::{
    DriverInfo, InlineVolume, PerformanceMetrics, PerformanceTestOptions,
    ProvisioningPerformanceOptions, SizeRange, StressTestOptions, VolumeModifyStressTestOptions,
    VolumeSnapshotStressTestOptions,
};
use kube_e2e::Timeouts;
use kube_e2e::config::param::suggest;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

/// Where a class (StorageClass, VolumeSnapshotClass, …) for the tests comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClassSource {
    /// An empty class naming the driver (`FromName: true`).
    FromName,
    /// A copy of a class already in the cluster (`FromExistingClassName`).
    FromExistingClassName(String),
    /// A class read from a file (`FromFile`); where the path is looked up depends on the block
    /// (see [`ClassKind::resolves_in_working_directory`]).
    FromFile {
        /// The path as written.
        path: String,
        /// Where the path is written in the driver file.
        pos: Pos,
    },
}

/// The class blocks of a driver file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum ClassKind {
    /// `StorageClass`: dynamic provisioning.
    Storage,
    /// `SnapshotClass`: snapshots.
    Snapshot,
    /// `VolumeAttributesClass`: volume modification.
    VolumeAttributes,
    /// `GroupSnapshotClass`: group snapshots.
    GroupSnapshot,
}

impl ClassKind {
    /// The block's key in the file.
    pub fn key(self) -> &'static str {
        match self {
            ClassKind::Storage => "StorageClass",
            ClassKind::Snapshot => "SnapshotClass",
            ClassKind::VolumeAttributes => "VolumeAttributesClass",
            ClassKind::GroupSnapshot => "GroupSnapshotClass",
        }
    }

    /// The kind of object `FromFile` must hold.
    pub fn object_kind(self) -> &'static str {
        match self {
            ClassKind::Storage => "StorageClass",
            ClassKind::Snapshot => "VolumeSnapshotClass",
            ClassKind::VolumeAttributes => "VolumeAttributesClass",
            ClassKind::GroupSnapshot => "VolumeGroupSnapshotClass",
        }
    }

    /// Upstream reads `SnapshotClass.FromFile` (and the group snapshot class) straight from the
    /// working directory; the other `FromFile`s go through the test files (`--repo-root`).
    pub fn resolves_in_working_directory(self) -> bool {
        matches!(self, ClassKind::Snapshot | ClassKind::GroupSnapshot)
    }
}

/// Upstream's `TimeoutContext` field names, which `Timeouts` keys match without regard to case.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
#[allow(missing_docs)]
pub enum TimeoutKey {
    Poll,
    PodStart,
    PodStartShort,
    PodStartSlow,
    PodDelete,
    ClaimProvision,
    DataSourceProvision,
    ClaimProvisionShort,
    ClaimBound,
    PVReclaim,
    PVBound,
    PVCreate,
    PVDelete,
    PVDeleteSlow,
    SnapshotCreate,
    SnapshotDelete,
    SnapshotControllerMetrics,
    SystemPodsStartup,
    NodeSchedulable,
    SystemDaemonsetStartup,
    NodeNotReady,
}

impl TimeoutKey {
    /// Every key, in upstream's order.
    pub const ALL: [TimeoutKey; 21] = [
        TimeoutKey::Poll,
        TimeoutKey::PodStart,
        TimeoutKey::PodStartShort,
        TimeoutKey::PodStartSlow,
        TimeoutKey::PodDelete,
        TimeoutKey::ClaimProvision,
        TimeoutKey::DataSourceProvision,
        TimeoutKey::ClaimProvisionShort,
        TimeoutKey::ClaimBound,
        TimeoutKey::PVReclaim,
        TimeoutKey::PVBound,
        TimeoutKey::PVCreate,
        TimeoutKey::PVDelete,
        TimeoutKey::PVDeleteSlow,
        TimeoutKey::SnapshotCreate,
        TimeoutKey::SnapshotDelete,
        TimeoutKey::SnapshotControllerMetrics,
        TimeoutKey::SystemPodsStartup,
        TimeoutKey::NodeSchedulable,
        TimeoutKey::SystemDaemonsetStartup,
        TimeoutKey::NodeNotReady,
    ];

    /// Upstream's field name.
    pub fn name(self) -> &'static str {
        match self {
            TimeoutKey::Poll => "Poll",
            TimeoutKey::PodStart => "PodStart",
            TimeoutKey::PodStartShort => "PodStartShort",
            TimeoutKey::PodStartSlow => "PodStartSlow",
            TimeoutKey::PodDelete => "PodDelete",
            TimeoutKey::ClaimProvision => "ClaimProvision",
            TimeoutKey::DataSourceProvision => "DataSourceProvision",
            TimeoutKey::ClaimProvisionShort => "ClaimProvisionShort",
            TimeoutKey::ClaimBound => "ClaimBound",
            TimeoutKey::PVReclaim => "PVReclaim",
            TimeoutKey::PVBound => "PVBound",
            TimeoutKey::PVCreate => "PVCreate",
            TimeoutKey::PVDelete => "PVDelete",
            TimeoutKey::PVDeleteSlow => "PVDeleteSlow",
            TimeoutKey::SnapshotCreate => "SnapshotCreate",
            TimeoutKey::SnapshotDelete => "SnapshotDelete",
            TimeoutKey::SnapshotControllerMetrics => "SnapshotControllerMetrics",
            TimeoutKey::SystemPodsStartup => "SystemPodsStartup",
            TimeoutKey::NodeSchedulable => "NodeSchedulable",
            TimeoutKey::SystemDaemonsetStartup => "SystemDaemonsetStartup",
            TimeoutKey::NodeNotReady => "NodeNotReady",
        }
    }

    /// Sets this timeout in `t`.
    pub fn set(self, t: &mut Timeouts, d: Duration) {
        let field = match self {
            TimeoutKey::Poll => &mut t.poll,
            TimeoutKey::PodStart => &mut t.pod_start,
            TimeoutKey::PodStartShort => &mut t.pod_start_short,
            TimeoutKey::PodStartSlow => &mut t.pod_start_slow,
            TimeoutKey::PodDelete => &mut t.pod_delete,
            TimeoutKey::ClaimProvision => &mut t.claim_provision,
            TimeoutKey::DataSourceProvision => &mut t.data_source_provision,
            TimeoutKey::ClaimProvisionShort => &mut t.claim_provision_short,
            TimeoutKey::ClaimBound => &mut t.claim_bound,
            TimeoutKey::PVReclaim => &mut t.pv_reclaim,
            TimeoutKey::PVBound => &mut t.pv_bound,
            TimeoutKey::PVCreate => &mut t.pv_create,
            TimeoutKey::PVDelete => &mut t.pv_delete,
            TimeoutKey::PVDeleteSlow => &mut t.pv_delete_slow,
            TimeoutKey::SnapshotCreate => &mut t.snapshot_create,
            TimeoutKey::SnapshotDelete => &mut t.snapshot_delete,
            TimeoutKey::SnapshotControllerMetrics => &mut t.snapshot_controller_metrics,
            TimeoutKey::SystemPodsStartup => &mut t.system_pods_startup,
            TimeoutKey::NodeSchedulable => &mut t.node_schedulable,
            TimeoutKey::SystemDaemonsetStartup => &mut t.system_daemonset_startup,
            TimeoutKey::NodeNotReady => &mut t.node_not_ready,
        };
        *field = d;
    }
}

/// Everything a driver file says.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DriverDefinition {
    /// `DriverInfo`, with upstream's defaults applied.
    pub info: DriverInfo,
    /// Class sources by block; a block that names no source is absent.
    pub classes: BTreeMap<ClassKind, ClassSource>,
    /// `InlineVolumes`.
    pub inline_volumes: Vec<InlineVolume>,
    /// `ClientNodeName` (empty: any node).
    pub client_node_name: Option<String>,
    /// `NodeSelectors`.
    pub node_selectors: BTreeMap<String, String>,
    /// `Timeouts`, by upstream's name.
    pub timeouts: BTreeMap<TimeoutKey, Duration>,
}

/// Keys upstream's definition no longer has, with what became of them.
const TOP_OBSOLETE: &[(&str, &str)] = &[
    ("ShortName", "upstream's driver definition no longer has it"),
    (
        "ClaimSize",
        "upstream's driver definition no longer has it; claims are sized from `DriverInfo.SupportedSizeRange.Min`",
    ),
    (
        "SupportedSizeRange",
        "at the top level it is not read (older releases' place); it belongs under `DriverInfo`",
    ),
];
const DRIVER_INFO_OBSOLETE: &[(&str, &str)] =
    &[("FeatureTag", "upstream replaced it with `TestTags`")];
const STRESS_OBSOLETE: &[(&str, &str)] = &[(
    "NumSnapshots",
    "upstream moved it to `DriverInfo.VolumeSnapshotStressTestOptions.NumSnapshots`",
)];

const TOP_KEYS: &[&str] = &[
    "DriverInfo",
    "StorageClass",
    "SnapshotClass",
    "VolumeAttributesClass",
    "GroupSnapshotClass",
    "InlineVolumes",
    "ClientNodeName",
    "NodeSelectors",
    "Timeouts",
];
const DRIVER_INFO_KEYS: &[&str] = &[
    "Name",
    "InTreePluginName",
    "TestTags",
    "MaxFileSize",
    "SupportedSizeRange",
    "SupportedFsType",
    "SupportedMountOption",
    "RequiredMountOption",
    "Capabilities",
    "RequiredAccessModes",
    "TopologyKeys",
    "NumAllowedTopologies",
    "StressTestOptions",
    "VolumeSnapshotStressTestOptions",
    "VolumeModifyStressTestOptions",
    "PerformanceTestOptions",
];
const CLASS_KEYS: &[&str] = &["FromName", "FromFile", "FromExistingClassName"];

/// Capability names upstream used to have.
const OBSOLETE_CAPABILITIES: &[(&str, &str)] = &[(
    "dataSource",
    "was split upstream into `pvcDataSource` and `snapshotDataSource`; name the ones the driver supports",
)];

/// Capabilities read but not used by any suite here yet.
const UNUSED_CAPABILITIES: &[Capability] = &[
    Capability::GroupSnapshot,
    Capability::RwxFilesystemOnly,
    Capability::RwxBlockOnly,
    Capability::OfflineSnapshotClone,
];
const ACCESS_MODES: &[&str] = &[
    "ReadWriteOnce",
    "ReadOnlyMany",
    "ReadWriteMany",
    "ReadWriteOncePod",
];

/// Reads a driver definition from `root`, collecting every diagnostic.
pub fn read(root: &Node, policy: UnknownKeys) -> (DriverDefinition, Vec<Diagnostic>) {
    let mut r = Reader {
        policy,
        diagnostics: Vec::new(),
    };
    r.placeholders(root);
    let def = r.definition(root);
    let mut diagnostics = r.diagnostics;
    diagnostics.sort_by_key(|d| d.pos);
    diagnostics.dedup();
    (def, diagnostics)
}

struct Reader {
    policy: UnknownKeys,
    diagnostics: Vec<Diagnostic>,
}

/// The entries of one mapping, by known key.
struct Fields<'n> {
    path: String,
    pos: Pos,
    found: BTreeMap<&'static str, (Pos, &'n Node)>,
}

impl<'n> Fields<'n> {
    fn get(&self, key: &str) -> Option<&'n Node> {
        self.found.get(key).map(|(_, n)| *n)
    }
    fn path(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", self.path)
        }
    }
}

impl Reader {
    fn error(&mut self, pos: Pos, message: String) {
        self.push(Severity::Error, pos, message);
    }
    fn warn(&mut self, pos: Pos, message: String) {
        self.push(Severity::Warning, pos, message);
    }
    fn push(&mut self, severity: Severity, pos: Pos, message: String) {
        self.diagnostics.push(Diagnostic {
            severity,
            pos,
            message,
        });
    }

    /// A placeholder left from a template is never meant literally.
    fn placeholders(&mut self, node: &Node) {
        match &node.value {
            Value::Str(s) => {
                if let Some((_, found)) = placeholder_in(s) {
                    self.error(
                        node.pos,
                        format!(
                            "{} looks like an unrendered template placeholder; render the template before passing the file",
                            quote(found)
                        ),
                    );
                }
            }
            Value::Seq(items) => items.iter().for_each(|n| self.placeholders(n)),
            Value::Map(entries) => entries.iter().for_each(|(k, v)| {
                self.placeholders(k);
                self.placeholders(v);
            }),
            _ => {}
        }
    }

    /// The entries of the mapping `node` (null: none). Unknown keys are reported: `obsolete`
    /// ones as warnings, others per the policy with the closest known key.
    fn fields<'n>(
        &mut self,
        node: &'n Node,
        path: &str,
        known: &[&'static str],
        obsolete: &[(&str, &str)],
    ) -> Fields<'n> {
        let mut fields = Fields {
            path: path.to_string(),
            pos: node.pos,
            found: BTreeMap::new(),
        };
        let entries = match &node.value {
            Value::Map(entries) => entries,
            Value::Null => return fields,
            other => {
                let what = if path.is_empty() { "the file" } else { path };
                self.error(
                    node.pos,
                    format!("{what} must be a mapping, found {}", other.describe()),
                );
                return fields;
            }
        };
        for (key, value) in entries {
            let Some(name) = key.value.scalar_text() else {
                self.error(
                    key.pos,
                    format!("a key in {} must be a plain name", where_(path)),
                );
                continue;
            };
            if let Some(k) = known.iter().find(|k| **k == name) {
                if let Some((first, _)) = fields.found.insert(k, (key.pos, value)) {
                    self.twice(key.pos, &join(path, k), first);
                }
            } else if let Some((_, why)) = obsolete.iter().find(|(k, _)| *k == name) {
                self.warn(
                    key.pos,
                    format!("`{}` has no effect: {why}", join(path, &name)),
                );
            } else {
                self.unknown(key.pos, path, &name, known);
            }
        }
        fields
    }

    /// The entries of a mapping whose keys are data (capability or timeout names); `None` for
    /// null, or after reporting anything else.
    fn mapping<'n>(
        &mut self,
        node: &'n Node,
        path: &str,
        example: &str,
    ) -> Option<&'n Vec<(Node, Node)>> {
        match &node.value {
            Value::Map(entries) => Some(entries),
            Value::Null => None,
            other => {
                self.error(
                    node.pos,
                    format!(
                        "`{path}` must be a mapping such as `{example}`, found {}",
                        other.describe()
                    ),
                );
                None
            }
        }
    }

    /// A key given twice: upstream keeps the last.
    fn twice(&mut self, pos: Pos, path: &str, first: Pos) {
        self.warn(
            pos,
            format!(
                "`{path}` is given twice (first at {first}); the last one is used, as upstream does"
            ),
        );
    }

    fn unknown(&mut self, pos: Pos, path: &str, name: &str, known: &[&str]) {
        let shown = quote(name);
        let message = match near_miss(name, known.iter().copied()) {
            Some(hint) => format!(
                "unknown key {shown} in {}; did you mean `{hint}`? (upstream ignores it, so it would never take effect)",
                where_(path)
            ),
            None => format!(
                "unknown key {shown} in {}; expected one of: {}",
                where_(path),
                known.join(", ")
            ),
        };
        let severity = self.policy.severity();
        self.push(severity, pos, message);
    }

    fn string(&mut self, node: &Node, path: &str) -> Option<String> {
        match &node.value {
            Value::Null => None,
            // `Name: {commit_tag}` is valid YAML — a mapping with one empty entry — but where a
            // string belongs it is a template's placeholder.
            Value::Map(entries)
                if entries.len() == 1
                    && entries[0].1.value == Value::Null
                    && matches!(entries[0].0.value, Value::Str(_)) =>
            {
                let word = entries[0].0.value.scalar_text().unwrap_or_default();
                self.error(
                    node.pos,
                    format!(
                        "`{path}`: `{{{word}}}` looks like an unrendered template placeholder; render the template before passing the file"
                    ),
                );
                None
            }
            Value::Str(s) => Some(s.clone()),
            Value::Seq(_) | Value::Map(_) => {
                self.error(
                    node.pos,
                    format!("`{path}` must be a string, found {}", node.value.describe()),
                );
                None
            }
            // Upstream refuses these too; YAML reads `yes`, `123` and `1.0` as booleans and
            // numbers.
            other => {
                let text = other.scalar_text().unwrap_or_default();
                self.error(
                    node.pos,
                    format!(
                        "`{path}` must be a string, found {}; quote it: `\"{text}\"`",
                        other.describe()
                    ),
                );
                None
            }
        }
    }

    fn boolean(&mut self, node: &Node, path: &str) -> bool {
        match &node.value {
            Value::Bool(b) => *b,
            Value::Null => false,
            // YAML 1.1 spellings, which upstream's YAML reader takes as booleans.
            Value::Str(s)
                if matches!(
                    s.as_str(),
                    "y" | "Y" | "yes" | "Yes" | "YES" | "on" | "On" | "ON" | "True" | "TRUE"
                ) =>
            {
                true
            }
            Value::Str(s)
                if matches!(
                    s.as_str(),
                    "n" | "N" | "no" | "No" | "NO" | "off" | "Off" | "OFF" | "False" | "FALSE"
                ) =>
            {
                false
            }
            other => {
                self.error(
                    node.pos,
                    format!(
                        "`{path}` must be `true` or `false`, found {}",
                        other.describe()
                    ),
                );
                false
            }
        }
    }

    fn count(&mut self, node: &Node, path: &str) -> u32 {
        self.whole_number(node, path, "a whole number", u32::MAX.into()) as u32
    }

    fn bytes(&mut self, node: &Node, path: &str) -> u64 {
        self.whole_number(node, path, "a number of bytes", i64::MAX.into()) as u64
    }

    /// A whole number from 0 to `max` (0 for null, or after reporting anything else).
    fn whole_number(&mut self, node: &Node, path: &str, what: &str, max: i128) -> i128 {
        match whole(&node.value) {
            Some(i) if (0..=max).contains(&i) => i,
            _ if node.value == Value::Null => 0,
            _ => {
                self.error(
                    node.pos,
                    format!(
                        "`{path}` must be {what} from 0 to {max}, found {}",
                        node.value.describe()
                    ),
                );
                0
            }
        }
    }

    /// A string set in any of its spellings: a mapping whose values are `{}` or nothing (upstream's
    /// form) or, with a warning, a list.
    fn set(&mut self, node: &Node, path: &str) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        match &node.value {
            Value::Null => {}
            Value::Map(entries) => {
                for (k, v) in entries {
                    let Some(member) = k.value.scalar_text() else {
                        self.error(k.pos, format!("a member of `{path}` must be a plain name"));
                        continue;
                    };
                    match &v.value {
                        Value::Null => {}
                        Value::Map(m) if m.is_empty() => {}
                        other => self.error(
                            v.pos,
                            format!(
                                "`{path}` is a set: write `{member}: {{}}` or `{member}:` with no value, found {}",
                                other.describe()
                            ),
                        ),
                    }
                    if !out.insert(member.clone()) {
                        self.twice(k.pos, &join(path, &member), node.pos);
                    }
                }
            }
            Value::Seq(items) => {
                self.warn(
                    node.pos,
                    format!(
                        "`{path}` is a set in upstream's format (`{{ext4: {{}}, xfs: {{}}}}`); upstream's e2e.test refuses this list"
                    ),
                );
                for item in items {
                    if let Some(s) = self.string(item, path) {
                        out.insert(s);
                    }
                }
            }
            other => self.error(
                node.pos,
                format!(
                    "`{path}` must be a set such as `{{ext4: {{}}, xfs: {{}}}}`, found {}",
                    other.describe()
                ),
            ),
        }
        out
    }

    fn list(&mut self, node: &Node, path: &str) -> Vec<(Pos, String)> {
        match &node.value {
            Value::Null => Vec::new(),
            Value::Seq(items) => items
                .iter()
                .filter_map(|n| self.string(n, path).map(|s| (n.pos, s)))
                .collect(),
            other => {
                self.error(
                    node.pos,
                    format!("`{path}` must be a list, found {}", other.describe()),
                );
                Vec::new()
            }
        }
    }

    fn string_map(&mut self, node: &Node, path: &str) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        match &node.value {
            Value::Null => {}
            Value::Map(entries) => {
                for (k, v) in entries {
                    let Some(key) = k.value.scalar_text() else {
                        self.error(k.pos, format!("a key of `{path}` must be a plain name"));
                        continue;
                    };
                    let value = self.string(v, &join(path, &key)).unwrap_or_default();
                    if out.insert(key.clone(), value).is_some() {
                        self.twice(k.pos, &join(path, &key), node.pos);
                    }
                }
            }
            other => self.error(
                node.pos,
                format!(
                    "`{path}` must be a mapping of names to strings, found {}",
                    other.describe()
                ),
            ),
        }
        out
    }

    fn quantity(&mut self, node: &Node, path: &str) -> Option<(String, u128)> {
        let text = self.string(node, path)?;
        if text.is_empty() {
            return Some((text, 0));
        }
        match parse_quantity(&text) {
            Ok(bytes) => Some((text, bytes)),
            Err(why) => {
                self.error(node.pos, format!("`{path}`: {why}, found {}", quote(&text)));
                None
            }
        }
    }

    fn definition(&mut self, root: &Node) -> DriverDefinition {
        let top = self.fields(root, "", TOP_KEYS, TOP_OBSOLETE);
        let mut def = DriverDefinition::default();
        match top.get("DriverInfo") {
            Some(node) => def.info = self.driver_info(node),
            None => self.error(
                Pos { line: 1, column: 1 },
                "the file has no `DriverInfo`; it needs at least `DriverInfo.Name`".into(),
            ),
        }
        for kind in [
            ClassKind::Storage,
            ClassKind::Snapshot,
            ClassKind::VolumeAttributes,
            ClassKind::GroupSnapshot,
        ] {
            if let Some(node) = top.get(kind.key())
                && let Some(source) = self.class(node, kind)
            {
                if matches!(kind, ClassKind::VolumeAttributes | ClassKind::GroupSnapshot) {
                    let suite = match kind {
                        ClassKind::VolumeAttributes => "volume-modify",
                        _ => "volumegroupsnapshottable",
                    };
                    self.warn(
                        node.pos,
                        format!(
                            "`{}` is read, but kube-e2e has no {suite} suite yet: no spec uses it",
                            kind.key()
                        ),
                    );
                }
                def.classes.insert(kind, source);
            }
        }
        if let Some(node) = top.get("InlineVolumes") {
            def.inline_volumes = self.inline_volumes(node);
        }
        if let Some(node) = top.get("ClientNodeName") {
            def.client_node_name = self
                .string(node, "ClientNodeName")
                .filter(|s| !s.is_empty());
        }
        if let Some(node) = top.get("NodeSelectors") {
            def.node_selectors = self.string_map(node, "NodeSelectors");
        }
        if let Some(node) = top.get("Timeouts") {
            def.timeouts = self.timeouts(node);
        }
        def
    }

    fn driver_info(&mut self, node: &Node) -> DriverInfo {
        let f = self.fields(node, "DriverInfo", DRIVER_INFO_KEYS, DRIVER_INFO_OBSOLETE);
        let mut info = DriverInfo {
            supported_fs_types: [String::new()].into(),
            supported_size_range: SizeRange {
                min: "5Gi".into(),
                max: String::new(),
            },
            ..DriverInfo::default()
        };
        let reported = self.diagnostics.len();
        match f
            .get("Name")
            .map(|n| (n.pos, self.string(n, "DriverInfo.Name")))
        {
            // A CSI driver's name has at most 63 characters; a longer one would be in every
            // spec name and class name of the run.
            Some((pos, Some(name))) if name.chars().count() > 63 => self.error(
                pos,
                format!(
                    "`DriverInfo.Name` has at most 63 characters (a CSI driver name), found {}",
                    quote(&name)
                ),
            ),
            Some((_, Some(name))) if !name.trim().is_empty() => info.name = name,
            // Already said why (a placeholder, a list, …).
            Some(_) if self.diagnostics.len() > reported => {}
            Some((pos, _)) => self.error(pos, "`DriverInfo.Name` must not be empty".into()),
            None => self.error(f.pos, "`DriverInfo.Name` is missing".into()),
        }
        if let Some(n) = f.get("InTreePluginName") {
            info.in_tree_plugin_name = self
                .string(n, &f.path("InTreePluginName"))
                .unwrap_or_default();
        }
        if let Some(n) = f.get("TestTags") {
            info.test_tags = self
                .list(n, &f.path("TestTags"))
                .into_iter()
                .map(|(_, s)| s)
                .collect();
        }
        if let Some(n) = f.get("MaxFileSize") {
            info.max_file_size = self.bytes(n, &f.path("MaxFileSize"));
        }
        if let Some(n) = f.get("SupportedSizeRange") {
            info.supported_size_range = self.size_range(n, &f.path("SupportedSizeRange"));
        }
        if let Some(n) = f.get("SupportedFsType") {
            if n.value == Value::Null {
                // Upstream decodes null into no set at all: no file system, so no spec runs.
                info.supported_fs_types.clear();
                self.warn(
                    n.pos,
                    "`DriverInfo.SupportedFsType` is empty (null), which upstream reads as no file system at all: no spec runs for this driver; write `SupportedFsType: {\"\": {}}` (or leave the key out) for the default file system".into(),
                );
            } else {
                // Upstream decodes into a set that already holds "": the default file system
                // stays.
                info.supported_fs_types
                    .extend(self.set(n, &f.path("SupportedFsType")));
            }
        }
        if let Some(n) = f.get("SupportedMountOption") {
            info.supported_mount_options = self.set(n, &f.path("SupportedMountOption"));
        }
        if let Some(n) = f.get("RequiredMountOption") {
            info.required_mount_options = self.set(n, &f.path("RequiredMountOption"));
        }
        if let Some(n) = f.get("Capabilities") {
            info.capabilities = self.capabilities(n);
        }
        if let Some(n) = f.get("RequiredAccessModes") {
            let path = f.path("RequiredAccessModes");
            for (pos, mode) in self.list(n, &path) {
                if ACCESS_MODES.contains(&mode.as_str()) {
                    info.required_access_modes.push(mode);
                } else {
                    let hint = near_miss(&mode, ACCESS_MODES.iter().copied())
                        .map(|h| format!("did you mean `{h}`?"))
                        .unwrap_or_else(|| format!("expected one of: {}", ACCESS_MODES.join(", ")));
                    self.error(
                        pos,
                        format!("`{path}`: unknown access mode {}; {hint}", quote(&mode)),
                    );
                }
            }
        }
        if let Some(n) = f.get("TopologyKeys") {
            info.topology_keys = self
                .list(n, &f.path("TopologyKeys"))
                .into_iter()
                .map(|(_, s)| s)
                .collect();
        }
        if let Some(n) = f.get("NumAllowedTopologies") {
            info.num_allowed_topologies = self.count(n, &f.path("NumAllowedTopologies"));
        }
        if let Some(n) = f.get("StressTestOptions") {
            let path = f.path("StressTestOptions");
            let o = self.fields(n, &path, &["NumPods", "NumRestarts"], STRESS_OBSOLETE);
            let mut opts = StressTestOptions::default();
            if let Some(v) = o.get("NumPods") {
                opts.num_pods = self.count(v, &o.path("NumPods"));
            }
            if let Some(v) = o.get("NumRestarts") {
                opts.num_restarts = self.count(v, &o.path("NumRestarts"));
            }
            info.stress_test_options = Some(opts);
        }
        if let Some(n) = f.get("VolumeSnapshotStressTestOptions") {
            let path = f.path("VolumeSnapshotStressTestOptions");
            let o = self.fields(n, &path, &["NumPods", "NumSnapshots"], &[]);
            let mut opts = VolumeSnapshotStressTestOptions::default();
            if let Some(v) = o.get("NumPods") {
                opts.num_pods = self.count(v, &o.path("NumPods"));
            }
            if let Some(v) = o.get("NumSnapshots") {
                opts.num_snapshots = self.count(v, &o.path("NumSnapshots"));
            }
            info.volume_snapshot_stress_test_options = Some(opts);
        }
        if let Some(n) = f.get("VolumeModifyStressTestOptions") {
            let path = f.path("VolumeModifyStressTestOptions");
            let o = self.fields(n, &path, &["NumPods"], &[]);
            let mut opts = VolumeModifyStressTestOptions::default();
            if let Some(v) = o.get("NumPods") {
                opts.num_pods = self.count(v, &o.path("NumPods"));
            }
            info.volume_modify_stress_test_options = Some(opts);
        }
        if let Some(n) = f.get("PerformanceTestOptions") {
            info.performance_test_options =
                Some(self.performance(n, &f.path("PerformanceTestOptions")));
        }
        // Upstream's backward compatibility: a driver that expands on the controller does so
        // offline and online unless the file says otherwise.
        if info.capabilities.get(&Capability::ControllerExpansion) == Some(&true) {
            for implied in [Capability::OnlineExpansion, Capability::OfflineExpansion] {
                info.capabilities.entry(implied).or_insert(true);
            }
        }
        info
    }

    fn size_range(&mut self, node: &Node, path: &str) -> SizeRange {
        let f = self.fields(node, path, &["Min", "Max"], &[]);
        let mut range = SizeRange {
            min: "5Gi".into(),
            max: String::new(),
        };
        let min = f.get("Min").and_then(|n| self.quantity(n, &f.path("Min")));
        let max = f.get("Max").and_then(|n| self.quantity(n, &f.path("Max")));
        if let (Some((lo, lo_bytes)), Some((hi, hi_bytes))) = (&min, &max)
            && !hi.is_empty()
            && lo_bytes > hi_bytes
        {
            let pos = f.found.get("Min").map_or(f.pos, |(p, _)| *p);
            self.error(
                pos,
                format!("`{path}`: `Min` ({lo}) is larger than `Max` ({hi})"),
            );
        }
        if let Some((min, _)) = min {
            range.min = min;
        }
        if let Some((max, _)) = max {
            range.max = max;
        }
        range
    }

    fn capabilities(&mut self, node: &Node) -> BTreeMap<Capability, bool> {
        let path = "DriverInfo.Capabilities";
        let mut out = BTreeMap::new();
        let Some(entries) = self.mapping(node, path, "persistence: true") else {
            return out;
        };
        let known: Vec<&str> = Capability::ALL.iter().map(|c| c.key()).collect();
        for (k, v) in entries {
            let name = k.value.scalar_text().unwrap_or_default();
            let value = self.boolean(v, &join(path, &name));
            if let Some((_, why)) = OBSOLETE_CAPABILITIES.iter().find(|(c, _)| *c == name) {
                let shown = quote(&name);
                let severity = self.policy.severity();
                self.push(
                    severity,
                    k.pos,
                    format!("capability {shown} {why} (upstream ignores it, so the specs it meant would never run)"),
                );
                continue;
            }
            match Capability::from_key(&name) {
                Some(cap) => {
                    if out.insert(cap, value).is_some() {
                        self.twice(k.pos, &join(path, &name), node.pos);
                    }
                    if value && UNUSED_CAPABILITIES.contains(&cap) {
                        self.warn(
                            k.pos,
                            format!("capability `{name}` is read, but no suite of kube-e2e uses it yet: it changes no spec"),
                        );
                    }
                }
                None => {
                    let shown = quote(&name);
                    let message = match near_miss(&name, known.iter().copied()) {
                        Some(hint) => format!(
                            "unknown capability {shown}; did you mean `{hint}`? (upstream ignores it, so the specs it would enable never run)"
                        ),
                        None => format!(
                            "unknown capability {shown} (upstream ignores it, so the specs it would enable never run); known capabilities (Kubernetes 1.33–1.35): {}",
                            known.join(", ")
                        ),
                    };
                    let severity = self.policy.severity();
                    self.push(severity, k.pos, message);
                }
            }
        }
        out
    }

    fn class(&mut self, node: &Node, kind: ClassKind) -> Option<ClassSource> {
        let path = kind.key();
        let f = self.fields(node, path, CLASS_KEYS, &[]);
        let mut set: Vec<(&str, ClassSource)> = Vec::new();
        if let Some(n) = f.get("FromName")
            && self.boolean(n, &f.path("FromName"))
        {
            set.push(("FromName", ClassSource::FromName));
        }
        if let Some(n) = f.get("FromExistingClassName")
            && let Some(name) = self.string(n, &f.path("FromExistingClassName"))
            && !name.is_empty()
        {
            set.push((
                "FromExistingClassName",
                ClassSource::FromExistingClassName(name),
            ));
        }
        if let Some(n) = f.get("FromFile")
            && let Some(file) = self.string(n, &f.path("FromFile"))
            && !file.is_empty()
        {
            set.push((
                "FromFile",
                ClassSource::FromFile {
                    path: file,
                    pos: n.pos,
                },
            ));
        }
        if set.len() > 1 {
            let names: Vec<&str> = set.iter().map(|(k, _)| *k).collect();
            let severity = self.policy.severity();
            self.push(
                severity,
                node.pos,
                format!(
                    "`{path}` sets {}; upstream uses only `{}` (FromName, then FromExistingClassName, then FromFile) — keep one",
                    names.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(" and "),
                    names[0]
                ),
            );
        }
        set.into_iter().next().map(|(_, s)| s)
    }

    fn inline_volumes(&mut self, node: &Node) -> Vec<InlineVolume> {
        let items = match &node.value {
            Value::Null => return Vec::new(),
            Value::Seq(items) => items,
            other => {
                self.error(
                    node.pos,
                    format!("`InlineVolumes` must be a list, found {}", other.describe()),
                );
                return Vec::new();
            }
        };
        let mut out = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let path = format!("InlineVolumes[{i}]");
            let f = self.fields(item, &path, &["Attributes", "Shared", "ReadOnly"], &[]);
            let mut v = InlineVolume::default();
            if let Some(n) = f.get("Attributes") {
                v.attributes = self.string_map(n, &f.path("Attributes"));
            }
            if let Some(n) = f.get("Shared") {
                v.shared = self.boolean(n, &f.path("Shared"));
            }
            if let Some(n) = f.get("ReadOnly") {
                v.read_only = self.boolean(n, &f.path("ReadOnly"));
            }
            out.push(v);
        }
        out
    }

    fn timeouts(&mut self, node: &Node) -> BTreeMap<TimeoutKey, Duration> {
        let mut out = BTreeMap::new();
        let Some(entries) = self.mapping(node, "Timeouts", "PodStart: 10m") else {
            return out;
        };
        let names: Vec<&str> = TimeoutKey::ALL.iter().map(|k| k.name()).collect();
        for (k, v) in entries {
            let name = k.value.scalar_text().unwrap_or_default();
            let key = TimeoutKey::ALL
                .into_iter()
                .find(|t| t.name().eq_ignore_ascii_case(&name));
            let Some(key) = key else {
                self.unknown(k.pos, "Timeouts", &name, &names);
                continue;
            };
            let path = format!("Timeouts.{name}");
            let text = match &v.value {
                Value::Str(s) => s.clone(),
                other => {
                    self.error(
                        v.pos,
                        format!(
                            "`{path}` must be a duration such as `5m` or `90s`, found {}",
                            other.describe()
                        ),
                    );
                    continue;
                }
            };
            match parse_go_duration(&text) {
                Ok(d) => {
                    if out.insert(key, d).is_some() {
                        self.twice(k.pos, &format!("Timeouts.{}", key.name()), node.pos);
                    }
                }
                Err(why) => self.error(
                    v.pos,
                    format!(
                        "`{path}`: {why}, found {} (upstream would drop every custom timeout of this file)",
                        quote(&text)
                    ),
                ),
            }
        }
        out
    }

    fn performance(&mut self, node: &Node, path: &str) -> PerformanceTestOptions {
        let f = self.fields(node, path, &["ProvisioningOptions"], &[]);
        let mut opts = PerformanceTestOptions::default();
        if let Some(n) = f.get("ProvisioningOptions") {
            let path = f.path("ProvisioningOptions");
            let p = self.fields(n, &path, &["VolumeSize", "Count", "ExpectedMetrics"], &[]);
            let mut prov = ProvisioningPerformanceOptions::default();
            if let Some(v) = p.get("VolumeSize") {
                prov.volume_size = self
                    .quantity(v, &p.path("VolumeSize"))
                    .map(|(s, _)| s)
                    .unwrap_or_default();
            }
            if let Some(v) = p.get("Count") {
                prov.count = self.count(v, &p.path("Count"));
            }
            if let Some(v) = p.get("ExpectedMetrics") {
                let path = p.path("ExpectedMetrics");
                let m = self.fields(v, &path, &["AvgLatency", "Throughput"], &[]);
                let mut metrics = PerformanceMetrics::default();
                if let Some(x) = m.get("AvgLatency") {
                    // Go encodes a time.Duration as integer nanoseconds; a duration string is
                    // accepted too.
                    let path = m.path("AvgLatency");
                    match &x.value {
                        Value::Int(ns) if *ns >= 0 => {
                            metrics.avg_latency =
                                Duration::from_nanos(u64::try_from(*ns).unwrap_or(u64::MAX));
                        }
                        Value::Str(s) => match parse_go_duration(s) {
                            Ok(d) => metrics.avg_latency = d,
                            Err(why) => {
                                self.error(x.pos, format!("`{path}`: {why}, found {}", quote(s)))
                            }
                        },
                        other => self.error(
                            x.pos,
                            format!(
                                "`{path}` must be nanoseconds or a duration such as `2s`, found {}",
                                other.describe()
                            ),
                        ),
                    }
                }
                if let Some(x) = m.get("Throughput") {
                    match &x.value {
                        Value::Int(i) if *i >= 0 => metrics.throughput = *i as f64,
                        Value::Float(t) if t.is_finite() && *t >= 0.0 => metrics.throughput = *t,
                        other => self.error(
                            x.pos,
                            format!(
                                "`{}` must be a non-negative number, found {}",
                                m.path("Throughput"),
                                other.describe()
                            ),
                        ),
                    }
                }
                prov.expected_metrics = Some(metrics);
            }
            opts.provisioning = Some(prov);
        }
        opts
    }
}

/// A whole number, written as an integer or as a float without a fraction (`10.0`, `1e1`), as
/// Go's JSON decoding takes them for integer fields.
fn whole(v: &Value) -> Option<i128> {
    match v {
        Value::Int(i) => Some(*i),
        Value::Float(x) if x.is_finite() && x.fract() == 0.0 && x.abs() < 1e30 => Some(*x as i128),
        _ => None,
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

fn where_(path: &str) -> String {
    if path.is_empty() {
        "the file's top level".into()
    } else {
        format!("`{path}`")
    }
}

/// The known name `name` is a slip of: the same but for case, or within a small edit distance.
pub fn near_miss<'a>(
    name: &str,
    known: impl IntoIterator<Item = &'a str> + Clone,
) -> Option<&'a str> {
    known
        .clone()
        .into_iter()
        .find(|k| k.eq_ignore_ascii_case(name))
        .or_else(|| suggest(name, known))
}

/// Parses a Go duration (`300ms`, `1.5h`, `2h45m`; units ns, us, µs, ms, s, m, h; `0` alone).
///
/// # Errors
///
/// What is wrong, for a message that quotes the text itself.
pub fn parse_go_duration(text: &str) -> Result<Duration, String> {
    let expected = "expected a duration such as `90s`, `5m` or `1h30m`";
    let t = text.trim();
    if t.starts_with('-') {
        return Err("a timeout must not be negative".into());
    }
    let t = t.strip_prefix('+').unwrap_or(t);
    if t == "0" {
        return Ok(Duration::ZERO);
    }
    if t.is_empty() {
        return Err(expected.into());
    }
    let mut total = 0f64;
    let mut rest = t;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if num_len == 0 {
            return Err(expected.into());
        }
        let n: f64 = rest[..num_len].parse().map_err(|_| expected.to_string())?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let secs = match &rest[..unit_len] {
            "ns" => 1e-9,
            "us" | "µs" | "μs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            "" => return Err(format!("{expected} (a number needs a unit)")),
            _ => return Err(expected.into()),
        };
        rest = &rest[unit_len..];
        total += n * secs;
    }
    Duration::try_from_secs_f64(total).map_err(|_| "the duration is too long".into())
}

/// Bytes of a Kubernetes quantity (`5Gi`, `500M`, `1e9`, `1.5Ti`), rounded up to whole bytes.
///
/// # Errors
///
/// A negative or malformed quantity, or one beyond 2^100 bytes.
pub fn parse_quantity(text: &str) -> Result<u128, String> {
    let expected = "expected a size such as `1Gi`, `500Mi` or `10G`";
    let t = text.trim();
    if t.starts_with('-') {
        return Err("a size must not be negative".into());
    }
    let t = t.strip_prefix('+').unwrap_or(t);
    let num_len = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (number, suffix) = t.split_at(num_len);
    let (whole, frac) = number.split_once('.').unwrap_or((number, ""));
    if whole.is_empty() && frac.is_empty() || frac.contains('.') {
        return Err(expected.into());
    }
    // mantissa × 10^-frac.len(), in exact integer arithmetic.
    let digits = format!("{whole}{frac}");
    let mantissa: u128 = digits.parse().map_err(|_| expected.to_string())?;
    let (multiplier, exp10): (u128, i32) = match suffix {
        "" => (1, 0),
        "Ki" => (1 << 10, 0),
        "Mi" => (1 << 20, 0),
        "Gi" => (1 << 30, 0),
        "Ti" => (1 << 40, 0),
        "Pi" => (1 << 50, 0),
        "Ei" => (1 << 60, 0),
        "n" => (1, -9),
        "u" => (1, -6),
        "m" => (1, -3),
        "k" => (1, 3),
        "M" => (1, 6),
        "G" => (1, 9),
        "T" => (1, 12),
        "P" => (1, 15),
        "E" => (1, 18),
        s if s.starts_with(['e', 'E']) => {
            let e: i32 = s[1..].parse().map_err(|_| expected.to_string())?;
            if !(-30..=30).contains(&e) {
                return Err("the exponent is out of range".into());
            }
            (1, e)
        }
        _ => return Err(expected.into()),
    };
    let exp = exp10 - frac.len() as i32;
    let too_big = || "the size is too large".to_string();
    let value = mantissa.checked_mul(multiplier).ok_or_else(too_big)?;
    let bytes = if exp >= 0 {
        value
            .checked_mul(10u128.checked_pow(exp as u32).ok_or_else(too_big)?)
            .ok_or_else(too_big)?
    } else {
        let div = 10u128.checked_pow((-exp) as u32).ok_or_else(too_big)?;
        value.div_ceil(div)
    };
    if bytes > 1 << 100 {
        return Err(too_big());
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations() {
        assert_eq!(parse_go_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_go_duration("300ms"), Ok(Duration::from_millis(300)));
        assert_eq!(parse_go_duration("1.5h"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_go_duration("0"), Ok(Duration::ZERO));
        assert!(
            parse_go_duration("300")
                .unwrap_err()
                .contains("needs a unit")
        );
        assert!(parse_go_duration("-5m").unwrap_err().contains("negative"));
        assert!(parse_go_duration("soon").is_err());
        assert!(parse_go_duration("1e300h").is_err());
    }

    #[test]
    fn quantities() {
        assert_eq!(parse_quantity("5Gi"), Ok(5 << 30));
        assert_eq!(parse_quantity("1.5Ki"), Ok(1536));
        assert_eq!(parse_quantity("10G"), Ok(10_000_000_000));
        assert_eq!(parse_quantity("1e3"), Ok(1000));
        assert_eq!(parse_quantity("1500m"), Ok(2));
        assert_eq!(parse_quantity("0"), Ok(0));
        assert!(parse_quantity("-1Gi").unwrap_err().contains("negative"));
        assert!(parse_quantity("lots").is_err());
        assert!(parse_quantity("5GB").is_err());
        assert!(parse_quantity("1.2.3Gi").is_err());
        assert!(parse_quantity("99999999999999999999999999999999999999Ei").is_err());
    }

    #[test]
    fn near_misses_are_case_slips_or_small_edits() {
        let keys = ["Shared", "ReadOnly", "Attributes"];
        assert_eq!(near_miss("shared", keys), Some("Shared"));
        assert_eq!(near_miss("ReadOnyl", keys), Some("ReadOnly"));
        assert_eq!(near_miss("Volume", keys), None);
    }

    #[test]
    fn timeout_keys_cover_upstreams_names_once() {
        let names: BTreeSet<&str> = TimeoutKey::ALL.iter().map(|k| k.name()).collect();
        assert_eq!(names.len(), TimeoutKey::ALL.len());
        let mut t = Timeouts::default();
        TimeoutKey::NodeNotReady.set(&mut t, Duration::from_secs(7));
        assert_eq!(t.node_not_ready, Duration::from_secs(7));
    }
}
