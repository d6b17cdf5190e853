//! Manifests: multi-document YAML of any kind — CRDs and custom resources included — loaded from
//! test files, patched for the spec ([`crate::manifest::patch`]), created in file and document order, each
//! with a cleanup that deletes it (LIFO).
//!
//! ```no_run
//! # async fn run(f: &kube_e2e::Framework) -> anyhow::Result<()> {
//! let created = f
//!     .manifests(["quickstart/crd.yaml", "quickstart/app.yaml"])
//!     .patch(|obj| {
//!         obj.metadata.annotations.get_or_insert_with(Default::default)
//!             .insert("example.com/owner".into(), "quickstart".into());
//!         Ok(())
//!     })
//!     .wait_for_rollout()
//!     .create()
//!     .await?;
//! println!("created {} objects", created.len());
//! # Ok(()) }
//! ```
//!
//! Kinds resolve through discovery; kinds defined by a CRD of the same set take the CRD's scope
//! and names, and their objects are created only after the CRD is Established. Errors name the
//! file, the document (1-based) and its line: `quickstart/bad.yaml: document 2 (line 7): unknown
//! kind `Widget` in `example.com/v1``.
//!
//! [`Manifests`] is the spec layer over [`Target`](crate::manifest::Target), the
//! pipeline's Framework-free core: without a spec — a driver shared by a whole run — parse with
//! [`parse_documents`] and write with a `Target` (a client, an optional namespace, create or
//! server-side apply; see [`crate::manifest::target`]).

use crate::expect::eventually::WaitError;
use crate::framework::Framework;
use crate::manifest::patch::{PatchContext, Patchable, patch_for_test};
use crate::manifest::target::{Created, Resolved, Target, discover, resolve_kinds};
use crate::manifest::testfiles::TestFileError;
use kube::api::{DeleteParams, DynamicObject};
use std::fmt;
use std::sync::Arc;

/// Where a document came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Origin {
    /// The file (as asked for).
    pub file: String,
    /// 1-based document index in the file.
    pub document: usize,
    /// 1-based line where the document starts.
    pub line: usize,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: document {} (line {})",
            self.file, self.document, self.line
        )
    }
}

/// Errors of loading and creating manifests.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    /// The file was not found or not readable.
    #[error(transparent)]
    File(#[from] TestFileError),
    /// A document is not valid YAML.
    #[error("{file}: document {document}, line {line}, column {column}: {message}")]
    Parse {
        /// The file.
        file: String,
        /// 1-based document index.
        document: usize,
        /// 1-based line in the file.
        line: usize,
        /// 1-based column.
        column: usize,
        /// The parser's message.
        message: String,
    },
    /// A document lacks `apiVersion` or `kind`, or is not a mapping.
    #[error("{origin}: {message}")]
    Invalid {
        /// Where.
        origin: Origin,
        /// What is wrong.
        message: String,
    },
    /// Discovery does not know the kind.
    #[error("{origin}: unknown kind `{kind}` in `{api_version}`")]
    UnknownKind {
        /// Where.
        origin: Origin,
        /// The kind.
        kind: String,
        /// The apiVersion.
        api_version: String,
    },
    /// A caller patch failed.
    #[error("{origin}: patch failed: {message}")]
    Patch {
        /// Where.
        origin: Origin,
        /// The patch's error.
        message: String,
    },
    /// The API server refused to create an object.
    #[error("{origin}: failed to create {kind} `{name}`")]
    Create {
        /// Where.
        origin: Origin,
        /// Kind.
        kind: String,
        /// Name after patching.
        name: String,
        /// The API error.
        #[source]
        source: Box<kube::Error>,
    },
    /// The API server refused a server-side apply of an object.
    #[error("{origin}: failed to apply {kind} `{name}`")]
    Apply {
        /// Where.
        origin: Origin,
        /// Kind.
        kind: String,
        /// Name after patching.
        name: String,
        /// The API error.
        #[source]
        source: Box<kube::Error>,
    },
    /// Waiting (CRD established, rollout) failed.
    #[error(transparent)]
    Wait(#[from] Box<WaitError>),
    /// The spec that created the framework is no longer running.
    #[error("the spec is no longer running")]
    NoSpec,
}

impl From<WaitError> for ManifestError {
    fn from(e: WaitError) -> Self {
        ManifestError::Wait(Box::new(e))
    }
}

/// One parsed document.
#[derive(Clone, Debug)]
pub struct Document {
    /// Where it came from.
    pub origin: Origin,
    /// The object.
    pub object: DynamicObject,
}

/// Splits multi-document YAML and parses each document; empty documents (only comments or
/// whitespace, or `null`) are skipped. Line numbers are the file's.
///
/// # Errors
///
/// [`ManifestError::Parse`] with file, document, line and column; [`ManifestError::Invalid`] for
/// a document without `apiVersion`/`kind`.
pub fn parse_documents(file: &str, text: &str) -> Result<Vec<Document>, ManifestError> {
    let mut docs = Vec::new();
    let mut chunks: Vec<(usize, String)> = vec![(1, String::new())];
    for (i, line) in text.lines().enumerate() {
        let is_separator = line == "---" || line.starts_with("--- ") || line.starts_with("---\t");
        if is_separator {
            chunks.push((i + 2, String::new()));
            // Content after `--- ` on the same line belongs to the new document.
            let rest = line[3..].trim();
            if !rest.is_empty() && !rest.starts_with('#') {
                let last = chunks.last_mut().expect("just pushed");
                last.0 = i + 1;
                last.1.push_str(rest);
                last.1.push('\n');
            }
        } else {
            let last = chunks.last_mut().expect("never empty");
            last.1.push_str(line);
            last.1.push('\n');
        }
    }
    for (index, (start, chunk)) in chunks.into_iter().enumerate() {
        let document = index + 1;
        let meaningful = chunk.lines().any(|l| {
            let t = l.trim();
            !t.is_empty() && !t.starts_with('#') && t != "..."
        });
        if !meaningful {
            continue;
        }
        let value: serde_json::Value =
            serde_saphyr::from_str(&chunk).map_err(|e| parse_error(file, document, start, &e))?;
        if value.is_null() {
            continue;
        }
        let origin = Origin {
            file: file.to_string(),
            document,
            line: start,
        };
        let invalid = |message: &str| ManifestError::Invalid {
            origin: origin.clone(),
            message: message.to_string(),
        };
        if !value.is_object() {
            return Err(invalid("the document is not a mapping"));
        }
        for key in ["apiVersion", "kind"] {
            if !value.get(key).is_some_and(|v| v.is_string()) {
                return Err(invalid(&format!("the document has no `{key}`")));
            }
        }
        let object: DynamicObject = serde_json::from_value(value)
            .map_err(|e| invalid(&format!("not a Kubernetes object: {e}")))?;
        docs.push(Document { origin, object });
    }
    Ok(docs)
}

fn parse_error(
    file: &str,
    document: usize,
    start: usize,
    e: &serde_saphyr::Error,
) -> ManifestError {
    let (line, column) = e
        .location()
        .map(|l| (l.line() as usize, l.column() as usize))
        .unwrap_or((1, 1));
    let message = e
        .to_string()
        .lines()
        .next()
        .unwrap_or("invalid YAML")
        .to_string();
    ManifestError::Parse {
        file: file.to_string(),
        document,
        line: start + line.saturating_sub(1),
        column,
        message,
    }
}

type PatchFn = Arc<dyn Fn(&mut DynamicObject) -> anyhow::Result<()> + Send + Sync>;

/// A set of manifests to create for a spec; from [`Framework::manifests`].
#[must_use = "nothing is created until `.create().await`"]
pub struct Manifests<'f> {
    framework: &'f Framework,
    files: Vec<String>,
    patches: Vec<PatchFn>,
    namespace: Option<String>,
    apply: bool,
    rollout: bool,
}

impl Framework {
    /// Manifests from test files (see [`crate::manifest::testfiles`]), to patch and create.
    pub fn manifests<I, S>(&self, files: I) -> Manifests<'_>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Manifests {
            framework: self,
            files: files.into_iter().map(Into::into).collect(),
            patches: Vec::new(),
            namespace: None,
            apply: false,
            rollout: false,
        }
    }
}

impl Manifests<'_> {
    /// Adds a patch applied to every object after the standard patching.
    pub fn patch(
        mut self,
        f: impl Fn(&mut DynamicObject) -> anyhow::Result<()> + Send + Sync + 'static,
    ) -> Self {
        self.patches.push(Arc::new(f));
        self
    }

    /// Puts namespaced objects into `namespace` (e.g. a driver namespace) instead of the spec's.
    pub fn namespace(mut self, namespace: impl Into<String>) -> Self {
        self.namespace = Some(namespace.into());
        self
    }

    /// Uses server-side apply (field manager `kube-e2e`) instead of create.
    pub fn server_side_apply(mut self) -> Self {
        self.apply = true;
        self
    }

    /// After creating, waits until deployments, stateful sets and daemon sets are rolled out.
    pub fn wait_for_rollout(mut self) -> Self {
        self.rollout = true;
        self
    }

    /// Loads and patches without creating: what `create` would send.
    ///
    /// # Errors
    ///
    /// File, parse, unknown-kind and patch errors.
    pub async fn load(&self) -> Result<Vec<Resolved>, ManifestError> {
        let f = self.framework;
        let mut docs = Vec::new();
        for file in &self.files {
            let (text, _) = f.session().files().read_to_string(file)?;
            docs.extend(parse_documents(file, &text)?);
        }
        // Scopes come first (patching needs them); kinds defined by CRDs of the set resolve
        // after patching, which gives each CRD a group of its own.
        let kinds = discover(f.client(), &docs).await?;
        let ns = self
            .namespace
            .clone()
            .unwrap_or_else(|| f.namespace().to_string());
        let cx = PatchContext {
            namespace: &ns,
            unique: f.unique_name(),
            run_id: f.session().run_id(),
            images: f.session().images(),
        };
        let mut items: Vec<Patchable> = docs
            .iter()
            .zip(&kinds)
            .map(|(d, kind)| Patchable {
                object: d.object.clone(),
                namespaced: kind.namespaced,
            })
            .collect();
        patch_for_test(&mut items, &cx);
        for (d, item) in docs.iter_mut().zip(items) {
            d.object = item.object;
        }
        let mut resolved = resolve_kinds(docs, kinds)?;
        for item in &mut resolved {
            let d = &mut item.document;
            for p in &self.patches {
                p(&mut d.object).map_err(|e| ManifestError::Patch {
                    origin: d.origin.clone(),
                    message: format!("{e:#}"),
                })?;
            }
        }
        Ok(resolved)
    }

    /// Loads, patches and creates every object in order; registers a delete for each created
    /// object with the spec (run LIFO); waits for CRDs before their custom resources, and for
    /// rollouts when asked.
    ///
    /// # Errors
    ///
    /// Any [`ManifestError`]; objects created before the error are still cleaned up.
    pub async fn create(self) -> Result<Vec<Created>, ManifestError> {
        let f = self.framework;
        let cx = f.spec_context().ok_or(ManifestError::NoSpec)?;
        let items = self.load().await?;
        let mut target = Target::new(f.client().clone());
        if self.apply {
            target = target.server_side_apply("kube-e2e");
        }
        let mut created = Vec::new();
        for item in items {
            let object = target.write_object(&item).await?;
            let name = item
                .document
                .object
                .metadata
                .name
                .clone()
                .unwrap_or_default();
            {
                let (api, name, kind) = (
                    item.api(f.client()),
                    name.clone(),
                    item.resource.kind.clone(),
                );
                cx.defer_cleanup(move || async move {
                    match api.delete(&name, &DeleteParams::background()).await {
                        Ok(_) => Ok(()),
                        Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
                        Err(e) => {
                            Err(anyhow::Error::new(e).context(format!("deleting {kind} `{name}`")))
                        }
                    }
                });
            }
            if item.resource.kind == "CustomResourceDefinition" {
                f.wait_for_crd_established(&name).await?;
            }
            created.push(Created {
                object,
                resource: item.resource,
                namespaced: item.namespaced,
                origin: item.document.origin,
            });
        }
        if self.rollout {
            for c in &created {
                let name = c.object.metadata.name.as_deref().unwrap_or_default();
                let in_spec_ns = c.object.metadata.namespace.as_deref() == Some(f.namespace());
                match c.resource.kind.as_str() {
                    "Deployment" if in_spec_ns => f.wait_for_deployment_rollout(name).await?,
                    "StatefulSet" if in_spec_ns => f.wait_for_statefulset_rollout(name).await?,
                    "DaemonSet" if in_spec_ns => f.wait_for_daemonset_rollout(name).await?,
                    _ => {}
                }
            }
        }
        Ok(created)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_keep_file_lines_and_skip_empties() {
        let text = "# leading comment\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n---\n# only a comment\n---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: b\n";
        let docs = parse_documents("x.yaml", text).unwrap();
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[0].origin.document, 2);
        assert_eq!(docs[0].origin.line, 3);
        assert_eq!(docs[1].origin.document, 4);
        assert_eq!(docs[1].origin.line, 10);
        assert_eq!(docs[1].object.metadata.name.as_deref(), Some("b"));
    }

    #[test]
    fn syntax_errors_name_file_document_line_and_column() {
        let text = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: [b\n";
        let e = parse_documents("bad.yaml", text).unwrap_err();
        match &e {
            ManifestError::Parse {
                file,
                document,
                line,
                ..
            } => {
                assert_eq!(file, "bad.yaml");
                assert_eq!(*document, 2);
                assert!(*line >= 8, "line {line}");
            }
            other => panic!("unexpected {other:?}"),
        }
        assert!(
            e.to_string().starts_with("bad.yaml: document 2, line "),
            "{e}"
        );
    }

    #[test]
    fn documents_need_kind_and_api_version() {
        let e = parse_documents("k.yaml", "apiVersion: v1\nmetadata: {name: a}\n")
            .unwrap_err()
            .to_string();
        assert_eq!(e, "k.yaml: document 1 (line 1): the document has no `kind`");
        let e = parse_documents("k.yaml", "- a\n- b\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("not a mapping"), "{e}");
    }
}
