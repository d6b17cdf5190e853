//! A cluster of its own with two real nodes (`up --nodes real --real-nodes 2`): both become
//! Ready with their own pod ranges, a pod on one reaches a pod on the other at its own address
//! (and is seen at its own), a Service and cluster DNS work from both, and `down` leaves no
//! process, network namespace, link, route, cgroup or mount of either. Needs root.

mod support;

use std::process::Command;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{Namespace, Pod, Service};
use kube::Api;
use kube::api::{AttachParams, PostParams};
use kube_e2e_cluster::LocalCluster;
use kube_e2e_cluster::node::real::{cgroup_hierarchies, mounts_under};
use serde_json::json;
use support::pods::phase_of;
use support::{cli, eventually, processes_mentioning, text};

const AGNHOST: &str = "registry.k8s.io/e2e-test-images/agnhost:2.56";

/// Runs `sh -c script` in pod `name`; its stdout, trimmed.
async fn run(pods: &Api<Pod>, name: &str, script: &str) -> Result<String, String> {
    let mut attached = pods
        .exec(name, ["sh", "-c", script], &AttachParams::default())
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

/// Runs `script` in pod `name` until its output satisfies `ok`; the output.
async fn until(pods: &Api<Pod>, name: &str, script: &str, ok: impl Fn(&str) -> bool) -> String {
    eventually(&format!("`{script}` in {name}"), 60, || async {
        let got = run(pods, name, script).await?;
        if ok(&got) {
            Ok(Some(got))
        } else {
            Err(format!("answered `{got}`"))
        }
    })
    .await
}

fn route_to(cidr: &str) -> String {
    let out = Command::new("ip")
        .args(["-4", "route", "show", cidr])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn two_real_nodes_reach_each_other_and_down_removes_both() {
    let base = tempfile::tempdir().unwrap();
    let state_dir = base.path().join("two");
    let up = cli(&state_dir, &["up", "--nodes", "real", "--real-nodes", "2"]);
    assert!(
        up.status.success(),
        "up --real-nodes 2 failed: {}",
        text(&up)
    );
    let cluster = LocalCluster::load(&state_dir).unwrap().unwrap();
    let networks: Vec<_> = cluster.real_nodes().into_iter().cloned().collect();
    let outcome = async {
        assert_eq!(networks.len(), 2);
        assert_eq!(networks[0].name, "kube-e2e-node");
        assert_eq!(networks[1].name, "kube-e2e-node-2");
        assert_ne!(networks[0].pod_cidr, networks[1].pod_cidr);
        for n in &networks {
            assert!(
                route_to(&n.pod_cidr).contains(&format!("via {}", n.node_ip)),
                "the host routes {} to {}",
                n.pod_cidr,
                n.name
            );
        }
        let client = cluster.client().await.unwrap();
        let namespaces: Api<Namespace> = Api::all(client.clone());
        namespaces
            .create(
                &PostParams::default(),
                &serde_json::from_value(json!({"metadata": {"name": "two"}})).unwrap(),
            )
            .await
            .unwrap();
        let pods: Api<Pod> = Api::namespaced(client.clone(), "two");
        eventually("the default ServiceAccount", 60, || async {
            Api::<k8s_openapi::api::core::v1::ServiceAccount>::namespaced(client.clone(), "two")
                .get_opt("default")
                .await
                .map_err(|e| e.to_string())
        })
        .await;
        let on = |name: &str, node: &str, args: &[&str]| {
            serde_json::from_value::<Pod>(json!({
                "metadata": {"name": name, "labels": {"app": name}},
                "spec": {"nodeName": node, "terminationGracePeriodSeconds": 1,
                    "containers": [{"name": "main", "image": AGNHOST, "args": args}]}
            }))
            .unwrap()
        };
        let server = on(
            "server",
            &networks[1].name,
            &["netexec", "--http-port=8080"],
        );
        let visitor = on("visitor", &networks[0].name, &["pause"]);
        pods.create(&PostParams::default(), &server).await.unwrap();
        pods.create(&PostParams::default(), &visitor).await.unwrap();
        let server = phase_of(&pods, "server", "Running", 120).await;
        let visitor = phase_of(&pods, "visitor", "Running", 120).await;
        let server_ip = server.status.unwrap().pod_ip.unwrap();
        let visitor_ip = visitor.status.unwrap().pod_ip.unwrap();
        assert!(
            server_ip.starts_with(networks[1].pod_cidr.trim_end_matches("0/24")),
            "{server_ip} in {}",
            networks[1].pod_cidr
        );

        // Pod to pod across the nodes, each seen at its own address.
        until(
            &pods,
            "visitor",
            &format!("curl -s --max-time 3 http://{server_ip}:8080/hostname"),
            |out| out == "server",
        )
        .await;
        let seen = run(
            &pods,
            "visitor",
            &format!("curl -s --max-time 3 http://{server_ip}:8080/clientip"),
        )
        .await
        .unwrap();
        assert!(
            seen.starts_with(&format!("{visitor_ip}:")),
            "the server saw {seen}, not the visitor's own address {visitor_ip}"
        );
        // A Service on the other node, by name: cluster DNS (on the first node) answers a pod
        // on either.
        let services: Api<Service> = Api::namespaced(client.clone(), "two");
        services
            .create(
                &PostParams::default(),
                &serde_json::from_value(json!({"metadata": {"name": "web"}, "spec": {
                    "selector": {"app": "server"}, "ports": [{"port": 80, "targetPort": 8080}]}}))
                .unwrap(),
            )
            .await
            .unwrap();
        until(
            &pods,
            "visitor",
            "curl -s --max-time 3 http://web.two.svc.cluster.local/hostname",
            |out| out == "server",
        )
        .await;
        until(
            &pods,
            "server",
            "dig +short kubernetes.default.svc.cluster.local",
            |out| out == "10.0.0.1",
        )
        .await;
    };
    let result = futures::FutureExt::catch_unwind(std::panic::AssertUnwindSafe(outcome)).await;

    let down = cli(&state_dir, &["down"]);
    if let Err(panic) = result {
        std::panic::resume_unwind(panic);
    }
    assert!(down.status.success(), "{}", text(&down));
    let needle = state_dir.to_string_lossy().to_string();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !processes_mentioning(&needle).is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(processes_mentioning(&needle), Vec::<i32>::new());
    assert!(mounts_under(&state_dir).is_empty(), "mounts survived");
    let links = Command::new("ip")
        .args(["-o", "link", "show"])
        .output()
        .unwrap();
    let links = String::from_utf8_lossy(&links.stdout).to_string();
    for n in &networks {
        assert!(!n.netns_path().exists(), "{} survived", n.netns);
        assert!(
            !links.contains(&n.host_link),
            "veth {} survived",
            n.host_link
        );
        assert_eq!(
            route_to(&n.pod_cidr),
            "",
            "route to {} survived",
            n.pod_cidr
        );
        assert!(
            !n.cgroups_exist(),
            "cgroup {} survived in {:?}",
            n.cgroup_root,
            cgroup_hierarchies()
        );
    }
    assert!(!state_dir.exists(), "the state directory survived");
}
