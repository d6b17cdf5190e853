//! The local cluster's control plane behaves like a real cluster. Needs the local cluster
//! (started on first use, or the one `kube-e2e-cluster run` started).

mod support;

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::authentication::v1::TokenRequest;
use k8s_openapi::api::core::v1::{
    ConfigMap, Namespace, PersistentVolume, PersistentVolumeClaim, Pod, ServiceAccount,
};
use kube::api::{DeleteParams, ListParams, PostParams};
use kube::{Api, Client};
use serde_json::json;
use support::{client, eventually, unique};

async fn create_namespace(client: &Client, base: &str) -> String {
    let name = unique(base);
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let ns: Namespace = serde_json::from_value(json!({"metadata": {"name": name}})).unwrap();
    namespaces
        .create(&PostParams::default(), &ns)
        .await
        .unwrap();
    name
}

async fn delete_namespace(client: &Client, name: &str) {
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let _ = namespaces.delete(name, &DeleteParams::default()).await;
}

#[tokio::test]
async fn a_namespace_gets_its_service_account_and_root_ca_and_deletion_finalizes() {
    let client = client().await;
    let ns = create_namespace(&client, "lc-ns").await;
    let accounts: Api<ServiceAccount> = Api::namespaced(client.clone(), &ns);
    eventually("the default ServiceAccount", 60, || async {
        accounts.get_opt("default").await.map_err(|e| e.to_string())
    })
    .await;
    let maps: Api<ConfigMap> = Api::namespaced(client.clone(), &ns);
    let root_ca = eventually("kube-root-ca.crt", 60, || async {
        maps.get_opt("kube-root-ca.crt")
            .await
            .map_err(|e| e.to_string())
    })
    .await;
    let data = root_ca.data.unwrap_or_default();
    assert!(
        data.get("ca.crt")
            .is_some_and(|c| c.contains("BEGIN CERTIFICATE")),
        "kube-root-ca.crt must carry the cluster CA"
    );

    maps.create(
        &PostParams::default(),
        &serde_json::from_value(json!({"metadata": {"name": "payload"}, "data": {"k": "v"}}))
            .unwrap(),
    )
    .await
    .unwrap();
    delete_namespace(&client, &ns).await;
    let namespaces: Api<Namespace> = Api::all(client.clone());
    eventually("the namespace to be finalized and gone", 90, || async {
        match namespaces.get_opt(&ns).await {
            Ok(None) => Ok(Some(())),
            Ok(Some(n)) => Err(format!("phase {:?}", n.status.and_then(|s| s.phase))),
            Err(e) => Err(e.to_string()),
        }
    })
    .await;
}

#[tokio::test]
async fn a_deployment_runs_pods_on_simulated_nodes_and_deleting_it_collects_them() {
    let client = client().await;
    let ns = create_namespace(&client, "lc-deploy").await;
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), &ns);
    let deployment: Deployment = serde_json::from_value(json!({
        "metadata": {"name": "web"},
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {
                    "containers": [{"name": "web", "image": "busybox:1.37"}],
                    "nodeSelector": {"kube-e2e.io/simulated-node": "true"},
                    "tolerations": [{"key": "kube-e2e.io/simulated-node", "operator": "Exists"}]
                }
            }
        }
    }))
    .unwrap();
    deployments
        .create(&PostParams::default(), &deployment)
        .await
        .unwrap();

    let pods: Api<Pod> = Api::namespaced(client.clone(), &ns);
    let running = eventually("3 pods Running on simulated nodes", 90, || async {
        let list = pods
            .list(&ListParams::default().labels("app=web"))
            .await
            .map_err(|e| e.to_string())?;
        let running: Vec<Pod> = list
            .items
            .into_iter()
            .filter(|p| p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running"))
            .collect();
        Ok((running.len() == 3).then_some(running))
    })
    .await;
    for pod in &running {
        let node = pod
            .spec
            .as_ref()
            .and_then(|s| s.node_name.clone())
            .unwrap_or_default();
        assert!(
            node.starts_with("kwok-node-"),
            "pod bound to unexpected node `{node}`"
        );
        let owner = &pod.metadata.owner_references.as_ref().unwrap()[0];
        assert_eq!(owner.kind, "ReplicaSet", "pods are owned by the ReplicaSet");
    }
    let sets: Api<ReplicaSet> = Api::namespaced(client.clone(), &ns);
    assert_eq!(
        sets.list(&ListParams::default()).await.unwrap().items.len(),
        1
    );

    deployments
        .delete("web", &DeleteParams::background())
        .await
        .unwrap();
    eventually(
        "the garbage collector to remove ReplicaSet and pods",
        90,
        || async {
            let sets_left = sets
                .list(&ListParams::default())
                .await
                .map_err(|e| e.to_string())?
                .items
                .len();
            let pods_left = pods
                .list(&ListParams::default())
                .await
                .map_err(|e| e.to_string())?
                .items
                .len();
            if sets_left == 0 && pods_left == 0 {
                Ok(Some(()))
            } else {
                Err(format!(
                    "{sets_left} ReplicaSet(s) and {pods_left} pod(s) left"
                ))
            }
        },
    )
    .await;
    delete_namespace(&client, &ns).await;
}

#[tokio::test]
async fn a_claim_binds_to_a_matching_pre_created_volume() {
    let client = client().await;
    let ns = create_namespace(&client, "lc-pvc").await;
    let pv_name = unique("lc-pv");
    let volumes: Api<PersistentVolume> = Api::all(client.clone());
    let class = unique("lc-manual");
    let pv: PersistentVolume = serde_json::from_value(json!({
        "metadata": {"name": pv_name},
        "spec": {
            "capacity": {"storage": "1Gi"},
            "accessModes": ["ReadWriteOnce"],
            "storageClassName": class,
            "persistentVolumeReclaimPolicy": "Delete",
            "hostPath": {"path": "/tmp/kube-e2e-never-mounted"}
        }
    }))
    .unwrap();
    volumes.create(&PostParams::default(), &pv).await.unwrap();
    let claims: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), &ns);
    let claim: PersistentVolumeClaim = serde_json::from_value(json!({
        "metadata": {"name": "data"},
        "spec": {
            "accessModes": ["ReadWriteOnce"],
            "storageClassName": class,
            "resources": {"requests": {"storage": "500Mi"}}
        }
    }))
    .unwrap();
    claims.create(&PostParams::default(), &claim).await.unwrap();
    let bound = eventually("the claim to be Bound", 90, || async {
        let claim = claims.get("data").await.map_err(|e| e.to_string())?;
        let phase = claim.status.as_ref().and_then(|s| s.phase.clone());
        Ok((phase.as_deref() == Some("Bound")).then_some(claim))
    })
    .await;
    assert_eq!(
        bound.spec.unwrap().volume_name.as_deref(),
        Some(pv_name.as_str())
    );
    delete_namespace(&client, &ns).await;
    let _ = volumes.delete(&pv_name, &DeleteParams::default()).await;
}

#[tokio::test]
async fn a_service_account_without_rights_is_forbidden() {
    let client = client().await;
    let ns = create_namespace(&client, "lc-rbac").await;
    let accounts: Api<ServiceAccount> = Api::namespaced(client.clone(), &ns);
    let account: ServiceAccount =
        serde_json::from_value(json!({"metadata": {"name": "nobody"}})).unwrap();
    accounts
        .create(&PostParams::default(), &account)
        .await
        .unwrap();
    let request: TokenRequest =
        serde_json::from_value(json!({"spec": {"audiences": [], "expirationSeconds": 600}}))
            .unwrap();
    let token = accounts
        .create_token_request("nobody", &PostParams::default(), &request)
        .await
        .unwrap()
        .status
        .unwrap()
        .token;

    let mut config = kube::Config::from_custom_kubeconfig(
        kube::config::Kubeconfig::read_from(support::kubeconfig()).unwrap(),
        &Default::default(),
    )
    .await
    .unwrap();
    config.auth_info = kube::config::AuthInfo {
        token: Some(token.into()),
        ..Default::default()
    };
    let restricted = Client::try_from(config).unwrap();
    let secrets: Api<k8s_openapi::api::core::v1::Secret> = Api::namespaced(restricted.clone(), &ns);
    match secrets.list(&ListParams::default()).await {
        Err(kube::Error::Api(status)) => {
            assert_eq!(status.code, 403, "expected Forbidden, got {status:?}");
            assert!(
                status
                    .message
                    .contains(&format!("system:serviceaccount:{ns}:nobody")),
                "the denial names the service account: {}",
                status.message
            );
        }
        other => panic!("listing secrets without rights must be forbidden, got {other:?}"),
    }
    // The token itself is valid: the API server authenticated it (403, not 401).
    let namespaces: Api<Namespace> = Api::all(restricted);
    let error = namespaces.get(&ns).await.unwrap_err();
    assert!(
        matches!(error, kube::Error::Api(ref s) if s.code == 403),
        "{error:?}"
    );
    delete_namespace(&client, &ns).await;
}
