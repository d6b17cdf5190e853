//! The control plane reaches pods, and upstream's agnhost image works as upstream's tests use
//! it: a validating and a mutating admission webhook served by an agnhost pod refuse and change
//! ConfigMaps, an aggregated API served by a pod answers through the API server, and the
//! image carries the tools and users upstream's image has. Needs the local cluster with its
//! real node (root).

mod support;

use base64::Engine as _;
use k8s_openapi::api::admissionregistration::v1::{
    MutatingWebhookConfiguration, ValidatingWebhookConfiguration,
};
use k8s_openapi::api::core::v1::{ConfigMap, Pod, Secret, Service};
use k8s_openapi::kube_aggregator::pkg::apis::apiregistration::v1::APIService;
use kube::api::{DeleteParams, LogParams, PostParams};
use kube::{Api, Client};
use kube_e2e_cluster::control_plane::pki::Authority;
use serde_json::{Value, json};
use support::pods::{drop_namespace, namespace, phase_of, pod};
use support::{client, eventually};

const AGNHOST: &str = "registry.k8s.io/e2e-test-images/agnhost:2.56";

fn agnhost(name: &str, args: &[&str]) -> Value {
    json!({"name": name, "image": AGNHOST, "args": args})
}

/// A CA and a serving certificate for `dns_name` signed by it: (CA PEM, cert PEM, key PEM).
fn serving_pair(dns_name: &str) -> (String, String, String) {
    let ca = Authority::generate().unwrap();
    let served = ca.sign_server(dns_name, &[dns_name.to_string()]).unwrap();
    (ca.certified_key().cert_pem, served.cert_pem, served.key_pem)
}

/// Creates Secret `certs`, a pod `name` running agnhost with `args` that mounts it at `/certs`
/// and listens on `port`, and Service `name` (port 443 to `port`); waits for the pod to run.
async fn serve(
    client: &Client,
    ns: &str,
    name: &str,
    args: &[&str],
    port: u16,
    pair: (&str, &str),
) {
    let secrets: Api<Secret> = Api::namespaced(client.clone(), ns);
    let secret = json!({"metadata": {"name": format!("{name}-certs")},
        "stringData": {"tls.crt": pair.0, "tls.key": pair.1}});
    secrets
        .create(
            &PostParams::default(),
            &serde_json::from_value(secret).unwrap(),
        )
        .await
        .unwrap();
    let mut container = agnhost("server", args);
    container["volumeMounts"] = json!([{"name": "certs", "mountPath": "/certs", "readOnly": true}]);
    container["readinessProbe"] = json!({"tcpSocket": {"port": port}, "periodSeconds": 1});
    let spec = json!({"containers": [container],
        "volumes": [{"name": "certs", "secret": {"secretName": format!("{name}-certs")}}]});
    let pods: Api<Pod> = Api::namespaced(client.clone(), ns);
    pods.create(&PostParams::default(), &pod(name, spec))
        .await
        .unwrap();
    phase_of(&pods, name, "Running", 120).await;
    let services: Api<Service> = Api::namespaced(client.clone(), ns);
    let service = json!({"metadata": {"name": name}, "spec": {"selector": {"app": name},
        "ports": [{"port": 443, "targetPort": port}]}});
    services
        .create(
            &PostParams::default(),
            &serde_json::from_value(service).unwrap(),
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn the_agnhost_image_has_upstreams_tools_and_users() {
    let client = client().await;
    let ns = namespace(&client, "agnhost-tools").await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), &ns);
    let script = "/agnhost --version; /agnhost-2 --version; curl --version | head -n1; \
                  dig -v 2>&1; nslookup -version 2>&1 | head -n1; nc -h 2>&1 | head -n1; \
                  ip -V; bash -c 'echo bash $BASH_VERSION'; id user-defined-in-image; \
                  test -d /uploads && test -s /localhost.crt && echo files ok; /coredns -version; echo getent=$(getent hosts tools | cut -d' ' -f1)";
    let mut container = json!({"name": "tools", "image": AGNHOST, "command": ["sh", "-c", script]});
    container["imagePullPolicy"] = json!("Never");
    let spec = json!({"restartPolicy": "Never", "containers": [container]});
    pods.create(&PostParams::default(), &pod("tools", spec))
        .await
        .unwrap();
    phase_of(&pods, "tools", "Succeeded", 120).await;
    let logs = pods.logs("tools", &LogParams::default()).await.unwrap();
    for wanted in [
        "version 2.56",
        "curl ",
        "DiG 9.",
        "nslookup 9.",
        "OpenBSD netcat",
        "iproute2",
        "bash 5.",
        "uid=1000(user-defined-in-image)",
        "groups=1000(user-defined-in-image),50000(group-defined-in-image)",
        "files ok",
        "CoreDNS-1.12.1",
    ] {
        assert!(logs.contains(wanted), "`{wanted}` missing from:\n{logs}");
    }
    assert_eq!(logs.matches("version 2.56").count(), 2, "{logs}");
    // `getent` reads the pod's own /etc/hosts entry (kubelet writes it), as upstream's DNS
    // specs do.
    let tools = pods.get("tools").await.unwrap();
    let ip = tools.status.unwrap().pod_ip.unwrap();
    assert!(logs.contains(&format!("getent={ip}")), "{logs}");
    drop_namespace(&client, &ns).await;
}

#[tokio::test]
async fn admission_webhooks_served_by_a_pod_refuse_and_change_objects() {
    let client = client().await;
    let ns = namespace(&client, "webhooks").await;
    let (ca, cert, key) = serving_pair(&format!("webhook.{ns}.svc"));
    serve(
        &client,
        &ns,
        "webhook",
        &[
            "webhook",
            "--tls-cert-file=/certs/tls.crt",
            "--tls-private-key-file=/certs/tls.key",
            "--port=8443",
        ],
        8443,
        (&cert, &key),
    )
    .await;
    let hook = |path: &str, name: &str| {
        json!({
            "name": format!("{name}.{ns}.kube-e2e.io"),
            "clientConfig": {
                "service": {"namespace": ns, "name": "webhook", "path": path, "port": 443},
                "caBundle": base64::engine::general_purpose::STANDARD.encode(&ca),
            },
            "rules": [{"operations": ["CREATE", "UPDATE"], "apiGroups": [""],
                       "apiVersions": ["v1"], "resources": ["configmaps"]}],
            // Only this test's namespace: other tests never meet these webhooks.
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": ns}},
            "sideEffects": "None",
            "admissionReviewVersions": ["v1"],
            "failurePolicy": "Fail",
            "timeoutSeconds": 10,
        })
    };
    let validating: Api<ValidatingWebhookConfiguration> = Api::all(client.clone());
    let mutating: Api<MutatingWebhookConfiguration> = Api::all(client.clone());
    let config_name = format!("kube-e2e-{ns}");
    validating
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": config_name},
                "webhooks": [hook("/configmaps", "deny")]}))
            .unwrap(),
        )
        .await
        .unwrap();
    mutating
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": config_name},
                "webhooks": [hook("/mutating-configmaps", "mutate")]}))
            .unwrap(),
        )
        .await
        .unwrap();

    let maps: Api<ConfigMap> = Api::namespaced(client.clone(), &ns);
    let outcome = async {
        // A webhook configuration takes effect moments after its creation.
        let refusal = eventually("the validating webhook to refuse a ConfigMap", 60, || {
            let maps = maps.clone();
            async move {
                let map = json!({"metadata": {"generateName": "refused-"},
                    "data": {"webhook-e2e-test": "webhook-disallow"}});
                match maps
                    .create(
                        &PostParams::default(),
                        &serde_json::from_value(map).unwrap(),
                    )
                    .await
                {
                    Ok(made) => {
                        let _ = maps
                            .delete(&made.metadata.name.unwrap(), &DeleteParams::default())
                            .await;
                        Ok(None)
                    }
                    Err(kube::Error::Api(status)) if status.code == 400 => Ok(Some(status.message)),
                    Err(e) => Err(e.to_string()),
                }
            }
        })
        .await;
        assert!(
            refusal.contains("the configmap contains unwanted key and value"),
            "{refusal}"
        );
        let map = json!({"metadata": {"name": "mutated"}, "data": {"mutation-start": "yes"}});
        let made = maps
            .create(
                &PostParams::default(),
                &serde_json::from_value(map).unwrap(),
            )
            .await
            .unwrap();
        let data = made.data.unwrap_or_default();
        assert_eq!(
            data.get("mutation-stage-1").map(String::as_str),
            Some("yes"),
            "the mutating webhook added its key: {data:?}"
        );
        let plain = json!({"metadata": {"name": "plain"}, "data": {"a": "b"}});
        let plain = maps
            .create(
                &PostParams::default(),
                &serde_json::from_value(plain).unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(plain.data.unwrap_or_default().len(), 1);
    };
    let result = futures::FutureExt::catch_unwind(std::panic::AssertUnwindSafe(outcome)).await;
    let _ = validating
        .delete(&config_name, &DeleteParams::default())
        .await;
    let _ = mutating
        .delete(&config_name, &DeleteParams::default())
        .await;
    drop_namespace(&client, &ns).await;
    if let Err(panic) = result {
        std::panic::resume_unwind(panic);
    }
}

#[tokio::test]
async fn an_aggregated_api_served_by_a_pod_answers_through_the_api_server() {
    let client = client().await;
    let ns = namespace(&client, "aggregated").await;
    // Unique per run, so concurrent runs never share an APIService.
    let group = format!("{ns}.kube-e2e.io");
    let discovery = json!({"kind": "APIResourceList", "apiVersion": "v1",
        "groupVersion": format!("{group}/v1"), "resources": []})
    .to_string();
    let (_, cert, key) = serving_pair("localhost");
    let env_name = "SERVE_TLS_PORT_8443";
    let mut container = agnhost("server", &["porter"]);
    container["env"] = json!([
        {"name": env_name, "value": discovery},
        {"name": "CERT_FILE", "value": "/certs/tls.crt"},
        {"name": "KEY_FILE", "value": "/certs/tls.key"},
    ]);
    let secrets: Api<Secret> = Api::namespaced(client.clone(), &ns);
    let secret =
        json!({"metadata": {"name": "certs"}, "stringData": {"tls.crt": cert, "tls.key": key}});
    secrets
        .create(
            &PostParams::default(),
            &serde_json::from_value(secret).unwrap(),
        )
        .await
        .unwrap();
    container["volumeMounts"] = json!([{"name": "certs", "mountPath": "/certs"}]);
    let spec = json!({"containers": [container],
        "volumes": [{"name": "certs", "secret": {"secretName": "certs"}}]});
    let pods: Api<Pod> = Api::namespaced(client.clone(), &ns);
    pods.create(&PostParams::default(), &pod("api", spec))
        .await
        .unwrap();
    phase_of(&pods, "api", "Running", 120).await;
    let services: Api<Service> = Api::namespaced(client.clone(), &ns);
    let service = json!({"metadata": {"name": "api"}, "spec": {"selector": {"app": "api"},
        "ports": [{"port": 443, "targetPort": 8443}]}});
    services
        .create(
            &PostParams::default(),
            &serde_json::from_value(service).unwrap(),
        )
        .await
        .unwrap();

    let api_services: Api<APIService> = Api::all(client.clone());
    let name = format!("v1.{group}");
    api_services
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": name}, "spec": {
                "group": group, "version": "v1",
                "service": {"namespace": ns, "name": "api", "port": 443},
                "insecureSkipTLSVerify": true,
                "groupPriorityMinimum": 100, "versionPriority": 10}}))
            .unwrap(),
        )
        .await
        .unwrap();
    let outcome = async {
        let path = format!("/apis/{group}/v1");
        let answer = eventually(
            "the aggregated API to answer through the API server",
            90,
            || {
                let (client, path, api_services, name) = (
                    client.clone(),
                    path.clone(),
                    api_services.clone(),
                    name.clone(),
                );
                async move {
                    let request = http::Request::get(&path).body(Vec::new()).unwrap();
                    match client.request_text(request).await {
                        Ok(text) => Ok(Some(text)),
                        Err(e) => {
                            let status = api_services
                                .get(&name)
                                .await
                                .ok()
                                .and_then(|s| s.status)
                                .and_then(|s| s.conditions)
                                .unwrap_or_default()
                                .into_iter()
                                .map(|c| {
                                    format!(
                                        "{}={} {}",
                                        c.type_,
                                        c.status,
                                        c.message.unwrap_or_default()
                                    )
                                })
                                .collect::<Vec<_>>();
                            Err(format!("{e}; APIService conditions {status:?}"))
                        }
                    }
                }
            },
        )
        .await;
        let answer: Value =
            serde_json::from_str(&answer).unwrap_or_else(|e| panic!("{e}: {answer}"));
        assert_eq!(answer["groupVersion"], format!("{group}/v1"), "{answer}");
        let available = api_services.get(&name).await.unwrap();
        let conditions = available
            .status
            .and_then(|s| s.conditions)
            .unwrap_or_default();
        assert!(
            conditions
                .iter()
                .any(|c| c.type_ == "Available" && c.status == "True"),
            "{conditions:?}"
        );
    };
    let result = futures::FutureExt::catch_unwind(std::panic::AssertUnwindSafe(outcome)).await;
    // The APIService goes before its namespace: an APIService whose server is gone breaks
    // discovery, and with it the deletion of every namespace.
    let _ = api_services.delete(&name, &DeleteParams::default()).await;
    drop_namespace(&client, &ns).await;
    if let Err(panic) = result {
        std::panic::resume_unwind(panic);
    }
}

#[tokio::test]
async fn upstreams_httpd_and_nginx_images_serve_their_pages() {
    let client = client().await;
    let ns = namespace(&client, "web-images").await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), &ns);
    let mut servers = Vec::new();
    for (name, image) in [
        ("httpd", "registry.k8s.io/e2e-test-images/httpd:2.4.38-4"),
        (
            "httpd-new",
            "registry.k8s.io/e2e-test-images/httpd:2.4.39-4",
        ),
        ("nginx", "registry.k8s.io/e2e-test-images/nginx:1.14-4"),
        ("nginx-new", "registry.k8s.io/e2e-test-images/nginx:1.15-4"),
    ] {
        // The images' own commands: no command or args given.
        let spec = json!({"containers": [{"name": "web", "image": image,
            "readinessProbe": {"httpGet": {"path": "/", "port": 80}, "periodSeconds": 1}}]});
        pods.create(&PostParams::default(), &pod(name, spec))
            .await
            .unwrap();
        servers.push(name);
    }
    let visitor = json!({"restartPolicy": "Never", "containers": [agnhost("visitor", &["pause"])]});
    pods.create(&PostParams::default(), &pod("visitor", visitor))
        .await
        .unwrap();
    phase_of(&pods, "visitor", "Running", 120).await;
    for name in servers {
        let running = phase_of(&pods, name, "Running", 120).await;
        let ip = running.status.unwrap().pod_ip.unwrap();
        let wanted = if name.starts_with("httpd") {
            "<h1>It works!</h1>"
        } else {
            "<h1>Welcome to nginx!</h1>"
        };
        let page = eventually(&format!("{name} to serve its page"), 60, || {
            let (pods, ip) = (pods.clone(), ip.clone());
            async move {
                let mut attached = pods
                    .exec(
                        "visitor",
                        ["curl", "-s", "--max-time", "3", &format!("http://{ip}/")],
                        &kube::api::AttachParams::default(),
                    )
                    .await
                    .map_err(|e| e.to_string())?;
                let mut stdout = attached.stdout().ok_or("no stdout")?;
                let mut out = String::new();
                tokio::io::AsyncReadExt::read_to_string(&mut stdout, &mut out)
                    .await
                    .map_err(|e| e.to_string())?;
                let _ = attached.join().await;
                Ok(out.contains(wanted).then_some(out))
            }
        })
        .await;
        assert!(page.contains(wanted), "{name}: {page}");
        // Their access logs go to the container's stdout, as upstream's images do.
        let logs = pods.logs(name, &LogParams::default()).await.unwrap();
        assert!(logs.contains("GET / HTTP/1.1"), "{name} logs:\n{logs}");
    }
    drop_namespace(&client, &ns).await;
}
