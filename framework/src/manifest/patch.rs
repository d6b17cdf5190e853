//! Patching manifests for one spec before they are created: namespaced objects move into the
//! test namespace, cluster-scoped names get the namespace as suffix (and references to them —
//! RBAC `roleRef`, storage class names — follow), RBAC subjects move with their service accounts,
//! images go through the mapping, and run labels are added so `cleanup` can find leftovers.
//! [`CsiPatch`] renames a CSI driver everywhere it appears, like upstream's `PatchCSIDeployment`.

use crate::images::ImageMap;
use crate::namespace::{MANAGED_BY, MANAGED_BY_LABEL, RUN_LABEL};
use kube::api::DynamicObject;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};

/// What a patch needs to know about the spec.
#[derive(Clone, Debug)]
pub struct PatchContext<'a> {
    /// Namespace for namespaced objects.
    pub namespace: &'a str,
    /// Suffix for cluster-scoped names (the test namespace's name).
    pub unique: &'a str,
    /// Run id, added as label.
    pub run_id: &'a str,
    /// Image mapping.
    pub images: &'a ImageMap,
}

/// An object to patch, with what discovery says about its kind.
#[derive(Clone, Debug)]
pub struct Patchable {
    /// The object.
    pub object: DynamicObject,
    /// Whether its kind is namespaced.
    pub namespaced: bool,
}

fn kind(o: &DynamicObject) -> &str {
    o.types.as_ref().map(|t| t.kind.as_str()).unwrap_or("")
}

/// Kinds whose name is fixed by the API (a CRD is `<plural>.<group>`) or that must keep it.
fn keeps_name(kind: &str) -> bool {
    matches!(
        kind,
        "CustomResourceDefinition" | "Namespace" | "APIService"
    )
}

/// Patches `items` in place for one spec; returns the renames as `(kind, old) → new`.
///
/// A CRD gets a group of its own, `<unique>.<group>` (so its name becomes
/// `<plural>.<unique>.<group>`): parallel specs can install the same CRD without sharing — and
/// deleting — one definition. Custom resources and RBAC rules of that group follow.
pub fn patch_for_test(
    items: &mut [Patchable],
    cx: &PatchContext<'_>,
) -> HashMap<(String, String), String> {
    let mut renames = HashMap::new();
    let mut groups: HashMap<String, String> = HashMap::new();
    for item in items.iter_mut() {
        if kind(&item.object) != "CustomResourceDefinition" {
            continue;
        }
        let spec = &mut item.object.data["spec"];
        let group = spec["group"].as_str().unwrap_or_default().to_string();
        let plural = spec["names"]["plural"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        if group.is_empty() || plural.is_empty() {
            continue;
        }
        let new_group = groups
            .entry(group.clone())
            .or_insert_with(|| format!("{}.{group}", cx.unique))
            .clone();
        spec["group"] = Value::String(new_group.clone());
        item.object.metadata.name = Some(format!("{plural}.{new_group}"));
    }
    for item in items.iter_mut() {
        if let Some(types) = item.object.types.as_mut()
            && let Some((g, v)) = types.api_version.split_once('/')
            && let Some(new) = groups.get(g)
        {
            types.api_version = format!("{new}/{v}");
        }
        if matches!(kind(&item.object), "Role" | "ClusterRole")
            && let Some(Value::Array(rules)) = item.object.data.get_mut("rules")
        {
            for rule in rules {
                if let Some(Value::Array(api_groups)) = rule.get_mut("apiGroups") {
                    for g in api_groups {
                        if let Some(new) = g.as_str().and_then(|s| groups.get(s)) {
                            *g = Value::String(new.clone());
                        }
                    }
                }
            }
        }
    }
    for item in items.iter_mut() {
        let k = kind(&item.object).to_string();
        let labels = item
            .object
            .metadata
            .labels
            .get_or_insert_with(BTreeMap::new);
        labels.insert(RUN_LABEL.into(), cx.run_id.into());
        labels.insert(MANAGED_BY_LABEL.into(), MANAGED_BY.into());
        let name = item.object.metadata.name.clone().unwrap_or_default();
        if item.namespaced {
            item.object.metadata.namespace = Some(cx.namespace.to_string());
            // A RoleRef cannot tell Role from ClusterRole by name alone, so Roles are renamed
            // like ClusterRoles (as upstream does) to keep references consistent.
            if k == "Role" {
                let new = format!("{name}-{}", cx.unique);
                renames.insert((k.clone(), name), new.clone());
                item.object.metadata.name = Some(new);
            }
        } else if !keeps_name(&k) && !name.is_empty() {
            let new = format!("{name}-{}", cx.unique);
            renames.insert((k.clone(), name), new.clone());
            item.object.metadata.name = Some(new);
        }
    }
    for item in items.iter_mut() {
        let k = kind(&item.object).to_string();
        let data = &mut item.object.data;
        match k.as_str() {
            "RoleBinding" | "ClusterRoleBinding" => patch_binding(data, &renames, cx.namespace),
            "PersistentVolumeClaim" => {
                rename_field(
                    data,
                    &["spec", "storageClassName"],
                    "StorageClass",
                    &renames,
                );
                rename_field(
                    data,
                    &["spec", "volumeAttributesClassName"],
                    "VolumeAttributesClass",
                    &renames,
                );
            }
            "StatefulSet" => {
                if let Some(Value::Array(templates)) = data
                    .get_mut("spec")
                    .and_then(|s| s.get_mut("volumeClaimTemplates"))
                {
                    for t in templates {
                        rename_field(t, &["spec", "storageClassName"], "StorageClass", &renames);
                    }
                }
            }
            _ => {}
        }
        map_images(data, cx.images);
    }
    renames
}

fn rename_field(
    data: &mut Value,
    path: &[&str],
    kind: &str,
    renames: &HashMap<(String, String), String>,
) {
    let mut v = data;
    for p in path {
        match v.get_mut(*p) {
            Some(next) => v = next,
            None => return,
        }
    }
    if let Some(old) = v.as_str()
        && let Some(new) = renames.get(&(kind.to_string(), old.to_string()))
    {
        *v = Value::String(new.clone());
    }
}

fn patch_binding(data: &mut Value, renames: &HashMap<(String, String), String>, ns: &str) {
    if let Some(role_ref) = data.get_mut("roleRef") {
        let kind = role_ref
            .get("kind")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        rename_field(role_ref, &["name"], &kind, renames);
    }
    if let Some(Value::Array(subjects)) = data.get_mut("subjects") {
        for s in subjects {
            if s.get("kind").and_then(Value::as_str) == Some("ServiceAccount")
                && let Some(obj) = s.as_object_mut()
            {
                obj.insert("namespace".into(), Value::String(ns.to_string()));
            }
        }
    }
}

/// Applies `f` to every container (and init/ephemeral container) object in any pod spec inside
/// `data`: pods, workload templates, job templates of cron jobs.
pub fn for_each_container(
    data: &mut Value,
    f: &mut dyn FnMut(&mut serde_json::Map<String, Value>),
) {
    match data {
        Value::Object(map) => {
            for (key, value) in map.iter_mut() {
                if matches!(
                    key.as_str(),
                    "containers" | "initContainers" | "ephemeralContainers"
                ) && let Value::Array(list) = value
                {
                    for c in list.iter_mut() {
                        if let Value::Object(c) = c {
                            f(c);
                        }
                    }
                } else {
                    for_each_container(value, f);
                }
            }
        }
        Value::Array(list) => list.iter_mut().for_each(|v| for_each_container(v, f)),
        _ => {}
    }
}

fn map_images(data: &mut Value, images: &ImageMap) {
    for_each_container(data, &mut |c| {
        if let Some(Value::String(image)) = c.get_mut("image") {
            *image = images.map(image);
        }
    });
}

/// Renaming and pinning of a CSI driver deployment, as upstream's `PatchCSIDeployment`.
#[derive(Clone, Debug, Default)]
pub struct CsiPatch {
    /// The driver name in the manifests.
    pub old_name: String,
    /// The unique name for this spec.
    pub new_name: String,
    /// Pin every pod template to this node.
    pub node_name: Option<String>,
    /// The driver's container; gets `driver_args` appended.
    pub driver_container: Option<String>,
    /// Extra arguments for the driver container (e.g. `--drivername=<new>`).
    pub driver_args: Vec<String>,
    /// Feature gates per container name, appended as `--feature-gates=a=true,...`.
    pub features: BTreeMap<String, Vec<String>>,
}

impl CsiPatch {
    /// Applies the patch to one object. Renaming and pinning are idempotent: applying the patch
    /// again changes nothing more, except that `driver_args` and `features` are appended again.
    pub fn apply(&self, obj: &mut DynamicObject) {
        if self.old_name.is_empty() {
            return;
        }
        let renames_driver = obj
            .metadata
            .name
            .as_deref()
            .is_some_and(|n| n.starts_with(&self.old_name));
        let provisions =
            obj.data.get("provisioner").and_then(Value::as_str) == Some(&self.old_name);
        match kind(obj) {
            "CSIDriver" if renames_driver => obj.metadata.name = Some(self.new_name.clone()),
            "StorageClass" if provisions => {
                obj.data["provisioner"] = Value::String(self.new_name.clone());
            }
            _ => {}
        }
        let (old_seg, new_seg) = (
            format!("/{}/", self.old_name),
            format!("/{}/", self.new_name),
        );
        rename_host_paths(&mut obj.data, &self.old_name, &self.new_name);
        for_each_container(&mut obj.data, &mut |c| {
            let name = c
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            let args = c.entry("args").or_insert_with(|| Value::Array(Vec::new()));
            if let Value::Array(args) = args {
                for a in args.iter_mut() {
                    if let Value::String(s) = a {
                        *s = s.replace(&old_seg, &new_seg);
                    }
                }
                if self.driver_container.as_deref() == Some(name.as_str()) {
                    args.extend(self.driver_args.iter().cloned().map(Value::String));
                }
                if let Some(gates) = self.features.get(&name).filter(|g| !g.is_empty()) {
                    args.push(Value::String(format!(
                        "--feature-gates={}",
                        gates.join(",")
                    )));
                }
                if args.is_empty() {
                    c.remove("args");
                }
            }
        });
        if let Some(node) = &self.node_name {
            pin_to_node(&mut obj.data, node);
        }
    }
}

fn rename_host_paths(data: &mut Value, old: &str, new: &str) {
    match data {
        Value::Object(map) => {
            if let Some(Value::Object(hp)) = map.get_mut("hostPath")
                && let Some(Value::String(path)) = hp.get_mut("path")
            {
                let trimmed = path.trim_end_matches('/');
                if let Some(parent) = trimmed.strip_suffix(old)
                    && parent.ends_with('/')
                {
                    *path = format!("{parent}{new}");
                }
            }
            map.values_mut()
                .for_each(|v| rename_host_paths(v, old, new));
        }
        Value::Array(list) => list.iter_mut().for_each(|v| rename_host_paths(v, old, new)),
        _ => {}
    }
}

fn pin_to_node(data: &mut Value, node: &str) {
    let spec = if data.get("spec").and_then(|s| s.get("containers")).is_some() {
        data.get_mut("spec")
    } else {
        data.get_mut("spec")
            .and_then(|s| s.get_mut("template"))
            .and_then(|t| t.get_mut("spec"))
    };
    if let Some(Value::Object(spec)) = spec {
        spec.insert("nodeName".into(), Value::String(node.to_string()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj(v: serde_json::Value) -> DynamicObject {
        serde_json::from_value(v).unwrap()
    }

    fn item(v: serde_json::Value, namespaced: bool) -> Patchable {
        Patchable {
            object: obj(v),
            namespaced,
        }
    }

    #[test]
    fn test_patching_moves_renames_and_relinks() {
        let images =
            ImageMap::parse("registries:\n  registry.k8s.io/e2e-test-images: mirror/e2e\n")
                .unwrap();
        let cx = PatchContext {
            namespace: "qs-12",
            unique: "qs-12",
            run_id: "r1",
            images: &images,
        };
        let mut items = vec![
            item(
                serde_json::json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "reader"}}),
                false,
            ),
            item(
                serde_json::json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": {"name": "reader"},
                "roleRef": {"kind": "ClusterRole", "name": "reader", "apiGroup": "rbac.authorization.k8s.io"},
                "subjects": [{"kind": "ServiceAccount", "name": "app", "namespace": "default"}]}),
                false,
            ),
            item(
                serde_json::json!({"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": {"name": "fast"}, "provisioner": "x"}),
                false,
            ),
            item(
                serde_json::json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "data", "namespace": "other"},
                "spec": {"storageClassName": "fast"}}),
                true,
            ),
            item(
                serde_json::json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
                "spec": {"template": {"spec": {"containers": [{"name": "c", "image": "registry.k8s.io/e2e-test-images/busybox:1.37.0-1"}]}}}}),
                true,
            ),
            item(
                serde_json::json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition", "metadata": {"name": "widgets.example.com"},
                "spec": {"group": "example.com", "names": {"plural": "widgets", "kind": "Widget"}}}),
                false,
            ),
            item(
                serde_json::json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}),
                true,
            ),
        ];
        let renames = patch_for_test(&mut items, &cx);
        let o = |i: usize| &items[i].object;
        assert_eq!(o(0).metadata.name.as_deref(), Some("reader-qs-12"));
        assert_eq!(o(1).data["roleRef"]["name"], "reader-qs-12");
        assert_eq!(o(1).data["subjects"][0]["namespace"], "qs-12");
        assert_eq!(o(2).metadata.name.as_deref(), Some("fast-qs-12"));
        assert_eq!(o(3).metadata.namespace.as_deref(), Some("qs-12"));
        assert_eq!(o(3).data["spec"]["storageClassName"], "fast-qs-12");
        assert_eq!(
            o(4).data["spec"]["template"]["spec"]["containers"][0]["image"],
            "mirror/e2e/busybox:1.37.0-1"
        );
        assert_eq!(
            o(5).metadata.name.as_deref(),
            Some("widgets.qs-12.example.com")
        );
        assert_eq!(o(5).data["spec"]["group"], "qs-12.example.com");
        assert_eq!(
            o(6).types.as_ref().unwrap().api_version,
            "qs-12.example.com/v1"
        );
        assert_eq!(o(2).metadata.labels.as_ref().unwrap()[RUN_LABEL], "r1");
        assert_eq!(renames.len(), 3);
    }

    #[test]
    fn csi_patch_renames_the_driver_everywhere() {
        let p = CsiPatch {
            old_name: "hostpath.csi.k8s.io".into(),
            new_name: "hostpath.csi.k8s.io-e2e-1".into(),
            node_name: Some("node-1".into()),
            driver_container: Some("hostpath".into()),
            driver_args: vec!["--drivername=hostpath.csi.k8s.io-e2e-1".into()],
            features: [(
                "csi-provisioner".to_string(),
                vec!["Topology=true".to_string()],
            )]
            .into(),
        };
        let mut ss = obj(
            serde_json::json!({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "csi"},
            "spec": {"template": {"spec": {
                "containers": [
                    {"name": "hostpath", "image": "x", "args": ["--endpoint=/var/lib/kubelet/plugins/hostpath.csi.k8s.io/csi.sock"]},
                    {"name": "csi-provisioner", "image": "y"}],
                "volumes": [{"name": "dir", "hostPath": {"path": "/var/lib/kubelet/plugins/hostpath.csi.k8s.io"}}]}}}}),
        );
        p.apply(&mut ss);
        let spec = &ss.data["spec"]["template"]["spec"];
        assert_eq!(spec["nodeName"], "node-1");
        assert_eq!(
            spec["containers"][0]["args"][0],
            "--endpoint=/var/lib/kubelet/plugins/hostpath.csi.k8s.io-e2e-1/csi.sock"
        );
        assert_eq!(
            spec["containers"][0]["args"][1],
            "--drivername=hostpath.csi.k8s.io-e2e-1"
        );
        assert_eq!(
            spec["containers"][1]["args"][0],
            "--feature-gates=Topology=true"
        );
        assert_eq!(
            spec["volumes"][0]["hostPath"]["path"],
            "/var/lib/kubelet/plugins/hostpath.csi.k8s.io-e2e-1"
        );
        let mut sc = obj(
            serde_json::json!({"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": {"name": "sc"}, "provisioner": "hostpath.csi.k8s.io"}),
        );
        p.apply(&mut sc);
        assert_eq!(sc.data["provisioner"], "hostpath.csi.k8s.io-e2e-1");
        let mut driver = obj(
            serde_json::json!({"apiVersion": "storage.k8s.io/v1", "kind": "CSIDriver", "metadata": {"name": "hostpath.csi.k8s.io"}}),
        );
        p.apply(&mut driver);
        assert_eq!(
            driver.metadata.name.as_deref(),
            Some("hostpath.csi.k8s.io-e2e-1")
        );
    }
}
