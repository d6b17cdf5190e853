//! Cluster DNS answers as a Kubernetes cluster's must, asked from an agnhost pod with `dig`:
//! a Service's name, a headless Service's pod records, an ExternalName's CNAME, and a pod's
//! search path and resolver settings. Needs the local cluster with its real node (root).

mod support;

use k8s_openapi::api::core::v1::{Pod, Service};
use kube::Api;
use kube::api::{AttachParams, PostParams};
use serde_json::json;
use support::pods::{drop_namespace, namespace, phase_of, pod};
use support::{client, eventually};

const AGNHOST: &str = "registry.k8s.io/e2e-test-images/agnhost:2.56";

/// Runs `sh -c script` in the `client` pod; its stdout.
async fn run(pods: &Api<Pod>, script: &str) -> Result<String, String> {
    let mut attached = pods
        .exec("client", ["sh", "-c", script], &AttachParams::default())
        .await
        .map_err(|e| e.to_string())?;
    let mut stdout = attached.stdout().ok_or("no stdout")?;
    let mut output = String::new();
    tokio::io::AsyncReadExt::read_to_string(&mut stdout, &mut output)
        .await
        .map_err(|e| e.to_string())?;
    attached.join().await.map_err(|e| e.to_string())?;
    Ok(output.trim().to_string())
}

/// Asks `script` until its output is `wanted` (DNS records follow objects within moments).
async fn answers(pods: &Api<Pod>, script: &str, wanted: &str) {
    eventually(&format!("`{script}` to answer `{wanted}`"), 60, || async {
        let got = run(pods, script).await?;
        if got == wanted {
            Ok(Some(()))
        } else {
            Err(format!("answered `{got}`"))
        }
    })
    .await;
}

#[tokio::test]
async fn cluster_dns_serves_services_pods_external_names_and_the_search_path() {
    let client = client().await;
    let ns = namespace(&client, "dns").await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), &ns);
    let services: Api<Service> = Api::namespaced(client.clone(), &ns);
    let make = |spec| async {
        services
            .create(
                &PostParams::default(),
                &serde_json::from_value(spec).unwrap(),
            )
            .await
            .unwrap()
    };
    let web = make(
        json!({"metadata": {"name": "web"}, "spec": {"selector": {"app": "member"},
        "ports": [{"port": 80, "targetPort": 8080}]}}),
    )
    .await;
    let cluster_ip = web.spec.unwrap().cluster_ip.unwrap();
    make(
        json!({"metadata": {"name": "crew"}, "spec": {"clusterIP": "None",
        "selector": {"app": "member"}, "ports": [{"port": 80, "targetPort": 8080}]}}),
    )
    .await;
    make(
        json!({"metadata": {"name": "ext"}, "spec": {"type": "ExternalName",
        "externalName": "elsewhere.example.invalid"}}),
    )
    .await;
    let member = json!({"hostname": "first", "subdomain": "crew",
        "containers": [{"name": "server", "image": AGNHOST,
                        "args": ["netexec", "--http-port=8080"],
                        "readinessProbe": {"httpGet": {"path": "/healthz", "port": 8080},
                                           "periodSeconds": 1}}]});
    pods.create(&PostParams::default(), &pod("member", member))
        .await
        .unwrap();
    let client_pod =
        json!({"containers": [{"name": "client", "image": AGNHOST, "args": ["pause"]}]});
    pods.create(&PostParams::default(), &pod("client", client_pod))
        .await
        .unwrap();
    phase_of(&pods, "client", "Running", 120).await;
    let member = phase_of(&pods, "member", "Running", 120).await;
    let member_ip = member.status.unwrap().pod_ip.unwrap();

    let domain = format!("{ns}.svc.cluster.local");
    answers(&pods, &format!("dig +short web.{domain}"), &cluster_ip).await;
    answers(
        &pods,
        &format!("dig +short first.crew.{domain}"),
        &member_ip,
    )
    .await;
    // A headless Service's own name gives its ready pods' addresses.
    answers(&pods, &format!("dig +short crew.{domain}"), &member_ip).await;
    answers(
        &pods,
        &format!("dig +short CNAME ext.{domain}"),
        "elsewhere.example.invalid.",
    )
    .await;
    // The pod's resolver: the cluster's DNS, its namespace's search path, ndots 5.
    let resolv = run(&pods, "cat /etc/resolv.conf").await.unwrap();
    for wanted in [
        "nameserver 10.0.0.10".to_string(),
        format!("search {ns}.svc.cluster.local svc.cluster.local cluster.local"),
        "options ndots:5".to_string(),
    ] {
        assert!(resolv.contains(&wanted), "`{wanted}` not in:\n{resolv}");
    }
    answers(&pods, "dig +search +short web", &cluster_ip).await;
    answers(&pods, "dig +search +short web.svc", "").await;
    answers(&pods, &format!("dig +search +short web.{ns}"), &cluster_ip).await;
    // A name outside the cluster is not its business: NXDOMAIN from the cluster domain.
    answers(
        &pods,
        "dig +short nothing-here.svc.cluster.local; echo status=$(dig nothing-here.default.svc.cluster.local | grep -o 'status: [A-Z]*')",
        "status=status: NXDOMAIN",
    )
    .await;
    // Upstream's DNS query image answers the same, with `getent` (libc's resolver) too.
    let jessie = json!({"restartPolicy": "Never", "containers": [{"name": "q",
        "image": "registry.k8s.io/e2e-test-images/jessie-dnsutils:1.7",
        "command": ["sh", "-c", "dig +short +search web; getent hosts web | cut -d' ' -f1"]}]});
    pods.create(&PostParams::default(), &pod("jessie", jessie))
        .await
        .unwrap();
    phase_of(&pods, "jessie", "Succeeded", 120).await;
    let logs = pods
        .logs("jessie", &kube::api::LogParams::default())
        .await
        .unwrap();
    assert_eq!(
        logs.lines().collect::<Vec<_>>(),
        vec![cluster_ip.as_str(), cluster_ip.as_str()],
        "{logs}"
    );
    drop_namespace(&client, &ns).await;
}
