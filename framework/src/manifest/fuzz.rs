//! Property tests of the manifest pipeline: any text is parsed or refused at a line of the file,
//! generated multi-document manifests come back object for object, patching for a spec keeps
//! its promises on any object, and a [`CsiPatch`] that appends nothing is idempotent.
//!
//! Each property runs for arbtest's budget: 100 ms by default, `ARBTEST_BUDGET_MS` to search
//! longer, `ARBTEST_SEED` to replay a failure (see `docs/fuzzing.md`).

use crate::images::ImageMap;
use crate::manifest::document::{ManifestError, parse_documents};
use crate::manifest::patch::{CsiPatch, PatchContext, Patchable, patch_for_test};
use crate::namespace::RUN_LABEL;
use arbitrary::{Result, Unstructured};
use arbtest::arbtest;
use kube::api::DynamicObject;
use serde_json::{Value, json};

fn line_count(text: &str) -> usize {
    text.replace("\r\n", "\n")
        .replace('\r', "\n")
        .lines()
        .count()
        .max(1)
}

const TOKENS: &[&str] = &[
    "---\n",
    "--- ",
    "---\t",
    "...\n",
    "apiVersion: v1\n",
    "kind: ConfigMap\n",
    "kind: ",
    "metadata:\n",
    "  name: a\n",
    "  namespace: b\n",
    "data:\n",
    "  k: v\n",
    "- ",
    "[",
    "]",
    "{",
    "}",
    ":",
    "\n",
    "#",
    "~",
    "'",
    "\"",
    "&a ",
    "*a",
    "? ",
    "|\n  ",
    "\t",
    "null\n",
];

#[test]
fn any_text_is_parsed_or_refused_at_a_line_of_the_file() {
    arbtest(|u| {
        let text = if u.arbitrary()? {
            u.arbitrary::<String>()?
        } else {
            let mut s = String::new();
            for _ in 0..u.int_in_range(0..=60)? {
                s.push_str(u.choose(TOKENS)?);
            }
            s
        };
        let lines = line_count(&text) + 1;
        match parse_documents("m.yaml", &text) {
            Ok(docs) => {
                for d in docs {
                    assert!((1..=lines).contains(&d.origin.line), "{:?}", d.origin);
                }
            }
            Err(ManifestError::Parse { line, document, .. }) => {
                assert!(
                    (1..=lines).contains(&line),
                    "line {line} of {lines}: {text:?}"
                );
                assert!(document >= 1);
            }
            Err(ManifestError::Invalid { origin, .. }) => {
                assert!((1..=lines).contains(&origin.line), "{origin}: {text:?}");
            }
            Err(other) => panic!("unexpected {other:?}"),
        }
        Ok(())
    });
}

/// A name from a small pool, so that references between objects meet.
fn name(u: &mut Unstructured<'_>) -> Result<String> {
    Ok(u.choose(&["a", "b", "fast", "web"])?.to_string())
}

/// Values that do not have the shape the patcher looks for.
fn odd(u: &mut Unstructured<'_>) -> Result<Value> {
    Ok(u.choose(&[
        json!(null),
        json!("x"),
        json!(7),
        json!([1, "x", null]),
        json!({}),
        json!({"name": 3}),
    ])?
    .clone())
}

fn container(u: &mut Unstructured<'_>) -> Result<Value> {
    let image = u.choose(&[
        "registry.k8s.io/e2e-test-images/busybox:1.37.0-1",
        "registry.k8s.io/pause:3.10.1",
        "docker.io/library/nginx",
        "",
    ])?;
    Ok(
        json!({"name": name(u)?, "image": image, "args": ["--endpoint=/var/lib/kubelet/plugins/hostpath.csi.k8s.io/csi.sock"]}),
    )
}

/// One object of a kind the patcher treats specially, sometimes with odd fields.
fn object(u: &mut Unstructured<'_>) -> Result<(Value, bool)> {
    let n = name(u)?;
    let (mut v, namespaced) = match u.int_in_range(0..=10)? {
        0 => (
            json!({"apiVersion": "v1", "kind": "ConfigMap", "data": {"k": "v"}}),
            true,
        ),
        1 => (
            json!({"apiVersion": "apps/v1", "kind": "Deployment", "spec": {"template": {"spec": {"containers": [container(u)?], "initContainers": [container(u)?]}}}}),
            true,
        ),
        2 => (
            json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "rules": [{"apiGroups": ["example.com", ""]}]}),
            true,
        ),
        3 => (
            json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "rules": [{"apiGroups": ["example.com"]}]}),
            false,
        ),
        4 => {
            let kind = *u.choose(&["RoleBinding", "ClusterRoleBinding"])?;
            let role = *u.choose(&["Role", "ClusterRole"])?;
            (
                json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": kind,
                    "roleRef": {"kind": role, "name": name(u)?},
                    "subjects": [{"kind": "ServiceAccount", "name": "sa"}, {"kind": "User", "name": "u"}]}),
                kind == "RoleBinding",
            )
        }
        5 => (
            json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
                "spec": {"group": "example.com", "names": {"plural": "widgets", "kind": "Widget"}}}),
            false,
        ),
        6 => (
            json!({"apiVersion": "example.com/v1", "kind": "Widget"}),
            true,
        ),
        7 => (
            json!({"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "provisioner": "hostpath.csi.k8s.io"}),
            false,
        ),
        8 => (
            json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "spec": {"storageClassName": name(u)?}}),
            true,
        ),
        9 => (
            json!({"apiVersion": "apps/v1", "kind": "StatefulSet", "spec": {"volumeClaimTemplates": [{"spec": {"storageClassName": name(u)?}}],
                "template": {"spec": {"containers": [container(u)?],
                "volumes": [{"name": "d", "hostPath": {"path": "/var/lib/kubelet/plugins/hostpath.csi.k8s.io/"}}]}}}}),
            true,
        ),
        _ => (json!({"apiVersion": "v1", "kind": "Namespace"}), false),
    };
    v["metadata"] = json!({"name": n});
    // Odd shapes where the patcher looks: it must leave them be, not panic.
    for field in ["spec", "rules", "roleRef", "subjects", "data"] {
        if u.ratio(1, 12)? {
            v[field] = odd(u)?;
        }
    }
    Ok((v, namespaced))
}

fn objects(u: &mut Unstructured<'_>) -> Result<Vec<(Value, bool)>> {
    (0..u.int_in_range(0..=8)?).map(|_| object(u)).collect()
}

#[test]
fn generated_manifests_come_back_object_for_object() {
    arbtest(|u| {
        let objs = objects(u)?;
        let mut text = String::new();
        let mut starts = Vec::new();
        for (i, (v, _)) in objs.iter().enumerate() {
            if i > 0 || u.arbitrary()? {
                text.push_str(u.choose(&[
                    "---\n",
                    "--- # next\n",
                    "---\n# only a comment\n---\n",
                ])?);
            }
            starts.push(line_count(&text) + usize::from(!text.is_empty()));
            text.push_str(&serde_json::to_string_pretty(v).expect("json"));
            text.push('\n');
        }
        let docs = parse_documents("m.yaml", &text)
            .unwrap_or_else(|e| panic!("generated manifests refused: {e}\n{text}"));
        assert_eq!(docs.len(), objs.len(), "{text}");
        for (d, (v, _)) in docs.iter().zip(&objs) {
            let back = serde_json::to_value(&d.object).expect("json");
            assert_eq!(back["kind"], v["kind"]);
            assert_eq!(back["metadata"]["name"], v["metadata"]["name"]);
            let first = text.lines().nth(d.origin.line - 1).unwrap_or_default();
            assert!(
                first.starts_with('{'),
                "{} is not where it starts:\n{text}",
                d.origin
            );
        }
        Ok(())
    });
}

fn kind(o: &DynamicObject) -> &str {
    o.types
        .as_ref()
        .map(|t| t.kind.as_str())
        .unwrap_or_default()
}

#[test]
fn patching_keeps_its_promises_on_any_object() {
    arbtest(|u| {
        let objs = objects(u)?;
        let mut items: Vec<Patchable> = objs
            .iter()
            .map(|(v, namespaced)| Patchable {
                object: serde_json::from_value(v.clone()).expect("an object"),
                namespaced: *namespaced,
            })
            .collect();
        let images = ImageMap::default();
        let cx = PatchContext {
            namespace: "ns-1",
            unique: "ns-1",
            run_id: "run",
            images: &images,
        };
        let renames = patch_for_test(&mut items, &cx);
        for (item, (before, namespaced)) in items.iter().zip(&objs) {
            let o = &item.object;
            let old = before["metadata"]["name"].as_str().unwrap_or_default();
            let now = o.metadata.name.as_deref().unwrap_or_default();
            assert_eq!(o.metadata.labels.as_ref().unwrap()[RUN_LABEL], "run");
            if *namespaced {
                assert_eq!(o.metadata.namespace.as_deref(), Some("ns-1"));
            }
            match kind(o) {
                "Namespace" => assert_eq!(now, old),
                "CustomResourceDefinition" if o.data["spec"]["group"].is_string() => {
                    assert_eq!(now, "widgets.ns-1.example.com");
                }
                "CustomResourceDefinition" => assert_eq!(now, old),
                "Widget"
                    if items
                        .iter()
                        .any(|i| now_group(i) == Some("ns-1.example.com")) =>
                {
                    assert_eq!(o.types.as_ref().unwrap().api_version, "ns-1.example.com/v1");
                }
                "Role" => assert_eq!(now, format!("{old}-ns-1")),
                _ if !namespaced => assert_eq!(now, format!("{old}-ns-1")),
                _ => assert_eq!(now, old),
            }
            if kind(o) == "PersistentVolumeClaim"
                && let Some(class) = before["spec"]["storageClassName"].as_str()
            {
                let want = renames
                    .get(&("StorageClass".to_string(), class.to_string()))
                    .map_or(class, String::as_str);
                assert_eq!(o.data["spec"]["storageClassName"], want);
            }
        }
        Ok(())
    });
}

fn now_group(i: &Patchable) -> Option<&str> {
    (kind(&i.object) == "CustomResourceDefinition")
        .then(|| i.object.data["spec"]["group"].as_str())
        .flatten()
}

#[test]
fn a_csi_patch_that_appends_nothing_is_idempotent() {
    arbtest(|u| {
        let patch = CsiPatch {
            old_name: "hostpath.csi.k8s.io".into(),
            new_name: u
                .choose(&[
                    "hostpath.csi.k8s.io-e2e-1",
                    "other.example.com",
                    "hostpath.csi.k8s.io",
                ])?
                .to_string(),
            node_name: if u.arbitrary()? {
                Some("node-1".into())
            } else {
                None
            },
            ..CsiPatch::default()
        };
        for (v, _) in objects(u)? {
            let mut once: DynamicObject = serde_json::from_value(v).expect("an object");
            if u.arbitrary()? {
                once.metadata.name = Some("hostpath.csi.k8s.io".into());
            }
            patch.apply(&mut once);
            let mut twice = once.clone();
            patch.apply(&mut twice);
            assert_eq!(
                serde_json::to_value(&twice).unwrap(),
                serde_json::to_value(&once).unwrap(),
                "a second apply changed the object"
            );
        }
        Ok(())
    });
}
