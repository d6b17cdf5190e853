//! The quickstart suite: one of everything a spec author uses — a namespace per spec, typed and
//! dynamic clients, YAML manifests with patching and cleanup, `eventually`, `expect`, ready-made
//! conditions, skips and logical images.
//!
//! ```sh
//! cargo test -p kube-e2e-examples --test quickstart -- --report-dir /tmp/quickstart
//! ```
//!
//! With no `KUBECONFIG` the `local` provider starts (or reuses) the project's local cluster.

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Pod, ServiceAccount};
use k8s_openapi::api::rbac::v1::ClusterRoleBinding;
use kube::api::{Api, ListParams, PostParams};
use kube_e2e::prelude::*;

// The repository's `testing-manifests/` (`quickstart/*.yaml`), embedded into this binary.
kube_e2e::embed_test_files!("$CARGO_MANIFEST_DIR/../testing-manifests");

fn busybox_pod(f: &Framework, name: &str) -> Pod {
    // Test namespaces enforce the restricted pod-security level.
    restricted_pod(
        name,
        f.image(Image::Busybox),
        ["sh", "-c", "echo started; exec sleep 3600"],
    )
    .build()
}

fn quickstart(s: &mut Container) {
    s.describe("Quickstart", |s| {
        s.framework("quickstart");

        s.it(
            "gives every spec a namespace that is ready for pods",
            |cx| async move {
                let f = cx.framework()?;
                let ns = f
                    .api_all::<k8s_openapi::api::core::v1::Namespace>()
                    .get(f.namespace())
                    .await?;
                let labels = ns.metadata.labels.unwrap_or_default();
                expect(labels.get("e2e-run").map(String::as_str))
                    .to_equal(Some(f.session().run_id()))?;
                expect(labels.get("pod-security.kubernetes.io/enforce").cloned())
                    .to_equal(Some("restricted".to_string()))?;
                f.api::<ServiceAccount>().get("default").await?;
                f.api::<ConfigMap>().get("kube-root-ca.crt").await?;
                Ok(())
            },
        );

        s.it("runs a pod and waits for it", |cx| async move {
            let f = cx.framework()?;
            cx.by("creating a busybox pod");
            let pods = f.api::<Pod>();
            pods.create(&PostParams::default(), &busybox_pod(&f, "sleeper"))
                .await?;
            cx.by("waiting for it to run");
            let pod = f.wait_for_pod_running("sleeper").await?;
            expect(
                pod.spec
                    .and_then(|s| s.containers.first().and_then(|c| c.image.clone())),
            )
            .to_equal(Some(f.image(Image::Busybox)))?;
            cx.by("waiting until the pod reports Ready");
            eventually("pod `sleeper` to be Ready", || async {
                let pod = pods.get("sleeper").await?;
                let ready = pod
                    .status
                    .and_then(|s| s.conditions)
                    .unwrap_or_default()
                    .into_iter()
                    .any(|c| c.type_ == "Ready" && c.status == "True");
                ensure!(ready, "Ready is not True yet");
                Ok(())
            })
            .timeout(f.timeouts().pod_start)
            .within(&cx)
            .await?;
            Ok(())
        });

        s.it(
            "creates, patches and removes a manifest set",
            |cx| async move {
                let f = cx.framework()?;
                cx.by("creating a CRD, a custom resource, RBAC, a storage class and a deployment");
                let created = f
                    .manifests([
                        "quickstart/crd.yaml",
                        "quickstart/widget.yaml",
                        "quickstart/rbac.yaml",
                        "quickstart/storage.yaml",
                        "quickstart/app.yaml",
                    ])
                    .patch(|obj| {
                        obj.metadata
                            .annotations
                            .get_or_insert_with(Default::default)
                            .insert("example.com/suite".into(), "quickstart".into());
                        Ok(())
                    })
                    .wait_for_rollout()
                    .create()
                    .await?;
                expect(created.len()).to_equal(11)?;
                cx.by("checking the patched names and references");
                let crb = f
                    .api_all::<ClusterRoleBinding>()
                    .get(&format!("web-reads-widgets-{}", f.unique_name()))
                    .await?;
                expect(crb.role_ref.name).to_equal(format!("widget-reader-{}", f.unique_name()))?;
                let subject_ns = crb.subjects.unwrap_or_default()[0].namespace.clone();
                expect(subject_ns.as_deref()).to_equal(Some(f.namespace()))?;
                let web = f.api::<Deployment>().get("web").await?;
                let annotations = web.metadata.annotations.unwrap_or_default();
                expect(annotations.get("example.com/suite").map(String::as_str))
                    .to_equal(Some("quickstart"))?;
                let widgets = created
                    .iter()
                    .find(|c| c.resource.kind == "Widget")
                    .map(|c| c.resource.group.clone());
                expect(widgets)
                    .to_equal(Some(format!("{}.quickstart.kube-e2e.io", f.unique_name())))?;
                cx.by("listing the deployment's pods");
                let pods = f
                    .api::<Pod>()
                    .list(&ListParams::default().labels("app=web"))
                    .await?;
                expect(pods.items).to(have_len(2))?;
                Ok(())
            },
        );

        s.it(
            "skips with a reason when the cluster is too small",
            |cx| async move {
                let f = cx.framework()?;
                skip_unless_node_count_at_least(f.client(), 1000).await?;
                bail!("a cluster with 1000 nodes? not this one")
            },
        );
    })
    .tag(sig("apps"));
}
kube_e2e::specs!(quickstart);

fn api_machinery(s: &mut Container) {
    s.describe("ConfigMap", |s| {
        s.framework("configmap");
        s.it("is consistently readable once created", |cx| async move {
            let f = cx.framework()?;
            let cms: Api<ConfigMap> = f.api();
            let cm: ConfigMap = serde_json::from_value(serde_json::json!({
                "metadata": {"name": "settings"}, "data": {"mode": "fast"}
            }))?;
            cms.create(&PostParams::default(), &cm).await?;
            consistently("configmap `settings` to keep mode=fast", || async {
                let got = cms.get("settings").await?;
                expect(got.data.unwrap_or_default().get("mode").cloned())
                    .to_equal(Some("fast".into()))?;
                Ok(())
            })
            .duration(Duration::from_secs(2))
            .poll(Duration::from_millis(500))
            .within(&cx)
            .await?;
            Ok(())
        })
        .conformance(ConformanceMeta {
            testname: "ConfigMap, consistently readable",
            description: "A created ConfigMap MUST keep returning the data it was created with.",
            release: "v1.9",
        });
    })
    .tag(sig("api-machinery"));
}
kube_e2e::specs!(api_machinery);

kube_e2e::main!();
