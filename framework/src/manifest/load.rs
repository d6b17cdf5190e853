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

use crate::framework::Framework;
pub use crate::manifest::document::{Document, ManifestError, Origin, parse_documents};
use crate::manifest::patch::{PatchContext, Patchable, patch_for_test};
use crate::manifest::target::{Created, Resolved, Target, discover, resolve_kinds};
use kube::api::{DeleteParams, DynamicObject};
use std::sync::Arc;

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
                    let params = DeleteParams::background();
                    match crate::retry::retry_transient(|| api.delete(&name, &params)).await {
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
