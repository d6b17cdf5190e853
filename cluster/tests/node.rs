//! The real node runs containers: commands, logs, exec, configuration, services, jobs,
//! restarts and volumes. Needs the local cluster with its real node (root).

mod support;

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{
    ConfigMap, PersistentVolume, PersistentVolumeClaim, Pod, Secret, Service,
};
use kube::Api;
use kube::api::{AttachParams, DeleteParams, LogParams, PostParams};
use serde_json::json;
use support::pods::{busybox, drop_namespace, namespace, phase_of, pod};
use support::{client, eventually, unique};

use support::pods::{BUSYBOX, NODE};

#[tokio::test]
async fn the_node_is_real_and_lists_the_local_busybox_image() {
    let client = client().await;
    let nodes: Api<k8s_openapi::api::core::v1::Node> = Api::all(client);
    let node = nodes
        .get_opt(NODE)
        .await
        .unwrap()
        .expect("the real node is registered (start the cluster with `--nodes real`)");
    let info = node
        .status
        .as_ref()
        .and_then(|s| s.node_info.clone())
        .unwrap();
    assert_eq!(info.kubelet_version, "v1.34.4");
    assert!(
        info.container_runtime_version.starts_with("containerd://"),
        "{info:?}"
    );
    let images: Vec<String> = node
        .status
        .and_then(|s| s.images)
        .unwrap_or_default()
        .into_iter()
        .flat_map(|i| i.names.unwrap_or_default())
        .collect();
    assert!(
        images.iter().any(|n| n == BUSYBOX),
        "{BUSYBOX} not in {images:?}"
    );
}

#[tokio::test]
async fn a_busybox_pod_runs_a_command_and_its_logs_and_exit_code_are_reported() {
    let client = client().await;
    let ns = namespace(&client, "node-cmd").await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), &ns);
    let spec = json!({"restartPolicy": "Never", "containers": [busybox("main", "echo hello from $(hostname); exit 3")]});
    pods.create(&PostParams::default(), &pod("cmd", spec))
        .await
        .unwrap();
    let done = phase_of(&pods, "cmd", "Failed", 120).await;
    let terminated = done.status.unwrap().container_statuses.unwrap()[0]
        .state
        .clone()
        .unwrap()
        .terminated
        .unwrap();
    assert_eq!(terminated.exit_code, 3);
    let logs = pods.logs("cmd", &LogParams::default()).await.unwrap();
    assert_eq!(logs.trim(), "hello from cmd");
    drop_namespace(&client, &ns).await;
}

#[tokio::test]
async fn exec_into_a_running_pod_returns_its_output() {
    let client = client().await;
    let ns = namespace(&client, "node-exec").await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), &ns);
    let spec = json!({"containers": [busybox("main", "echo ready; sleep 3600")]});
    pods.create(&PostParams::default(), &pod("exec", spec))
        .await
        .unwrap();
    phase_of(&pods, "exec", "Running", 120).await;
    let mut attached = pods
        .exec(
            "exec",
            ["sh", "-c", "echo out-$((6*7)); echo err >&2"],
            &AttachParams::default().stderr(true),
        )
        .await
        .unwrap();
    let mut stdout = attached.stdout().unwrap();
    let mut output = String::new();
    tokio::io::AsyncReadExt::read_to_string(&mut stdout, &mut output)
        .await
        .unwrap();
    attached.join().await.unwrap();
    assert_eq!(output, "out-42\n", "stderr is kept apart from stdout");
    drop_namespace(&client, &ns).await;
}

#[tokio::test]
async fn configuration_from_configmaps_secrets_and_volumes_is_visible_inside() {
    let client = client().await;
    let ns = namespace(&client, "node-config").await;
    let maps: Api<ConfigMap> = Api::namespaced(client.clone(), &ns);
    maps.create(
        &PostParams::default(),
        &serde_json::from_value(json!({"metadata": {"name": "settings"}, "data": {"color": "teal", "file.txt": "from-configmap-volume"}}))
            .unwrap(),
    )
    .await
    .unwrap();
    let secrets: Api<Secret> = Api::namespaced(client.clone(), &ns);
    secrets
        .create(
            &PostParams::default(),
            &serde_json::from_value(
                json!({"metadata": {"name": "creds"}, "stringData": {"password": "s3cr3t-value"}}),
            )
            .unwrap(),
        )
        .await
        .unwrap();
    let script = "echo color=$COLOR; echo password=$PASSWORD; cat /config/file.txt; echo; \
                  echo scratch > /scratch/x; cat /scratch/x";
    let mut container = busybox("main", script);
    container["env"] = json!([
        {"name": "COLOR", "valueFrom": {"configMapKeyRef": {"name": "settings", "key": "color"}}},
        {"name": "PASSWORD", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "password"}}}
    ]);
    container["volumeMounts"] = json!([
        {"name": "config", "mountPath": "/config"},
        {"name": "scratch", "mountPath": "/scratch"}
    ]);
    let spec = json!({
        "restartPolicy": "Never",
        "containers": [container],
        "volumes": [
            {"name": "config", "configMap": {"name": "settings"}},
            {"name": "scratch", "emptyDir": {}}
        ]
    });
    let pods: Api<Pod> = Api::namespaced(client.clone(), &ns);
    pods.create(&PostParams::default(), &pod("config", spec))
        .await
        .unwrap();
    phase_of(&pods, "config", "Succeeded", 120).await;
    let logs = pods.logs("config", &LogParams::default()).await.unwrap();
    let lines: Vec<&str> = logs.lines().collect();
    assert_eq!(
        lines,
        [
            "color=teal",
            "password=s3cr3t-value",
            "from-configmap-volume",
            "scratch"
        ],
        "{logs}"
    );
    drop_namespace(&client, &ns).await;
}

#[tokio::test]
async fn a_cluster_ip_service_reaches_an_httpd_pod_from_another_pod() {
    let client = client().await;
    let ns = namespace(&client, "node-svc").await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), &ns);
    let server = json!({"containers": [busybox(
        "httpd",
        "mkdir -p /www && echo served-by-$(hostname) > /www/index.html && exec httpd -f -p 8080 -h /www"
    )]});
    pods.create(&PostParams::default(), &pod("web", server))
        .await
        .unwrap();
    let services: Api<Service> = Api::namespaced(client.clone(), &ns);
    let service = services
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({
                "metadata": {"name": "web"},
                "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}]}
            }))
            .unwrap(),
        )
        .await
        .unwrap();
    let cluster_ip = service.spec.unwrap().cluster_ip.unwrap();
    phase_of(&pods, "web", "Running", 120).await;
    // Debian's static busybox 1.35 `wget` crashes on this VM (SIGSEGV even on the host), so
    // the client speaks HTTP through `nc`. Attempts before kube-proxy has programmed the Service
    // time out; their messages are dropped so that the log holds only the answer.
    let client_script = format!(
        "for i in $(seq 1 60); do \
           body=$(printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 2 {cluster_ip} 80 2>/dev/null | tail -n 1); \
           [ -n \"$body\" ] && echo \"$body\" && exit 0; sleep 1; done; exit 1"
    );
    let spec = json!({"restartPolicy": "Never", "containers": [busybox("client", &client_script)]});
    pods.create(&PostParams::default(), &pod("client", spec))
        .await
        .unwrap();
    let done = phase_of(&pods, "client", "Succeeded", 150).await;
    assert!(done.status.is_some());
    let logs = pods.logs("client", &LogParams::default()).await.unwrap();
    assert_eq!(
        logs.trim(),
        "served-by-web",
        "answer through {cluster_ip}: {logs}"
    );
    drop_namespace(&client, &ns).await;
}

#[tokio::test]
async fn a_job_completes_and_a_failing_container_is_restarted_by_policy() {
    let client = client().await;
    let ns = namespace(&client, "node-job").await;
    let jobs: Api<Job> = Api::namespaced(client.clone(), &ns);
    let job: Job = serde_json::from_value(json!({
        "metadata": {"name": "count"},
        "spec": {
            "completions": 2,
            "backoffLimit": 2,
            "template": {"spec": {
                "restartPolicy": "Never",
                "nodeName": NODE,
                "terminationGracePeriodSeconds": 1,
                "containers": [busybox("count", "echo counted")]
            }}
        }
    }))
    .unwrap();
    jobs.create(&PostParams::default(), &job).await.unwrap();
    eventually("job count to complete", 150, || async {
        let job = jobs.get("count").await.map_err(|e| e.to_string())?;
        let status = job.status.unwrap_or_default();
        let complete = status
            .conditions
            .unwrap_or_default()
            .iter()
            .any(|c| c.type_ == "Complete" && c.status == "True");
        if complete {
            Ok(Some(()))
        } else {
            Err(format!("succeeded {:?}", status.succeeded))
        }
    })
    .await;

    let pods: Api<Pod> = Api::namespaced(client.clone(), &ns);
    let spec = json!({"restartPolicy": "OnFailure", "containers": [busybox("flaky", "echo attempt; exit 1")]});
    pods.create(&PostParams::default(), &pod("flaky", spec))
        .await
        .unwrap();
    eventually("the failing container to be restarted", 150, || async {
        let pod = pods.get("flaky").await.map_err(|e| e.to_string())?;
        let restarts = pod
            .status
            .and_then(|s| s.container_statuses)
            .and_then(|c| c.first().map(|c| c.restart_count))
            .unwrap_or(0);
        Ok((restarts >= 1).then_some(()))
    })
    .await;
    let never = json!({"restartPolicy": "Never", "containers": [busybox("once", "exit 1")]});
    pods.create(&PostParams::default(), &pod("once", never))
        .await
        .unwrap();
    let failed = phase_of(&pods, "once", "Failed", 120).await;
    let restarts = failed.status.unwrap().container_statuses.unwrap()[0].restart_count;
    assert_eq!(restarts, 0, "restartPolicy Never must not restart");
    drop_namespace(&client, &ns).await;
}

#[tokio::test]
async fn data_on_a_host_path_volume_outlives_the_pod_that_wrote_it() {
    let client = client().await;
    let ns = namespace(&client, "node-pv").await;
    let pv_name = unique("node-pv");
    let class = unique("node-manual");
    let host_dir = format!("/tmp/kube-e2e-hostpath-{pv_name}");
    let volumes: Api<PersistentVolume> = Api::all(client.clone());
    volumes
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({
                "metadata": {"name": pv_name},
                "spec": {
                    "capacity": {"storage": "1Gi"},
                    "accessModes": ["ReadWriteOnce"],
                    "storageClassName": class,
                    "persistentVolumeReclaimPolicy": "Retain",
                    "hostPath": {"path": host_dir, "type": "DirectoryOrCreate"}
                }
            }))
            .unwrap(),
        )
        .await
        .unwrap();
    let claims: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), &ns);
    claims
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({
                "metadata": {"name": "data"},
                "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": class,
                         "resources": {"requests": {"storage": "100Mi"}}}
            }))
            .unwrap(),
        )
        .await
        .unwrap();
    let with_volume = |script: &str| {
        let mut container = busybox("main", script);
        container["volumeMounts"] = json!([{"name": "data", "mountPath": "/data"}]);
        json!({
            "restartPolicy": "Never",
            "containers": [container],
            "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "data"}}]
        })
    };
    let pods: Api<Pod> = Api::namespaced(client.clone(), &ns);
    pods.create(
        &PostParams::default(),
        &pod(
            "writer",
            with_volume("echo persisted-$RANDOM-ok > /data/file; cat /data/file"),
        ),
    )
    .await
    .unwrap();
    phase_of(&pods, "writer", "Succeeded", 120).await;
    let written = pods.logs("writer", &LogParams::default()).await.unwrap();
    pods.delete("writer", &DeleteParams::default())
        .await
        .unwrap();
    pods.create(
        &PostParams::default(),
        &pod("reader", with_volume("cat /data/file")),
    )
    .await
    .unwrap();
    phase_of(&pods, "reader", "Succeeded", 120).await;
    let read = pods.logs("reader", &LogParams::default()).await.unwrap();
    assert!(written.starts_with("persisted-"), "{written}");
    assert_eq!(read, written, "the second pod reads what the first wrote");
    drop_namespace(&client, &ns).await;
    let _ = volumes.delete(&pv_name, &DeleteParams::default()).await;
    let _ = std::fs::remove_dir_all(&host_dir);
}

#[tokio::test]
async fn environment_names_that_are_not_identifiers_reach_commands_run_by_sh() {
    // `envFrom` with a prefix makes names such as `p-data-1`; upstream's tests read them with
    // `sh -c env`. Debian's busybox shell would drop them; the image's `sh` (bash) keeps them.
    let client = client().await;
    let ns = namespace(&client, "node-env").await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), &ns);
    let mut container = busybox("main", "env; echo shell=$0");
    container["env"] = json!([
        {"name": "p-data-1", "value": "value-1"},
        {"name": "1st-key", "value": "value-2"},
        {"name": "plain", "value": "value-3"},
    ]);
    let spec = json!({"restartPolicy": "Never", "containers": [container]});
    pods.create(&PostParams::default(), &pod("env", spec))
        .await
        .unwrap();
    phase_of(&pods, "env", "Succeeded", 120).await;
    let logs = pods.logs("env", &LogParams::default()).await.unwrap();
    for wanted in [
        "p-data-1=value-1",
        "1st-key=value-2",
        "plain=value-3",
        "shell=sh",
    ] {
        assert!(
            logs.lines().any(|l| l == wanted),
            "`{wanted}` missing:\n{logs}"
        );
    }
    drop_namespace(&client, &ns).await;
}
