//! `[sig-api-machinery]` conformance specs: namespaces, ConfigMaps, Secrets, Leases, Events,
//! CRDs, watch, selectors, server-side apply, dry-run, optimistic concurrency, garbage
//! collection, finalizers and discovery.

use crate::support::object;
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{ConfigMap, Event, Namespace, Secret};
use k8s_openapi::api::events::v1::Event as EventV1;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{
    Api, ApiResource, DeleteParams, DynamicObject, GroupVersionKind, ListParams, Patch,
    PatchParams, PostParams, WatchEvent, WatchParams,
};
use kube_e2e::prelude::*;
use serde_json::json;
use std::collections::BTreeMap;

const CRD_GROUP: &str = "stable.conformance.kube-e2e.io";

fn cm(name: &str, data: serde_json::Value) -> anyhow::Result<ConfigMap> {
    object(json!({"metadata": {"name": name}, "data": data}))
}

fn data_of(cm: &ConfigMap) -> BTreeMap<String, String> {
    cm.data.clone().unwrap_or_default()
}

fn names<K: kube::Resource>(items: &[K]) -> Vec<String> {
    let mut v: Vec<String> = items.iter().filter_map(|o| o.meta().name.clone()).collect();
    v.sort();
    v
}

fn status_code(e: &anyhow::Error) -> Option<u16> {
    e.downcast_ref::<kube::Error>().and_then(|e| match e {
        kube::Error::Api(s) => Some(s.code),
        _ => None,
    })
}

async fn expect_status<T>(
    what: &str,
    code: u16,
    fut: impl std::future::Future<Output = Result<T, kube::Error>>,
) -> anyhow::Result<()> {
    match fut.await {
        Ok(_) => bail!("{what}: expected HTTP {code}, but the call succeeded"),
        Err(e) => {
            let got = status_code(&anyhow::Error::new(e));
            ensure!(
                got == Some(code),
                "{what}: expected HTTP {code}, got {got:?}"
            );
            Ok(())
        }
    }
}

/// Creates a namespaced CRD in `CRD_GROUP` with names unique to the spec; deletes it after.
async fn create_crd(cx: &SpecContext, f: &Framework) -> anyhow::Result<ApiResource> {
    let id: String = f
        .namespace()
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect();
    let plural = format!("w{id}s");
    let kind = format!("W{id}");
    let name = format!("{plural}.{CRD_GROUP}");
    let crd: CustomResourceDefinition = object(json!({
        "metadata": {"name": name, "labels": {"e2e-run": f.session().run_id(), "app.kubernetes.io/managed-by": "kube-e2e"}},
        "spec": {
            "group": CRD_GROUP,
            "scope": "Namespaced",
            "names": {"plural": plural, "singular": format!("w{id}"), "kind": kind, "listKind": format!("{kind}List")},
            "versions": [{
                "name": "v1", "served": true, "storage": true,
                "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                    "spec": {"type": "object", "properties": {"size": {"type": "integer"}}}
                }}}
            }]
        }
    }))?;
    let crds = f.api_all::<CustomResourceDefinition>();
    cx.by(format!("creating CRD {name}"));
    crds.create(&PostParams::default(), &crd).await?;
    let cleanup = crds.clone();
    let n = name.clone();
    cx.defer_cleanup(move || async move {
        match cleanup.delete(&n, &DeleteParams::default()).await {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(ae)) if ae.code == 404 => Ok(()),
            Err(e) => Err(anyhow::Error::new(e).context(format!("deleting CRD {n}"))),
        }
    });
    f.wait_for_crd_established(&name).await?;
    let gvk = GroupVersionKind::gvk(CRD_GROUP, "v1", &kind);
    Ok(ApiResource::from_gvk_with_plural(&gvk, &plural))
}

fn widget(ar: &ApiResource, name: &str, size: i64) -> anyhow::Result<DynamicObject> {
    object(json!({
        "apiVersion": ar.api_version, "kind": ar.kind,
        "metadata": {"name": name}, "spec": {"size": size}
    }))
}

fn owned_by(owner: &ConfigMap, name: &str, block: bool) -> anyhow::Result<ConfigMap> {
    object(json!({
        "metadata": {"name": name, "ownerReferences": [{
            "apiVersion": "v1", "kind": "ConfigMap",
            "name": owner.metadata.name, "uid": owner.metadata.uid,
            "blockOwnerDeletion": block
        }]},
        "data": {"owned": "yes"}
    }))
}

fn namespaces(s: &mut Container) {
    s.it(
        "should delete the objects of a namespace when it is deleted",
        |cx| async move {
            let f = cx.framework()?;
            let extra = f.create_namespace("nsdelete").await?;
            let cms: Api<ConfigMap> = Api::namespaced(f.client().clone(), &extra);
            cms.create(&PostParams::default(), &cm("doomed", json!({"a": "1"}))?)
                .await?;
            cx.by(format!("deleting namespace {extra}"));
            let nss = f.api_all::<Namespace>();
            nss.delete(&extra, &DeleteParams::default()).await?;
            f.wait_for_deleted(&nss, &extra).await?;
            expect_status(
                "reading a configmap of the deleted namespace",
                404,
                cms.get("doomed"),
            )
            .await
        },
    )
    .conformance(ConformanceMeta {
        testname: "Namespace, delete removes contents",
        description: "Deleting a namespace MUST remove the namespace and every object in it.",
        release: "v1.11",
    });

    s.it("should patch a namespace's labels", |cx| async move {
        let f = cx.framework()?;
        let nss = f.api_all::<Namespace>();
        let patch = json!({"metadata": {"labels": {"testLabel": "testValue"}}});
        nss.patch(f.namespace(), &PatchParams::default(), &Patch::Merge(&patch))
            .await?;
        let ns = nss.get(f.namespace()).await?;
        expect(ns.metadata.labels.unwrap_or_default().get("testLabel").cloned())
            .to_equal(Some("testValue".to_string()))?;
        Ok(())
    })
    .conformance(ConformanceMeta {
        testname: "Namespace patching",
        description: "A namespace's labels MUST be patchable and the patch MUST be visible on read.",
        release: "v1.18",
    });

    s.it(
        "should list namespaces by label and report them Active",
        |cx| async move {
            let f = cx.framework()?;
            let nss = f.api_all::<Namespace>();
            let run = f.session().run_id().to_string();
            let list = nss
                .list(&ListParams::default().labels(&format!("e2e-run={run}")))
                .await?;
            let ours = list
                .items
                .iter()
                .find(|n| n.metadata.name.as_deref() == Some(f.namespace()))
                .context("the spec's namespace is not in the labelled list")?;
            let phase = ours.status.as_ref().and_then(|s| s.phase.clone());
            expect(phase).to_equal(Some("Active".to_string()))?;
            Ok(())
        },
    )
    .conformance(ConformanceMeta {
        testname: "Namespace, list by label",
        description: "Listing namespaces with a label selector MUST return the labelled namespace, with phase Active.",
        release: "v1.21",
    });

    s.it(
        "should refuse new objects in a namespace that is terminating",
        |cx| async move {
            let f = cx.framework()?;
            let extra = f.create_namespace("nsterm").await?;
            let cms: Api<ConfigMap> = Api::namespaced(f.client().clone(), &extra);
            let held: ConfigMap = object(json!({
                "metadata": {"name": "held", "finalizers": ["conformance.kube-e2e.io/hold"]}
            }))?;
            cms.create(&PostParams::default(), &held).await?;
            let release = cms.clone();
            cx.defer_cleanup(move || async move {
                let p = json!({"metadata": {"finalizers": null}});
                match release
                    .patch("held", &PatchParams::default(), &Patch::Merge(&p))
                    .await
                {
                    Ok(_) => Ok(()),
                    Err(kube::Error::Api(ae)) if ae.code == 404 => Ok(()),
                    Err(e) => {
                        Err(anyhow::Error::new(e)
                            .context("releasing the finalizer of configmap held"))
                    }
                }
            });
            f.api_all::<Namespace>()
                .delete(&extra, &DeleteParams::default())
                .await?;
            expect_status(
                "creating a configmap in a terminating namespace",
                403,
                cms.create(&PostParams::default(), &cm("late", json!({}))?),
            )
            .await
        },
    )
    .conformance(ConformanceMeta {
        testname: "Namespace, terminating refuses creates",
        description: "Creating an object in a namespace that is being deleted MUST be forbidden.",
        release: "v1.34",
    });
}

fn config_maps(s: &mut Container) {
    s.it(
        "should be created, read, updated, patched and deleted",
        |cx| async move {
            let f = cx.framework()?;
            let cms = f.api::<ConfigMap>();
            cx.by("creating");
            let created = cms
                .create(&PostParams::default(), &cm("crud", json!({"a": "1"}))?)
                .await?;
            expect(data_of(&created)).to_equal(BTreeMap::from([("a".into(), "1".into())]))?;
            cx.by("updating");
            let mut got = cms.get("crud").await?;
            got.data.get_or_insert_with(Default::default).insert("b".into(), "2".into());
            cms.replace("crud", &PostParams::default(), &got).await?;
            cx.by("patching");
            let p = json!({"data": {"a": "patched"}});
            let patched = cms
                .patch("crud", &PatchParams::default(), &Patch::Merge(&p))
                .await?;
            expect(data_of(&patched)).to_equal(BTreeMap::from([
                ("a".into(), "patched".into()),
                ("b".into(), "2".into()),
            ]))?;
            cx.by("deleting");
            cms.delete("crud", &DeleteParams::default()).await?;
            expect_status("reading the deleted configmap", 404, cms.get("crud")).await
        },
    )
    .conformance(ConformanceMeta {
        testname: "ConfigMap lifecycle",
        description: "A ConfigMap MUST be creatable, readable, updatable, patchable and deletable, each change visible on the next read.",
        release: "v1.19",
    });

    s.it(
        "should list by label and delete as a collection",
        |cx| async move {
            let f = cx.framework()?;
            let cms = f.api::<ConfigMap>();
            for (name, group) in [("one", "a"), ("two", "a"), ("three", "b")] {
                let c: ConfigMap = object(json!({"metadata": {"name": name, "labels": {"group": group}}}))?;
                cms.create(&PostParams::default(), &c).await?;
            }
            let lp = ListParams::default().labels("group=a");
            expect(names(&cms.list(&lp).await?.items))
                .to_equal(vec!["one", "two"])?;
            cms.delete_collection(&DeleteParams::default(), &lp).await?;
            let left = cms.list(&ListParams::default().labels("group")).await?;
            expect(names(&left.items)).to_equal(vec!["three"])?;
            Ok(())
        },
    )
    .conformance(ConformanceMeta {
        testname: "ConfigMap, list and delete collection",
        description: "Listing ConfigMaps with a label selector MUST return exactly the matching ones; deleting the collection MUST leave the others.",
        release: "v1.19",
    });

    s.it(
        "should deliver ADDED, MODIFIED and DELETED watch events in order",
        |cx| async move {
            let f = cx.framework()?;
            let cms = f.api::<ConfigMap>();
            let start = cms.list(&ListParams::default()).await?;
            let rv = start.metadata.resource_version.unwrap_or_default();
            let wp = WatchParams::default().fields("metadata.name=watched");
            let stream = cms.watch(&wp, &rv).await?;
            cms.create(&PostParams::default(), &cm("watched", json!({"v": "1"}))?)
                .await?;
            let p = json!({"data": {"v": "2"}});
            cms.patch("watched", &PatchParams::default(), &Patch::Merge(&p))
                .await?;
            cms.delete("watched", &DeleteParams::default()).await?;
            let mut seen = Vec::new();
            let mut stream = stream.boxed();
            let deadline = tokio::time::sleep(Duration::from_secs(30));
            tokio::pin!(deadline);
            while seen.len() < 3 {
                tokio::select! {
                    ev = stream.try_next() => match ev? {
                        Some(WatchEvent::Added(c)) => seen.push(format!("ADDED {}", data_of(&c)["v"])),
                        Some(WatchEvent::Modified(c)) => seen.push(format!("MODIFIED {}", data_of(&c)["v"])),
                        Some(WatchEvent::Deleted(_)) => seen.push("DELETED".into()),
                        Some(_) => {}
                        None => bail!("watch ended after {seen:?}"),
                    },
                    _ = &mut deadline => bail!("timed out; saw {seen:?}"),
                }
            }
            expect(seen).to_equal(vec![
                "ADDED 1",
                "MODIFIED 2",
                "DELETED",
            ])?;
            Ok(())
        },
    )
    .conformance(ConformanceMeta {
        testname: "ConfigMap, watch events",
        description: "A watch on ConfigMaps started at a list's resourceVersion MUST deliver the create, the change and the delete of an object, in that order.",
        release: "v1.11",
    });

    s.it(
        "should refuse data changes once immutable",
        |cx| async move {
            let f = cx.framework()?;
            let cms = f.api::<ConfigMap>();
            let c: ConfigMap = object(
                json!({"metadata": {"name": "frozen"}, "data": {"a": "1"}, "immutable": true}),
            )?;
            cms.create(&PostParams::default(), &c).await?;
            let p = json!({"data": {"a": "2"}});
            expect_status(
                "changing an immutable configmap",
                422,
                cms.patch("frozen", &PatchParams::default(), &Patch::Merge(&p)),
            )
            .await?;
            expect(data_of(&cms.get("frozen").await?)["a"].clone()).to_equal("1")?;
            Ok(())
        },
    )
    .conformance(ConformanceMeta {
        testname: "ConfigMap, immutable",
        description: "A ConfigMap with immutable set MUST reject changes to its data.",
        release: "v1.21",
    });

    s.it("should give generateName objects unique names", |cx| async move {
        let f = cx.framework()?;
        let cms = f.api::<ConfigMap>();
        let c: ConfigMap = object(json!({"metadata": {"generateName": "gen-"}}))?;
        let a = cms.create(&PostParams::default(), &c).await?;
        let b = cms.create(&PostParams::default(), &c).await?;
        let (a, b) = (a.metadata.name.unwrap_or_default(), b.metadata.name.unwrap_or_default());
        ensure!(a.starts_with("gen-") && b.starts_with("gen-") && a != b, "names {a} and {b}");
        Ok(())
    })
    .conformance(ConformanceMeta {
        testname: "ConfigMap, generateName",
        description: "Objects created with generateName MUST receive distinct names starting with the prefix.",
        release: "v1.34",
    });

    s.it("should page through a list with limit and continue", |cx| async move {
        let f = cx.framework()?;
        let cms = f.api::<ConfigMap>();
        for i in 0..5 {
            let c: ConfigMap = object(json!({"metadata": {"name": format!("page-{i}"), "labels": {"paged": "yes"}}}))?;
            cms.create(&PostParams::default(), &c).await?;
        }
        let mut all = Vec::new();
        let mut token: Option<String> = None;
        let mut pages = 0;
        loop {
            let mut lp = ListParams::default().labels("paged=yes").limit(2);
            if let Some(t) = &token {
                lp = lp.continue_token(t);
            }
            let page = cms.list(&lp).await?;
            ensure!(page.items.len() <= 2, "page of {} items", page.items.len());
            all.extend(names(&page.items));
            pages += 1;
            token = page.metadata.continue_.filter(|t| !t.is_empty());
            if token.is_none() {
                break;
            }
        }
        expect(pages).to_equal(3)?;
        expect(all).to(have_len(5))?;
        Ok(())
    })
    .conformance(ConformanceMeta {
        testname: "List, pagination",
        description: "A list with a limit MUST return at most that many items and a continue token that MUST yield the rest.",
        release: "v1.16",
    });
}

fn secrets(s: &mut Container) {
    s.it(
        "should be created with stringData, read back as data, patched and deleted",
        |cx| async move {
            let f = cx.framework()?;
            let secrets = f.api::<Secret>();
            let sec: Secret = object(json!({
                "metadata": {"name": "creds"},
                "data": {"user": "YWRtaW4="},
                "stringData": {"password": "s3cret"}
            }))?;
            secrets.create(&PostParams::default(), &sec).await?;
            let got = secrets.get("creds").await?;
            let data = got.data.unwrap_or_default();
            expect(data.get("user").map(|b| b.0.clone())).to_equal(Some(b"admin".to_vec()))?;
            expect(data.get("password").map(|b| b.0.clone()))
                .to_equal(Some(b"s3cret".to_vec()))?;
            ensure!(got.string_data.is_none(), "stringData must not be stored");
            let p = json!({"data": {"user": "cm9vdA=="}});
            let patched = secrets
                .patch("creds", &PatchParams::default(), &Patch::Merge(&p))
                .await?;
            expect(patched.data.unwrap_or_default().get("user").map(|b| b.0.clone()))
                .to_equal(Some(b"root".to_vec()))?;
            secrets.delete("creds", &DeleteParams::default()).await?;
            expect_status("reading the deleted secret", 404, secrets.get("creds")).await
        },
    )
    .conformance(ConformanceMeta {
        testname: "Secret lifecycle",
        description: "A Secret MUST be creatable with data and stringData (stored merged into data), patchable and deletable.",
        release: "v1.18",
    });

    s.it("should be selectable by field and by type", |cx| async move {
        let f = cx.framework()?;
        let secrets = f.api::<Secret>();
        for (name, ty) in [("opaque", "Opaque"), ("custom", "example.com/custom")] {
            let sec: Secret = object(json!({"metadata": {"name": name}, "type": ty, "stringData": {"k": "v"}}))?;
            secrets.create(&PostParams::default(), &sec).await?;
        }
        let by_name = secrets
            .list(&ListParams::default().fields("metadata.name=custom"))
            .await?;
        expect(names(&by_name.items)).to_equal(vec!["custom"])?;
        let by_type = secrets
            .list(&ListParams::default().fields("type=example.com/custom"))
            .await?;
        expect(names(&by_type.items)).to_equal(vec!["custom"])?;
        Ok(())
    })
    .conformance(ConformanceMeta {
        testname: "Secret, field selectors",
        description: "Listing Secrets with a metadata.name or type field selector MUST return exactly the matching Secrets.",
        release: "v1.34",
    });

    s.it("should watch a secret's changes", |cx| async move {
        let f = cx.framework()?;
        let secrets = f.api::<Secret>();
        let sec: Secret = object(json!({"metadata": {"name": "watched"}, "stringData": {"k": "1"}}))?;
        let created = secrets.create(&PostParams::default(), &sec).await?;
        let rv = created.metadata.resource_version.unwrap_or_default();
        let stream = secrets
            .watch(&WatchParams::default().fields("metadata.name=watched"), &rv)
            .await?;
        let p = json!({"stringData": {"k": "2"}});
        secrets
            .patch("watched", &PatchParams::default(), &Patch::Merge(&p))
            .await?;
        let mut stream = stream.boxed();
        let ev = tokio::time::timeout(Duration::from_secs(30), stream.next())
            .await
            .context("no watch event within 30s")?
            .context("watch ended")??;
        match ev {
            WatchEvent::Modified(s) => {
                let v = s.data.unwrap_or_default().get("k").map(|b| b.0.clone());
                expect(v).to_equal(Some(b"2".to_vec()))?;
            }
            other => bail!("expected MODIFIED, got {other:?}"),
        }
        Ok(())
    })
    .conformance(ConformanceMeta {
        testname: "Secret, watch",
        description: "A watch on a Secret from its resourceVersion MUST deliver a MODIFIED event carrying the new data.",
        release: "v1.34",
    });
}

fn leases(s: &mut Container) {
    s.it(
        "should be created, renewed, patched, listed and deleted",
        |cx| async move {
            let f = cx.framework()?;
            let leases = f.api::<Lease>();
            let l: Lease = object(json!({
                "metadata": {"name": "lock", "labels": {"kind": "lock"}},
                "spec": {"holderIdentity": "a", "leaseDurationSeconds": 30}
            }))?;
            leases.create(&PostParams::default(), &l).await?;
            let mut got = leases.get("lock").await?;
            let spec = got.spec.get_or_insert_with(Default::default);
            spec.holder_identity = Some("b".into());
            spec.lease_transitions = Some(1);
            leases.replace("lock", &PostParams::default(), &got).await?;
            let p = json!({"spec": {"leaseDurationSeconds": 60}});
            let patched = leases
                .patch("lock", &PatchParams::default(), &Patch::Merge(&p))
                .await?;
            let spec = patched.spec.unwrap_or_default();
            expect((spec.holder_identity, spec.lease_duration_seconds, spec.lease_transitions))
                .to_equal((Some("b".to_string()), Some(60), Some(1)))?;
            let list = leases.list(&ListParams::default().labels("kind=lock")).await?;
            expect(names(&list.items)).to_equal(vec!["lock"])?;
            leases.delete("lock", &DeleteParams::default()).await?;
            expect_status("reading the deleted lease", 404, leases.get("lock")).await
        },
    )
    .conformance(ConformanceMeta {
        testname: "Lease lifecycle",
        description: "A Lease MUST be creatable, its holder renewable by update, patchable, listable by label and deletable.",
        release: "v1.17",
    });

    s.it(
        "should let only one of two holders take it over with the same resourceVersion",
        |cx| async move {
            let f = cx.framework()?;
            let leases = f.api::<Lease>();
            let l: Lease = object(json!({"metadata": {"name": "race"}, "spec": {"holderIdentity": "a"}}))?;
            leases.create(&PostParams::default(), &l).await?;
            let seen = leases.get("race").await?;
            let mut b = seen.clone();
            b.spec.get_or_insert_with(Default::default).holder_identity = Some("b".into());
            let mut c = seen.clone();
            c.spec.get_or_insert_with(Default::default).holder_identity = Some("c".into());
            leases.replace("race", &PostParams::default(), &b).await?;
            expect_status(
                "a second update from the same resourceVersion",
                409,
                leases.replace("race", &PostParams::default(), &c),
            )
            .await?;
            let holder = leases.get("race").await?.spec.and_then(|s| s.holder_identity);
            expect(holder).to_equal(Some("b".to_string()))?;
            Ok(())
        },
    )
    .conformance(ConformanceMeta {
        testname: "Lease, optimistic concurrency",
        description: "Of two updates made from the same resourceVersion of a Lease, the second MUST fail with a conflict and the first MUST stand.",
        release: "v1.34",
    });
}

fn events(s: &mut Container) {
    s.it(
        "should be created, listed by involved object, patched and deleted (core/v1)",
        |cx| async move {
            let f = cx.framework()?;
            let evs = f.api::<Event>();
            let ns = f.namespace().to_string();
            let ev: Event = object(json!({
                "metadata": {"name": "ev1"},
                "involvedObject": {"kind": "ConfigMap", "name": "subject", "namespace": ns, "apiVersion": "v1"},
                "reason": "Testing", "message": "hello", "type": "Normal",
                "source": {"component": "kube-e2e"},
                "firstTimestamp": "2025-01-01T00:00:00Z", "lastTimestamp": "2025-01-01T00:00:00Z", "count": 1
            }))?;
            evs.create(&PostParams::default(), &ev).await?;
            let list = evs
                .list(&ListParams::default().fields("involvedObject.name=subject"))
                .await?;
            expect(names(&list.items)).to_equal(vec!["ev1"])?;
            let p = json!({"message": "patched", "count": 2});
            let patched = evs
                .patch("ev1", &PatchParams::default(), &Patch::Merge(&p))
                .await?;
            expect((patched.message, patched.count)).to_equal((Some("patched".to_string()), Some(2)))?;
            evs.delete("ev1", &DeleteParams::default()).await?;
            expect_status("reading the deleted event", 404, evs.get("ev1")).await
        },
    )
    .conformance(ConformanceMeta {
        testname: "Event lifecycle, core/v1",
        description: "A core/v1 Event MUST be creatable, listable by involvedObject field selector, patchable and deletable.",
        release: "v1.20",
    });

    s.it(
        "should be created, updated with a series, listed and deleted (events.k8s.io/v1)",
        |cx| async move {
            let f = cx.framework()?;
            let evs = f.api::<EventV1>();
            let ns = f.namespace().to_string();
            let ev: EventV1 = object(json!({
                "metadata": {"name": "ev2", "labels": {"testevent": "yes"}},
                "eventTime": "2025-01-01T00:00:00.000000Z",
                "reportingController": "kube-e2e.io/conformance", "reportingInstance": "conformance",
                "action": "Test", "reason": "Testing", "note": "first", "type": "Normal",
                "regarding": {"kind": "ConfigMap", "name": "subject", "namespace": ns, "apiVersion": "v1"}
            }))?;
            evs.create(&PostParams::default(), &ev).await?;
            let mut got = serde_json::to_value(evs.get("ev2").await?)?;
            got["series"] = json!({"count": 2, "lastObservedTime": "2025-01-01T00:00:01.000000Z"});
            let updated = evs.replace("ev2", &PostParams::default(), &object(got)?).await?;
            expect(updated.series.map(|s| s.count)).to_equal(Some(2))?;
            let list = evs.list(&ListParams::default().labels("testevent=yes")).await?;
            expect(names(&list.items)).to_equal(vec!["ev2"])?;
            evs.delete("ev2", &DeleteParams::default()).await?;
            expect_status("reading the deleted event", 404, evs.get("ev2")).await
        },
    )
    .conformance(ConformanceMeta {
        testname: "Event lifecycle, events.k8s.io/v1",
        description: "An events.k8s.io/v1 Event MUST be creatable, updatable with a series count, listable by label and deletable.",
        release: "v1.19",
    });
}

fn crds(s: &mut Container) {
    s.it(
        "should create a definition that becomes Established and is served by discovery",
        |cx| async move {
            let f = cx.framework()?;
            let ar = create_crd(&cx, &f).await?;
            // Discovery is updated shortly after the definition is Established: poll it.
            eventually(format!("discovery of {CRD_GROUP}/v1 to serve {}", ar.plural), || async {
                let resources = f
                    .client()
                    .list_api_group_resources(&format!("{CRD_GROUP}/v1"))
                    .await?;
                ensure!(
                    resources.resources.iter().any(|r| r.name == ar.plural && r.namespaced),
                    "discovery of {CRD_GROUP}/v1 lacks {}: {:?}",
                    ar.plural,
                    resources.resources.iter().map(|r| &r.name).collect::<Vec<_>>()
                );
                Ok(())
            })
            .timeout(Duration::from_secs(30))
            .within(&cx)
            .await?;
            Ok(())
        },
    )
    .conformance(ConformanceMeta {
        testname: "CustomResourceDefinition, create and discover",
        description: "A created CustomResourceDefinition MUST become Established and its resource MUST appear in the discovery document of its group version.",
        release: "v1.16",
    });

    s.it(
        "should create, list, watch and delete custom resources",
        |cx| async move {
            let f = cx.framework()?;
            let ar = create_crd(&cx, &f).await?;
            let api: Api<DynamicObject> = Api::namespaced_with(f.client().clone(), f.namespace(), &ar);
            let start = api.list(&ListParams::default()).await?;
            let rv = start.metadata.resource_version.unwrap_or_default();
            let stream = api.watch(&WatchParams::default(), &rv).await?;
            api.create(&PostParams::default(), &widget(&ar, "small", 1)?).await?;
            api.create(&PostParams::default(), &widget(&ar, "large", 9)?).await?;
            let list = api.list(&ListParams::default()).await?;
            expect(names(&list.items)).to_equal(vec!["large", "small"])?;
            let large = api.get("large").await?;
            expect(large.data["spec"]["size"].as_i64()).to_equal(Some(9))?;
            api.delete("small", &DeleteParams::default()).await?;
            let mut stream = stream.boxed();
            let mut seen = Vec::new();
            while seen.len() < 3 {
                let ev = tokio::time::timeout(Duration::from_secs(30), stream.next())
                    .await
                    .with_context(|| format!("no watch event within 30s after {seen:?}"))?
                    .context("watch ended")??;
                match ev {
                    WatchEvent::Added(o) => seen.push(format!("ADDED {}", o.metadata.name.unwrap_or_default())),
                    WatchEvent::Deleted(o) => seen.push(format!("DELETED {}", o.metadata.name.unwrap_or_default())),
                    _ => {}
                }
            }
            expect(seen).to_equal(vec!["ADDED small", "ADDED large", "DELETED small"])?;
            Ok(())
        },
    )
    .conformance(ConformanceMeta {
        testname: "Custom resource, create list watch delete",
        description: "Custom resources of an Established CustomResourceDefinition MUST be creatable, listable, readable and deletable, and a watch MUST report their creation and deletion.",
        release: "v1.16",
    });

    s.it(
        "should stop serving custom resources once the definition is deleted",
        |cx| async move {
            let f = cx.framework()?;
            let ar = create_crd(&cx, &f).await?;
            let api: Api<DynamicObject> = Api::namespaced_with(f.client().clone(), f.namespace(), &ar);
            api.create(&PostParams::default(), &widget(&ar, "w", 1)?).await?;
            let crds = f.api_all::<CustomResourceDefinition>();
            let name = format!("{}.{CRD_GROUP}", ar.plural);
            crds.delete(&name, &DeleteParams::default()).await?;
            f.wait_for_deleted(&crds, &name).await?;
            // The API server removes the resource's handler shortly after the CRD object is
            // gone, so the 404 is awaited (as upstream's spec does), not expected at once.
            let api = &api;
            eventually("custom resources of the deleted definition to be no longer served", || async move {
                let lp = ListParams::default();
                expect_status("listing custom resources of a deleted definition", 404, api.list(&lp)).await
            })
            .timeout(Duration::from_secs(60))
            .within(&cx)
            .await?;
            Ok(())
        },
    )
    .conformance(ConformanceMeta {
        testname: "CustomResourceDefinition, delete",
        description: "Deleting a CustomResourceDefinition MUST remove it together with its custom resources, and its resource MUST no longer be served.",
        release: "v1.16",
    });
}

fn selectors(s: &mut Container) {
    s.it(
        "should filter lists with set-based label selectors",
        |cx| async move {
            let f = cx.framework()?;
            let cms = f.api::<ConfigMap>();
            for (name, tier) in [("web", Some("front")), ("db", Some("back")), ("plain", None)] {
                let labels = match tier {
                    Some(t) => json!({"tier": t}),
                    None => json!({}),
                };
                let c: ConfigMap = object(json!({"metadata": {"name": name, "labels": labels}}))?;
                cms.create(&PostParams::default(), &c).await?;
            }
            let q = |sel: &'static str| {
                let cms = cms.clone();
                async move { anyhow::Ok(names(&cms.list(&ListParams::default().labels(sel)).await?.items)) }
            };
            expect(q("tier in (front)").await?).to_equal(vec!["web"])?;
            expect(q("tier notin (front),tier").await?).to_equal(vec!["db"])?;
            expect(q("tier").await?).to_equal(vec!["db", "web"])?;
            let none = q("!tier").await?;
            ensure!(none.contains(&"plain".to_string()) && !none.contains(&"web".to_string()), "{none:?}");
            Ok(())
        },
    )
    .conformance(ConformanceMeta {
        testname: "Label selectors, set-based",
        description: "List calls MUST honour in, notin, exists and does-not-exist label selector requirements.",
        release: "v1.34",
    });

    s.it(
        "should filter lists with field selectors and reject unknown fields",
        |cx| async move {
            let f = cx.framework()?;
            let cms = f.api::<ConfigMap>();
            for name in ["alpha", "beta"] {
                cms.create(&PostParams::default(), &cm(name, json!({}))?).await?;
            }
            let got = cms.list(&ListParams::default().fields("metadata.name!=alpha")).await?;
            let n = names(&got.items);
            ensure!(n.contains(&"beta".to_string()) && !n.contains(&"alpha".to_string()), "{n:?}");
            let ns = f.namespace().to_string();
            let all: Api<ConfigMap> = Api::all(f.client().clone());
            let in_ns = all
                .list(&ListParams::default().fields(&format!("metadata.namespace={ns},metadata.name=alpha")))
                .await?;
            expect(names(&in_ns.items)).to_equal(vec!["alpha"])?;
            expect_status(
                "a field selector on an unsupported field",
                400,
                cms.list(&ListParams::default().fields("data.x=1")),
            )
            .await
        },
    )
    .conformance(ConformanceMeta {
        testname: "Field selectors",
        description: "List calls MUST honour metadata.name and metadata.namespace field selectors, with = and !=, and MUST reject a selector on an unsupported field.",
        release: "v1.34",
    });
}

fn apply_and_dry_run(s: &mut Container) {
    s.it(
        "should report a conflict when another manager owns a field, and force takes it over",
        |cx| async move {
            let f = cx.framework()?;
            let cms = f.api::<ConfigMap>();
            let obj = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "ssa"}, "data": {"owner": "alice"}});
            cms.patch("ssa", &PatchParams::apply("alice"), &Patch::Apply(&obj)).await?;
            let theirs = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "ssa"}, "data": {"owner": "bob"}});
            expect_status(
                "applying a field another manager owns",
                409,
                cms.patch("ssa", &PatchParams::apply("bob"), &Patch::Apply(&theirs)),
            )
            .await?;
            let forced = cms
                .patch("ssa", &PatchParams::apply("bob").force(), &Patch::Apply(&theirs))
                .await?;
            expect(data_of(&forced)["owner"].clone()).to_equal("bob")?;
            let managers: Vec<String> = forced
                .metadata
                .managed_fields
                .unwrap_or_default()
                .into_iter()
                .filter_map(|m| m.manager)
                .collect();
            ensure!(managers.contains(&"bob".to_string()), "managers: {managers:?}");
            Ok(())
        },
    )
    .conformance(ConformanceMeta {
        testname: "Server-side apply, conflicts",
        description: "Applying a value to a field owned by another field manager MUST fail with a conflict; a forced apply MUST succeed and transfer ownership.",
        release: "v1.34",
    });

    s.it(
        "should create and update with server-side apply and record the manager",
        |cx| async move {
            let f = cx.framework()?;
            let cms = f.api::<ConfigMap>();
            let v1 = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "applied"}, "data": {"a": "1", "b": "1"}});
            cms.patch("applied", &PatchParams::apply("kube-e2e"), &Patch::Apply(&v1)).await?;
            let v2 = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "applied"}, "data": {"a": "2"}});
            let got = cms.patch("applied", &PatchParams::apply("kube-e2e"), &Patch::Apply(&v2)).await?;
            expect(data_of(&got)).to_equal(BTreeMap::from([("a".into(), "2".into())]))?;
            let mf = got.metadata.managed_fields.unwrap_or_default();
            ensure!(
                mf.iter().any(|m| m.manager.as_deref() == Some("kube-e2e") && m.operation.as_deref() == Some("Apply")),
                "no Apply entry for kube-e2e in managedFields"
            );
            Ok(())
        },
    )
    .conformance(ConformanceMeta {
        testname: "Server-side apply, create and prune",
        description: "Server-side apply MUST create an object, update it, remove fields the manager no longer applies, and record the manager in managedFields.",
        release: "v1.34",
    });

    s.it("should not persist a dry-run create or update", |cx| async move {
        let f = cx.framework()?;
        let cms = f.api::<ConfigMap>();
        let dry = PostParams { dry_run: true, ..PostParams::default() };
        let returned = cms.create(&dry, &cm("dry", json!({"a": "1"}))?).await?;
        expect(returned.metadata.name).to_equal(Some("dry".to_string()))?;
        expect_status("reading a dry-run created configmap", 404, cms.get("dry")).await?;
        cms.create(&PostParams::default(), &cm("real", json!({"a": "1"}))?).await?;
        let mut got = cms.get("real").await?;
        got.data = Some(BTreeMap::from([("a".into(), "2".into())]));
        let echoed = cms.replace("real", &dry, &got).await?;
        expect(data_of(&echoed)["a"].clone()).to_equal("2")?;
        expect(data_of(&cms.get("real").await?)["a"].clone()).to_equal("1")?;
        Ok(())
    })
    .conformance(ConformanceMeta {
        testname: "Dry-run, create and update",
        description: "A create or update with dryRun=All MUST return the would-be object and MUST NOT persist anything.",
        release: "v1.34",
    });

    s.it("should not delete on a dry-run delete", |cx| async move {
        let f = cx.framework()?;
        let cms = f.api::<ConfigMap>();
        cms.create(&PostParams::default(), &cm("kept", json!({}))?)
            .await?;
        cms.delete("kept", &DeleteParams::default().dry_run())
            .await?;
        cms.get("kept")
            .await
            .context("the configmap must survive a dry-run delete")?;
        Ok(())
    })
    .conformance(ConformanceMeta {
        testname: "Dry-run, delete",
        description: "A delete with dryRun=All MUST leave the object in place.",
        release: "v1.34",
    });

    s.it(
        "should reject an update carrying a stale resourceVersion",
        |cx| async move {
            let f = cx.framework()?;
            let cms = f.api::<ConfigMap>();
            cms.create(&PostParams::default(), &cm("rv", json!({"a": "1"}))?).await?;
            let stale = cms.get("rv").await?;
            let p = json!({"data": {"a": "2"}});
            let fresh = cms.patch("rv", &PatchParams::default(), &Patch::Merge(&p)).await?;
            ensure!(
                fresh.metadata.resource_version != stale.metadata.resource_version,
                "the patch did not change resourceVersion"
            );
            let mut change = stale.clone();
            change.data = Some(BTreeMap::from([("a".into(), "3".into())]));
            expect_status("an update with a stale resourceVersion", 409, cms.replace("rv", &PostParams::default(), &change)).await?;
            let with_rv = json!({"metadata": {"resourceVersion": stale.metadata.resource_version}, "data": {"a": "4"}});
            expect_status(
                "a patch with a stale resourceVersion",
                409,
                cms.patch("rv", &PatchParams::default(), &Patch::Merge(&with_rv)),
            )
            .await?;
            expect(data_of(&cms.get("rv").await?)["a"].clone()).to_equal("2")?;
            Ok(())
        },
    )
    .conformance(ConformanceMeta {
        testname: "Optimistic concurrency, resourceVersion conflicts",
        description: "An update or patch that carries a resourceVersion older than the stored one MUST fail with a conflict and change nothing.",
        release: "v1.34",
    });
}

fn garbage_collection(s: &mut Container) {
    s.it("should delete dependents in the background", |cx| async move {
        let f = cx.framework()?;
        let cms = f.api::<ConfigMap>();
        let owner = cms.create(&PostParams::default(), &cm("owner", json!({}))?).await?;
        for i in 0..2 {
            cms.create(&PostParams::default(), &owned_by(&owner, &format!("dep-{i}"), false)?).await?;
        }
        cms.delete("owner", &DeleteParams::background()).await?;
        for i in 0..2 {
            f.wait_for_deleted(&cms, &format!("dep-{i}")).await?;
        }
        Ok(())
    })
    .conformance(ConformanceMeta {
        testname: "Garbage collector, background deletion",
        description: "Deleting an owner with propagationPolicy Background MUST remove the owner at once and its dependents afterwards.",
        release: "v1.9",
    });

    s.it(
        "should keep the owner until its blocking dependents are gone in foreground deletion",
        |cx| async move {
            let f = cx.framework()?;
            let cms = f.api::<ConfigMap>();
            let owner = cms.create(&PostParams::default(), &cm("owner", json!({}))?).await?;
            let held: ConfigMap = {
                let mut d = owned_by(&owner, "held", true)?;
                d.metadata.finalizers = Some(vec!["conformance.kube-e2e.io/hold".into()]);
                d
            };
            cms.create(&PostParams::default(), &held).await?;
            let release = cms.clone();
            cx.defer_cleanup(move || async move {
                let p = json!({"metadata": {"finalizers": null}});
                let _ = release.patch("held", &PatchParams::default(), &Patch::Merge(&p)).await;
                Ok(())
            });
            cms.delete("owner", &DeleteParams::foreground()).await?;
            cx.by("checking the owner waits for its dependent");
            eventually("the dependent to be deleting", || async {
                let d = cms.get("held").await?;
                ensure!(d.metadata.deletion_timestamp.is_some(), "no deletionTimestamp yet");
                Ok(())
            })
            .timeout(Duration::from_secs(60))
            .within(&cx)
            .await?;
            let o = cms.get("owner").await.context("the owner must still exist")?;
            let fins = o.metadata.finalizers.unwrap_or_default();
            ensure!(fins.contains(&"foregroundDeletion".to_string()), "owner finalizers: {fins:?}");
            cx.by("releasing the dependent");
            let p = json!({"metadata": {"finalizers": null}});
            cms.patch("held", &PatchParams::default(), &Patch::Merge(&p)).await?;
            f.wait_for_deleted(&cms, "held").await?;
            f.wait_for_deleted(&cms, "owner").await?;
            Ok(())
        },
    )
    .conformance(ConformanceMeta {
        testname: "Garbage collector, foreground deletion",
        description: "Deleting an owner with propagationPolicy Foreground MUST keep the owner, with the foregroundDeletion finalizer, until its blocking dependents are deleted, then delete it.",
        release: "v1.9",
    });

    s.it("should orphan dependents when asked to", |cx| async move {
        let f = cx.framework()?;
        let cms = f.api::<ConfigMap>();
        let owner = cms.create(&PostParams::default(), &cm("owner", json!({}))?).await?;
        cms.create(&PostParams::default(), &owned_by(&owner, "orphan", false)?).await?;
        cms.delete("owner", &DeleteParams::orphan()).await?;
        f.wait_for_deleted(&cms, "owner").await?;
        eventually("the orphan to lose its owner reference", || async {
            let d = cms.get("orphan").await?;
            ensure!(d.metadata.owner_references.unwrap_or_default().is_empty(), "still owned");
            Ok(())
        })
        .timeout(Duration::from_secs(60))
        .within(&cx)
        .await?;
        consistently("the orphan to survive", || async {
            cms.get("orphan").await?;
            Ok(())
        })
        .duration(Duration::from_secs(2))
        .within(&cx)
        .await?;
        Ok(())
    })
    .conformance(ConformanceMeta {
        testname: "Garbage collector, orphan",
        description: "Deleting an owner with propagationPolicy Orphan MUST leave its dependents in place, without the owner reference.",
        release: "v1.9",
    });

    s.it(
        "should keep an object with a finalizer until the finalizer is removed",
        |cx| async move {
            let f = cx.framework()?;
            let cms = f.api::<ConfigMap>();
            let c: ConfigMap = object(json!({"metadata": {"name": "fin", "finalizers": ["conformance.kube-e2e.io/hold"]}}))?;
            cms.create(&PostParams::default(), &c).await?;
            cms.delete("fin", &DeleteParams::default()).await?;
            let d = cms.get("fin").await.context("the object must survive its delete")?;
            ensure!(d.metadata.deletion_timestamp.is_some(), "no deletionTimestamp");
            let p = json!({"metadata": {"finalizers": null}});
            cms.patch("fin", &PatchParams::default(), &Patch::Merge(&p)).await?;
            f.wait_for_deleted(&cms, "fin").await?;
            Ok(())
        },
    )
    .conformance(ConformanceMeta {
        testname: "Finalizers",
        description: "A deleted object with a finalizer MUST remain, with a deletionTimestamp, until the finalizer is removed, and MUST then be deleted.",
        release: "v1.34",
    });
}

fn discovery(s: &mut Container) {
    s.it(
        "should serve the core group and the GA API groups",
        |cx| async move {
            let f = cx.framework()?;
            let core = f.client().list_core_api_versions().await?;
            ensure!(core.versions.contains(&"v1".to_string()), "core versions {:?}", core.versions);
            let groups = f.client().list_api_groups().await?;
            let names: Vec<&str> = groups.groups.iter().map(|g| g.name.as_str()).collect();
            for g in ["apps", "batch", "coordination.k8s.io", "events.k8s.io", "apiextensions.k8s.io", "rbac.authorization.k8s.io"] {
                ensure!(names.contains(&g), "group {g} missing from {names:?}");
            }
            let apps = groups.groups.iter().find(|g| g.name == "apps").context("apps")?;
            expect(apps.preferred_version.as_ref().map(|v| v.version.clone()))
                .to_equal(Some("v1".to_string()))?;
            Ok(())
        },
    )
    .conformance(ConformanceMeta {
        testname: "Discovery, API groups",
        description: "The discovery endpoints MUST list core v1 and the GA groups apps, batch, coordination.k8s.io, events.k8s.io, apiextensions.k8s.io and rbac.authorization.k8s.io, with v1 preferred for apps.",
        release: "v1.19",
    });

    s.it(
        "should describe core resources with their verbs and scope",
        |cx| async move {
            let f = cx.framework()?;
            let list = f.client().list_core_api_resources("v1").await?;
            let find = |n: &str| list.resources.iter().find(|r| r.name == n).cloned();
            let cms = find("configmaps").context("configmaps missing")?;
            ensure!(cms.namespaced, "configmaps must be namespaced");
            for v in ["create", "delete", "get", "list", "patch", "update", "watch"] {
                ensure!(cms.verbs.contains(&v.to_string()), "configmaps verbs {:?} lack {v}", cms.verbs);
            }
            let nss = find("namespaces").context("namespaces missing")?;
            ensure!(!nss.namespaced, "namespaces must be cluster-scoped");
            ensure!(find("pods/log").is_some(), "pods/log subresource missing");
            Ok(())
        },
    )
    .conformance(ConformanceMeta {
        testname: "Discovery, core resources",
        description: "The core v1 resource list MUST describe configmaps as namespaced with the standard verbs, namespaces as cluster-scoped, and the pods/log subresource.",
        release: "v1.19",
    });

    s.it("should report the server version", |cx| async move {
        let f = cx.framework()?;
        let v = f.client().apiserver_version().await?;
        ensure!(v.major.parse::<u32>().is_ok(), "major `{}`", v.major);
        ensure!(v.git_version.starts_with('v'), "gitVersion `{}`", v.git_version);
        Ok(())
    })
    .conformance(ConformanceMeta {
        testname: "Discovery, server version",
        description: "The /version endpoint MUST report a numeric major version and a gitVersion starting with v.",
        release: "v1.19",
    });
}

fn api_machinery(s: &mut Container) {
    s.describe("Namespaces", |s| {
        s.framework("namespaces");
        namespaces(s);
    });
    s.describe("ConfigMap", |s| {
        s.framework("configmap");
        config_maps(s);
    });
    s.describe("Secrets", |s| {
        s.framework("secrets");
        secrets(s);
    });
    s.describe("Lease", |s| {
        s.framework("lease");
        leases(s);
    });
    s.describe("Events", |s| {
        s.framework("events");
        events(s);
    });
    s.describe("CustomResourceDefinition", |s| {
        s.framework("crd");
        crds(s);
    });
    s.describe("Selectors", |s| {
        s.framework("selectors");
        selectors(s);
    });
    s.describe("ServerSideApply and DryRun", |s| {
        s.framework("apply");
        apply_and_dry_run(s);
    });
    s.describe("Garbage collector", |s| {
        s.framework("gc");
        garbage_collection(s);
    });
    s.describe("Discovery", |s| {
        s.framework("discovery");
        discovery(s);
    });
}

/// Registers the `[sig-api-machinery]` specs.
pub fn specs(s: &mut Container) {
    s.tagged(sig("api-machinery"), api_machinery);
}
