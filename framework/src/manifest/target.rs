//! Manifests without a spec: a [`Target`] — a client, an optional namespace and a
//! [`WriteMode`] — resolves parsed documents through discovery and writes them in order,
//! waiting for each CustomResourceDefinition to be Established before the objects after it.
//!
//! This is the pipeline's Framework-free core, for deployments that outlive any one spec (a
//! CSI driver shared by a whole run, its snapshot controller): nothing is patched for a spec
//! and no cleanup is registered. With [`WriteMode::ServerSideApply`] writing the same set again
//! is a no-op, so a shared deployment can be "ensured" by every process that needs it.
//! [`Framework::manifests`](crate::Framework::manifests) is a layer over the same resolution
//! and writing that adds test-file lookup, per-spec patching, cleanups and the spec's timeouts.
//!
//! ```no_run
//! # async fn run(client: kube::Client, yaml: &str) -> anyhow::Result<()> {
//! use kube_e2e::manifest::{Target, parse_documents};
//!
//! let written = Target::new(client)
//!     .namespace("kube-e2e-storage")
//!     .server_side_apply("kube-e2e-storage")
//!     .write(parse_documents("snapshot-controller.yaml", yaml)?)
//!     .await?;
//! println!("applied {} objects", written.len());
//! # Ok(()) }
//! ```

use crate::conditions::{crd_established, wait_for};
use crate::manifest::document::{Document, ManifestError};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::Client;
use kube::api::{Api, ApiResource, DynamicObject, Patch, PatchParams, PostParams};
use kube::core::GroupVersionKind;
use std::collections::HashMap;
use std::time::Duration;

/// How objects are written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WriteMode {
    /// `POST`: an object that already exists is an error.
    Create,
    /// Forced server-side apply under this field manager: writing again converges instead of
    /// failing.
    ServerSideApply {
        /// The field manager, e.g. `kube-e2e`.
        field_manager: String,
    },
}

/// A document whose kind discovery (or a CustomResourceDefinition of the same set) resolved.
#[derive(Clone, Debug)]
pub struct Resolved {
    /// The document.
    pub document: Document,
    /// Its resource.
    pub resource: ApiResource,
    /// Whether its kind is namespaced.
    pub namespaced: bool,
}

impl Resolved {
    /// The API that reaches the object: its namespace's (the client's default when the object
    /// names none) for a namespaced kind, the cluster's otherwise.
    pub fn api(&self, client: &Client) -> Api<DynamicObject> {
        match (&self.document.object.metadata.namespace, self.namespaced) {
            (_, false) => Api::all_with(client.clone(), &self.resource),
            (Some(ns), true) => Api::namespaced_with(client.clone(), ns, &self.resource),
            (None, true) => Api::default_namespaced_with(client.clone(), &self.resource),
        }
    }

    fn name(&self) -> String {
        self.document
            .object
            .metadata
            .name
            .clone()
            .unwrap_or_default()
    }
}

/// A written object: where it came from and how to reach it.
#[derive(Clone, Debug)]
pub struct Created {
    /// The object as the server returned it.
    pub object: DynamicObject,
    /// Its resource.
    pub resource: ApiResource,
    /// Whether it is namespaced.
    pub namespaced: bool,
    /// Its document.
    pub origin: crate::manifest::document::Origin,
}

/// Where and how manifests are written without a spec; see the [module docs](self).
#[derive(Clone)]
#[must_use = "nothing is written until `.write(..).await`"]
pub struct Target {
    client: Client,
    namespace: Option<String>,
    mode: WriteMode,
    crd_timeout: Duration,
}

impl Target {
    /// Creates objects through `client`, namespaced ones in the namespace they name (the
    /// client's default when none); waits up to a minute for each CRD.
    pub fn new(client: Client) -> Self {
        Target {
            client,
            namespace: None,
            mode: WriteMode::Create,
            crd_timeout: Duration::from_secs(60),
        }
    }

    /// Puts every namespaced object into `namespace`, whatever its document says.
    pub fn namespace(mut self, namespace: impl Into<String>) -> Self {
        self.namespace = Some(namespace.into());
        self
    }

    /// Writes with forced server-side apply under `field_manager` instead of create.
    pub fn server_side_apply(self, field_manager: impl Into<String>) -> Self {
        self.mode(WriteMode::ServerSideApply {
            field_manager: field_manager.into(),
        })
    }

    /// Writes with `mode`.
    pub fn mode(mut self, mode: WriteMode) -> Self {
        self.mode = mode;
        self
    }

    /// How long [`Target::write`] waits for a CRD to be Established.
    pub fn crd_timeout(mut self, timeout: Duration) -> Self {
        self.crd_timeout = timeout;
        self
    }

    /// The client.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Resolves every document's kind (see [`discover`]) and moves namespaced objects into the
    /// target's namespace, if it has one; writes nothing.
    ///
    /// # Errors
    ///
    /// [`ManifestError::UnknownKind`], or [`ManifestError::Invalid`] for a malformed CRD.
    pub async fn resolve(&self, mut docs: Vec<Document>) -> Result<Vec<Resolved>, ManifestError> {
        let kinds = discover(&self.client, &docs).await?;
        if let Some(ns) = &self.namespace {
            for (d, kind) in docs.iter_mut().zip(&kinds) {
                if kind.namespaced {
                    d.object.metadata.namespace = Some(ns.clone());
                }
            }
        }
        resolve_kinds(docs, kinds)
    }

    /// Writes one resolved object with the target's mode; no waiting.
    ///
    /// # Errors
    ///
    /// [`ManifestError::Create`] or [`ManifestError::Apply`] with the API error.
    pub async fn write_object(&self, item: &Resolved) -> Result<DynamicObject, ManifestError> {
        let api = item.api(&self.client);
        let name = item.name();
        let object = &item.document.object;
        let result = match &self.mode {
            WriteMode::Create => api.create(&PostParams::default(), object).await,
            WriteMode::ServerSideApply { field_manager } => {
                let pp = PatchParams::apply(field_manager).force();
                api.patch(&name, &pp, &Patch::Apply(object)).await
            }
        };
        result.map_err(|source| {
            let (origin, kind, source) = (
                item.document.origin.clone(),
                item.resource.kind.clone(),
                Box::new(source),
            );
            match self.mode {
                WriteMode::Create => ManifestError::Create {
                    origin,
                    kind,
                    name,
                    source,
                },
                WriteMode::ServerSideApply { .. } => ManifestError::Apply {
                    origin,
                    kind,
                    name,
                    source,
                },
            }
        })
    }

    /// Resolves and writes `docs` in order; a CRD is Established before the next document is
    /// written.
    ///
    /// # Errors
    ///
    /// Any error of [`Target::resolve`] and [`Target::write_object`];
    /// [`ManifestError::Wait`] when a CRD is not Established in time. Objects written before
    /// the error stay.
    pub async fn write(&self, docs: Vec<Document>) -> Result<Vec<Created>, ManifestError> {
        let mut written = Vec::new();
        for item in self.resolve(docs).await? {
            let object = self.write_object(&item).await?;
            if item.resource.kind == "CustomResourceDefinition" {
                let name = item.name();
                let crds: Api<CustomResourceDefinition> = Api::all(self.client.clone());
                let desc = format!("CustomResourceDefinition `{name}` to be Established");
                wait_for(&crds, &name, &desc, self.crd_timeout, None, crd_established).await?;
            }
            written.push(Created {
                object,
                resource: item.resource,
                namespaced: item.namespaced,
                origin: item.document.origin,
            });
        }
        Ok(written)
    }
}

/// What discovery says about a document's kind.
#[derive(Clone, Debug)]
pub(crate) struct Kind {
    /// `None` for a kind defined by a CRD of the same set: resolved from the CRD by
    /// [`resolve_kinds`], after any patching has given the CRD its final group.
    resource: Option<ApiResource>,
    /// Whether the kind is namespaced.
    pub(crate) namespaced: bool,
}

/// `(apiVersion, kind)` → (resource, namespaced).
type KindMap = HashMap<(String, String), (ApiResource, bool)>;

/// Looks up every document's kind: kinds defined by a CRD among `docs` take the CRD's scope
/// (discovery cannot know them before it exists); the others go through discovery, once per
/// kind.
///
/// # Errors
///
/// [`ManifestError::UnknownKind`] naming the first document of a kind discovery does not
/// know; [`ManifestError::Invalid`] for a malformed CRD.
pub(crate) async fn discover(
    client: &Client,
    docs: &[Document],
) -> Result<Vec<Kind>, ManifestError> {
    let defined = crd_kinds(docs)?;
    let mut cache: HashMap<GroupVersionKind, Kind> = HashMap::new();
    let mut kinds = Vec::new();
    for d in docs {
        let types = d.object.types.clone().unwrap_or_default();
        let key = (types.api_version.clone(), types.kind.clone());
        if let Some((_, namespaced)) = defined.get(&key) {
            kinds.push(Kind {
                resource: None,
                namespaced: *namespaced,
            });
            continue;
        }
        let gvk = gvk_of(&d.object);
        if let Some(hit) = cache.get(&gvk) {
            kinds.push(hit.clone());
            continue;
        }
        let Ok((ar, caps)) = kube::discovery::oneshot::pinned_kind(client, &gvk).await else {
            return Err(ManifestError::UnknownKind {
                origin: d.origin.clone(),
                kind: types.kind,
                api_version: types.api_version,
            });
        };
        let kind = Kind {
            resource: Some(ar),
            namespaced: caps.scope == kube::discovery::Scope::Namespaced,
        };
        cache.insert(gvk, kind.clone());
        kinds.push(kind);
    }
    Ok(kinds)
}

/// Pairs each document with its kind (from [`discover`], in document order); kinds defined by
/// a CRD of the set resolve from that CRD as it is now.
///
/// # Errors
///
/// [`ManifestError::Invalid`] when the CRD that defined a kind is gone (renamed by a patch).
pub(crate) fn resolve_kinds(
    docs: Vec<Document>,
    kinds: Vec<Kind>,
) -> Result<Vec<Resolved>, ManifestError> {
    let defined = crd_kinds(&docs)?;
    docs.into_iter()
        .zip(kinds)
        .map(|(document, kind)| {
            let resource = match kind.resource {
                Some(ar) => ar,
                None => {
                    let types = document.object.types.clone().unwrap_or_default();
                    defined
                        .get(&(types.api_version, types.kind))
                        .map(|(ar, _)| ar.clone())
                        .ok_or_else(|| ManifestError::Invalid {
                            origin: document.origin.clone(),
                            message: "the kind's CustomResourceDefinition was lost in patching"
                                .into(),
                        })?
                }
            };
            Ok(Resolved {
                document,
                resource,
                namespaced: kind.namespaced,
            })
        })
        .collect()
}

/// The kinds of every version of every CRD in `docs`.
fn crd_kinds(docs: &[Document]) -> Result<KindMap, ManifestError> {
    let mut out = HashMap::new();
    for d in docs {
        if gvk_of(&d.object).kind != "CustomResourceDefinition" {
            continue;
        }
        let crd: CustomResourceDefinition = serde_json::from_value(
            serde_json::to_value(&d.object).unwrap_or_default(),
        )
        .map_err(|e| ManifestError::Invalid {
            origin: d.origin.clone(),
            message: format!("invalid CustomResourceDefinition: {e}"),
        })?;
        for v in &crd.spec.versions {
            let gvk = GroupVersionKind::gvk(&crd.spec.group, &v.name, &crd.spec.names.kind);
            let ar = ApiResource::from_gvk_with_plural(&gvk, &crd.spec.names.plural);
            let key = (
                format!("{}/{}", crd.spec.group, v.name),
                crd.spec.names.kind.clone(),
            );
            out.insert(key, (ar, crd.spec.scope == "Namespaced"));
        }
    }
    Ok(out)
}

fn gvk_of(obj: &DynamicObject) -> GroupVersionKind {
    let types = obj.types.clone().unwrap_or_default();
    let (group, version) = match types.api_version.split_once('/') {
        Some((g, v)) => (g.to_string(), v.to_string()),
        None => (String::new(), types.api_version.clone()),
    };
    GroupVersionKind::gvk(&group, &version, &types.kind)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::document::parse_documents;

    const SET: &str = "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: widgets.example.com\nspec:\n  group: example.com\n  scope: Namespaced\n  names: {plural: widgets, kind: Widget}\n  versions: [{name: v1, served: true, storage: true}]\n---\napiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w\n";

    /// What discovery says about the set: the CRD kind is served, `Widget` is defined by it.
    fn kinds() -> Vec<Kind> {
        let crd = GroupVersionKind::gvk("apiextensions.k8s.io", "v1", "CustomResourceDefinition");
        vec![
            Kind {
                resource: Some(ApiResource::from_gvk_with_plural(
                    &crd,
                    "customresourcedefinitions",
                )),
                namespaced: false,
            },
            Kind {
                resource: None,
                namespaced: true,
            },
        ]
    }

    #[test]
    fn kinds_defined_in_the_set_resolve_from_their_crd() {
        let docs = parse_documents("set.yaml", SET).unwrap();
        let kinds = kinds();
        let resolved = resolve_kinds(docs, kinds).unwrap();
        assert_eq!(resolved[1].resource.plural, "widgets");
        assert_eq!(resolved[1].resource.group, "example.com");
        assert!(resolved[1].namespaced);
    }

    #[test]
    fn a_kind_whose_crd_was_renamed_is_an_error_naming_the_document() {
        let mut docs = parse_documents("set.yaml", SET).unwrap();
        docs[0].object.data["spec"]["group"] = "other.example.com".into();
        let e = resolve_kinds(docs, kinds()).unwrap_err().to_string();
        assert!(
            e.starts_with("set.yaml: document 2 (line 11): the kind's CustomResourceDefinition"),
            "{e}"
        );
    }
}
