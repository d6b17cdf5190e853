//! External drivers described by a file (`--storage.testdriver=FILE`, repeatable), in the
//! format of upstream's `test/e2e/storage/external` (YAML or JSON), read with upstream's
//! meaning — and with what upstream hides said once, at the line and column it is about, before
//! anything runs: keys upstream no longer has (warnings), near-misses of real keys, unknown
//! capabilities, two sources in one class block, unparsable timeouts and unrendered template
//! placeholders (errors with a suggestion). See [`definition`] for the rules.
//!
//! - [`tree`]: the file as YAML nodes with positions;
//! - [`definition`]: the driver definition read from them;
//! - [`diagnostic`]: errors, warnings and the unknown-key policy.

pub mod definition;
pub mod diagnostic;
pub mod tree;

#[cfg(test)]
mod fuzz;

pub use definition::{ClassKind, ClassSource, DriverDefinition, TimeoutKey};
pub use diagnostic::{Diagnostic, ExternalDriverError, Severity, UnknownKeys};

use crate::driver::{
    ClientNodeSelection, DriverInfo, DynamicPvDriver, EphemeralDriver, InlineVolume, PerTestConfig,
    SnapshottableDriver, TestDriver,
};
use crate::suite::{TestSuite, register_driver};
use anyhow::Context as _;
use futures::future::BoxFuture;
use k8s_openapi::api::storage::v1::StorageClass;
use kube::api::{Api, DynamicObject};
use kube_e2e::config::param::{Params, read_regular_file};
use kube_e2e::manifest::testfiles::TestFiles;
use kube_e2e::{Container, Framework, Timeouts};
use serde_json::json;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// How driver files are read.
#[derive(Clone, Debug, Default)]
pub struct LoadOptions {
    /// What to do with keys upstream would ignore.
    pub unknown_keys: UnknownKeys,
    /// Where `FromFile` paths of `StorageClass` and `VolumeAttributesClass` are looked up
    /// (upstream's test files: `--framework.repo-root`, then embedded files); `None`: not
    /// checked at load time.
    pub test_files: Option<TestFiles>,
}

/// A driver described by a file.
#[derive(Debug)]
pub struct ExternalDriver {
    file: String,
    definition: DriverDefinition,
    warnings: Vec<Diagnostic>,
    /// Directory `SnapshotClass.FromFile` is resolved in (upstream: the working directory).
    working_dir: PathBuf,
    classes: AtomicUsize,
}

impl ExternalDriver {
    /// Parses a driver file's text with the default options; `file` names it in messages.
    ///
    /// # Errors
    ///
    /// [`ExternalDriverError::Invalid`] with every error, each at its line and column.
    pub fn parse(file: &str, text: &str) -> Result<Self, ExternalDriverError> {
        Self::parse_with(file, text, &LoadOptions::default())
    }

    /// Parses a driver file's text.
    ///
    /// # Errors
    ///
    /// [`ExternalDriverError::Invalid`] with every error (and the warnings found with them).
    pub fn parse_with(
        file: &str,
        text: &str,
        options: &LoadOptions,
    ) -> Result<Self, ExternalDriverError> {
        let invalid = |diagnostics| ExternalDriverError::Invalid {
            file: file.to_string(),
            diagnostics,
        };
        let parsed = tree::parse(text).map_err(|e| {
            invalid(vec![Diagnostic {
                severity: Severity::Error,
                pos: e.pos,
                message: e.message,
            }])
        })?;
        let (definition, mut diagnostics) = definition::read(&parsed.root, options.unknown_keys);
        if let Some(pos) = parsed.ignored_document {
            diagnostics.push(Diagnostic {
                severity: Severity::Warning,
                pos,
                message: "a second YAML document starts here; only the first is read, as upstream reads it".into(),
            });
        }
        let working_dir = std::env::current_dir().unwrap_or_default();
        diagnostics.extend(check_class_files(
            &definition,
            options.test_files.as_ref(),
            &working_dir,
        ));
        diagnostics.sort_by_key(|d| d.pos);
        if diagnostics.iter().any(|d| d.severity == Severity::Error) {
            return Err(invalid(diagnostics));
        }
        Ok(ExternalDriver {
            file: file.to_string(),
            definition,
            warnings: diagnostics,
            working_dir,
            classes: AtomicUsize::new(0),
        })
    }

    /// Reads and parses a driver file with the default options.
    ///
    /// # Errors
    ///
    /// As [`ExternalDriver::parse`], or the file being unreadable or not a regular file.
    pub fn load(path: &Path) -> Result<Self, ExternalDriverError> {
        Self::load_with(path, &LoadOptions::default())
    }

    /// Reads and parses a driver file.
    ///
    /// # Errors
    ///
    /// As [`ExternalDriver::parse_with`], or the file being unreadable or not a regular file
    /// (a FIFO or a device is refused rather than read forever).
    pub fn load_with(path: &Path, options: &LoadOptions) -> Result<Self, ExternalDriverError> {
        let file = path.display().to_string();
        let text = read_regular_file(path).map_err(|source| ExternalDriverError::Read {
            file: file.clone(),
            source,
        })?;
        Self::parse_with(&file, &text, options)
    }

    /// The file the driver was read from.
    pub fn file(&self) -> &str {
        &self.file
    }

    /// Everything the file says.
    pub fn definition(&self) -> &DriverDefinition {
        &self.definition
    }

    /// What the file's author should know (keys without effect, ignored keys under
    /// `--storage.testdriver-unknown-keys=warn`), each rendered with the file's name.
    pub fn warnings(&self) -> Vec<String> {
        self.warnings.iter().map(|d| d.render(&self.file)).collect()
    }

    /// Where the driver's storage classes come from (`StorageClass`); `None`: no dynamic
    /// provisioning.
    pub fn storage_class_source(&self) -> Option<&ClassSource> {
        self.definition.classes.get(&ClassKind::Storage)
    }

    /// Where the driver's snapshot classes come from (`SnapshotClass`); `None`: no snapshots.
    pub fn snapshot_class_source(&self) -> Option<&ClassSource> {
        self.definition.classes.get(&ClassKind::Snapshot)
    }

    fn class_name(&self, config: &PerTestConfig, kind: &str) -> String {
        let n = self.classes.fetch_add(1, Ordering::Relaxed);
        format!("{}-{kind}{n}", config.framework.namespace())
    }
}

/// Every `FromFile` must name a file holding exactly one object of the class's kind — checked
/// now, not in the first spec that needs it.
fn check_class_files(
    def: &DriverDefinition,
    files: Option<&TestFiles>,
    working_dir: &Path,
) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for (kind, source) in &def.classes {
        let ClassSource::FromFile { path, pos } = source else {
            continue;
        };
        if tree::placeholder_in(path).is_some() {
            continue; // already reported as a placeholder
        }
        let not_found = |e: &std::io::Error| e.kind() == std::io::ErrorKind::NotFound;
        let read = if kind.resolves_in_working_directory() || Path::new(path).is_absolute() {
            let full = working_dir.join(path);
            match read_regular_file(&full) {
                Ok(text) => Ok((text, full.display().to_string())),
                Err(e) if not_found(&e) && Path::new(path).is_absolute() => {
                    Err("no such file".to_string())
                }
                Err(e) if not_found(&e) => Err(format!(
                    "not found in the working directory {} (upstream reads `{}.FromFile` from there)",
                    working_dir.display(),
                    kind.key()
                )),
                Err(e) => Err(e.to_string()),
            }
        } else {
            match files {
                None => continue,
                Some(files) => files.read_to_string(path).map_err(|e| match e {
                    kube_e2e::manifest::testfiles::TestFileError::NotFound { .. } => {
                        match files.repo_root() {
                            Some(root) => format!(
                                "not found under --framework.repo-root {} (nor among the embedded test files)",
                                root.display()
                            ),
                            None => "not found among the embedded test files; set --framework.repo-root to the directory the path is relative to".to_string(),
                        }
                    }
                    // With its cause: "a FIFO", "a directory".
                    other => match std::error::Error::source(&other) {
                        Some(cause) => format!("{other}: {cause}"),
                        None => other.to_string(),
                    },
                }),
            }
        };
        let problem = match read {
            Err(why) => Some(format!(
                "`{}.FromFile` {}: {why}",
                kind.key(),
                tree::quote(path)
            )),
            Ok((text, origin)) => match one_object_kind(&origin, &text) {
                Ok(k) if k == kind.object_kind() => None,
                Ok(k) => Some(format!(
                    "`{}.FromFile`: {origin} holds a {k}, expected a {}",
                    kind.key(),
                    kind.object_kind()
                )),
                Err(why) => Some(format!("`{}.FromFile`: {why}", kind.key())),
            },
        };
        if let Some(message) = problem {
            out.push(Diagnostic {
                severity: Severity::Error,
                pos: *pos,
                message,
            });
        }
    }
    out
}

/// The `kind` of the only object in `text` (read from `origin`).
fn one_object_kind(origin: &str, text: &str) -> Result<String, String> {
    let docs = kube_e2e::manifest::parse_documents(origin, text).map_err(|e| e.to_string())?;
    match docs.as_slice() {
        [one] => Ok(one
            .object
            .types
            .as_ref()
            .map(|t| t.kind.clone())
            .unwrap_or_default()),
        other => Err(format!(
            "{origin}: expected exactly one object, found {}",
            other.len()
        )),
    }
}

/// Registers every driver file given with `--storage.testdriver` with `suites`, as upstream's
/// "External Storage"; call it from a generator (see [`external_drivers!`](crate::external_drivers)).
/// Every file is read before anything is registered, and every error of every file is reported
/// together; warnings go to standard error once.
///
/// # Errors
///
/// Every file that cannot be read or does not describe a driver, a bad
/// `--storage.testdriver-unknown-keys`, or two files defining the same driver.
pub fn register_from_params(
    s: &mut Container,
    params: &Params,
    suites: &[TestSuite],
) -> anyhow::Result<()> {
    let drivers = load_from_params(params)?;
    for driver in drivers {
        for w in driver.warnings() {
            eprintln!("{w}");
        }
        register_driver(s, "External Storage", Arc::new(driver), suites);
    }
    Ok(())
}

/// Reads every driver file given with `--storage.testdriver`, with
/// `--storage.testdriver-unknown-keys` and `--framework.repo-root` applied.
///
/// # Errors
///
/// As [`register_from_params`].
pub fn load_from_params(params: &Params) -> anyhow::Result<Vec<ExternalDriver>> {
    let unknown_keys = match params.string("storage.testdriver-unknown-keys") {
        Some(v) => UnknownKeys::parse(&v).map_err(anyhow::Error::msg)?,
        None => UnknownKeys::default(),
    };
    let repo_root = params
        .string("framework.repo-root")
        .filter(|r| !r.trim().is_empty())
        .map(PathBuf::from);
    let options = LoadOptions {
        unknown_keys,
        test_files: Some(TestFiles::new(repo_root)),
    };
    let mut errors = Vec::new();
    let mut drivers: Vec<ExternalDriver> = Vec::new();
    let mut seen_files: Vec<(PathBuf, String)> = Vec::new();
    for file in params.list("storage.testdriver") {
        let canonical = std::fs::canonicalize(&file).unwrap_or_else(|_| PathBuf::from(&file));
        if let Some((_, first)) = seen_files.iter().find(|(c, _)| *c == canonical) {
            errors.push(format!(
                "driver file {file} is given twice (also as {first}); give each file once"
            ));
            continue;
        }
        seen_files.push((canonical, file.clone()));
        match ExternalDriver::load_with(Path::new(&file), &options) {
            Ok(driver) => {
                if let Some(other) = drivers
                    .iter()
                    .find(|d| d.definition.info.name == driver.definition.info.name)
                {
                    errors.push(
                        ExternalDriverError::Duplicate {
                            name: driver.definition.info.name.clone(),
                            first: other.file.clone(),
                            second: driver.file.clone(),
                        }
                        .to_string(),
                    );
                } else {
                    drivers.push(driver);
                }
            }
            Err(e) => errors.push(format!("{e:#}")),
        }
    }
    if errors.is_empty() {
        Ok(drivers)
    } else {
        Err(anyhow::anyhow!(errors.join("\n")))
    }
}

impl TestDriver for ExternalDriver {
    fn driver_info(&self) -> &DriverInfo {
        &self.definition.info
    }

    fn prepare<'a>(&'a self, f: Arc<Framework>) -> BoxFuture<'a, anyhow::Result<PerTestConfig>> {
        Box::pin(async move {
            Ok(PerTestConfig {
                framework: f,
                driver_name: self.definition.info.name.clone(),
                prefix: "external".into(),
                client_node: ClientNodeSelection {
                    name: self.definition.client_node_name.clone(),
                    selector: self.definition.node_selectors.clone(),
                },
                driver_namespace: None,
            })
        })
    }

    fn as_dynamic_pv(&self) -> Option<&dyn DynamicPvDriver> {
        self.storage_class_source()
            .is_some()
            .then_some(self as &dyn DynamicPvDriver)
    }
    fn as_snapshottable(&self) -> Option<&dyn SnapshottableDriver> {
        self.snapshot_class_source()
            .is_some()
            .then_some(self as &dyn SnapshottableDriver)
    }
    fn as_ephemeral(&self) -> Option<&dyn EphemeralDriver> {
        (!self.definition.inline_volumes.is_empty()).then_some(self as &dyn EphemeralDriver)
    }

    fn timeouts(&self) -> Option<Timeouts> {
        if self.definition.timeouts.is_empty() {
            return None;
        }
        let mut t = Timeouts::default();
        for (k, v) in &self.definition.timeouts {
            k.set(&mut t, *v);
        }
        Some(t)
    }
}

impl ExternalDriver {
    async fn class_from_source(
        &self,
        f: &Framework,
        kind: ClassKind,
        resource: &kube::api::ApiResource,
        fallback: serde_json::Value,
    ) -> anyhow::Result<DynamicObject> {
        let source = self
            .definition
            .classes
            .get(&kind)
            .with_context(|| format!("no {} in driver file {}", kind.key(), self.file))?;
        let api: Api<DynamicObject> = Api::all_with(f.client().clone(), resource);
        let mut obj = match source {
            ClassSource::FromExistingClassName(name) => api
                .get(name)
                .await
                .with_context(|| format!("reading existing {} {name}", resource.kind))?,
            ClassSource::FromFile { path, .. } => {
                let (text, origin) = if kind.resolves_in_working_directory() {
                    let full = self.working_dir.join(path);
                    let text = std::fs::read_to_string(&full)
                        .with_context(|| format!("reading {}", full.display()))?;
                    (text, full.display().to_string())
                } else {
                    f.session().files().read_to_string(path)?
                };
                serde_saphyr::from_str::<DynamicObject>(&text)
                    .map_err(|e| anyhow::anyhow!("{origin}: {e}"))?
            }
            ClassSource::FromName => {
                let mut o = DynamicObject::new("", resource);
                o.data = fallback;
                o
            }
        };
        obj.metadata = kube::api::ObjectMeta::default();
        obj.types = Some(kube::core::TypeMeta {
            api_version: resource.api_version.clone(),
            kind: resource.kind.clone(),
        });
        Ok(obj)
    }
}

impl DynamicPvDriver for ExternalDriver {
    fn storage_class<'a>(
        &'a self,
        config: &'a PerTestConfig,
        _fs_type: &'a str,
    ) -> BoxFuture<'a, anyhow::Result<StorageClass>> {
        Box::pin(async move {
            let ar = kube::api::ApiResource::erase::<StorageClass>(&());
            let mut obj = self
                .class_from_source(
                    &config.framework,
                    ClassKind::Storage,
                    &ar,
                    json!({"provisioner": self.definition.info.name}),
                )
                .await?;
            obj.metadata.name = Some(self.class_name(config, "sc"));
            Ok(serde_json::from_value(serde_json::to_value(&obj)?)?)
        })
    }
}

impl SnapshottableDriver for ExternalDriver {
    fn snapshot_class<'a>(
        &'a self,
        config: &'a PerTestConfig,
        parameters: BTreeMap<String, String>,
    ) -> BoxFuture<'a, anyhow::Result<DynamicObject>> {
        Box::pin(async move {
            let ar = crate::volume::snapshot_resource("VolumeSnapshotClass");
            let mut obj = self
                .class_from_source(
                    &config.framework,
                    ClassKind::Snapshot,
                    &ar,
                    json!({"driver": self.definition.info.name, "deletionPolicy": "Delete"}),
                )
                .await?;
            obj.metadata.name = Some(self.class_name(config, "vsc"));
            if !parameters.is_empty() {
                let mut p = obj.data["parameters"]
                    .as_object()
                    .cloned()
                    .unwrap_or_default();
                for (k, v) in parameters {
                    p.insert(k, json!(v));
                }
                obj.data["parameters"] = json!(p);
            }
            Ok(obj)
        })
    }
}

impl EphemeralDriver for ExternalDriver {
    fn volume(&self, _config: &PerTestConfig, n: usize) -> InlineVolume {
        let volumes = &self.definition.inline_volumes;
        volumes[n % volumes.len()].clone()
    }
}
