//! Shared pieces of the conformance specs: busybox pods that pass the `restricted` pod-security
//! level, waiting for a pod to finish, logs, and objects from JSON.

use k8s_openapi::api::core::v1::{Pod, PodSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{LogParams, PostParams};
use kube_e2e::conditions::{Progress, wait_for};
use kube_e2e::pod::restrict;
use kube_e2e::prelude::*;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

/// Skips each spec of `s` at once, with the reason, when no node runs containers (a cluster of
/// kwok-simulated nodes only): their pods would never run. Call it after `s.framework(…)`.
pub fn needs_real_node(s: &mut Container) {
    s.before_each(|cx| async move { skip_unless_real_nodes(cx.framework()?.client(), 1).await });
}

/// Deserializes an object written as JSON.
pub fn object<K: DeserializeOwned>(value: Value) -> anyhow::Result<K> {
    serde_json::from_value(value).context("building an object from JSON")
}

/// A busybox container running `sh -c script`.
pub fn sh(f: &Framework, name: &str, script: &str) -> Value {
    json!({"name": name, "image": f.image(Image::Busybox), "command": ["sh", "-c", script]})
}

/// A pod named `name` with `spec` (containers and the rest), made acceptable to the
/// `restricted` pod-security level. Pods land on the real node: the simulated nodes are
/// tainted and these pods carry no toleration.
pub fn pod(name: &str, spec: Value) -> anyhow::Result<Pod> {
    let mut spec: PodSpec = object(spec)?;
    restrict(&mut spec);
    Ok(Pod {
        metadata: ObjectMeta {
            name: Some(name.into()),
            ..ObjectMeta::default()
        },
        spec: Some(spec),
        ..Pod::default()
    })
}

/// A pod with one busybox container running `script` once (`restartPolicy: Never`).
pub fn one_shot(f: &Framework, name: &str, script: &str) -> Pod {
    restricted_pod(name, f.image(Image::Busybox), ["sh", "-c", script])
        .restart_policy("Never")
        .build()
}

/// Creates `pod` and waits until it has finished (Succeeded or Failed); returns it.
pub async fn run_to_end(cx: &SpecContext, f: &Framework, pod: &Pod) -> anyhow::Result<Pod> {
    let name = pod.metadata.name.clone().unwrap_or_default();
    cx.by(format!("running pod `{name}` to its end"));
    f.api::<Pod>()
        .create(&PostParams::default(), pod)
        .await
        .with_context(|| format!("creating pod `{name}`"))?;
    let done = wait_for(
        &f.api::<Pod>(),
        &name,
        &format!("pod `{name}` to finish"),
        f.timeouts().pod_start,
        Some(cx.cancellation_token()),
        |p: Option<&Pod>| match p
            .and_then(|p| p.status.as_ref())
            .and_then(|s| s.phase.as_deref())
        {
            Some("Succeeded" | "Failed") => Progress::Done,
            other => Progress::Waiting(format!("phase is {}", other.unwrap_or("unknown"))),
        },
    )
    .await?;
    done.context("the pod disappeared")
}

/// The phase of a pod.
pub fn phase(pod: &Pod) -> &str {
    pod.status
        .as_ref()
        .and_then(|s| s.phase.as_deref())
        .unwrap_or("")
}

/// Creates `pod`, waits for it to succeed, and returns the log of its container `main`.
pub async fn output_of(cx: &SpecContext, f: &Framework, pod: &Pod) -> anyhow::Result<String> {
    let done = run_to_end(cx, f, pod).await?;
    let name = done.metadata.name.clone().unwrap_or_default();
    let log = logs(f, &name, "main").await?;
    ensure!(
        phase(&done) == "Succeeded",
        "pod `{name}` ended {}; its log:\n{log}",
        phase(&done)
    );
    Ok(log)
}

/// The log of `container` in pod `name`.
pub async fn logs(f: &Framework, name: &str, container: &str) -> anyhow::Result<String> {
    f.api::<Pod>()
        .logs(
            name,
            &LogParams {
                container: Some(container.into()),
                ..LogParams::default()
            },
        )
        .await
        .with_context(|| format!("reading the log of {name}/{container}"))
}

/// The state of container `container` of a pod.
pub fn terminated(
    pod: &Pod,
    container: &str,
) -> Option<k8s_openapi::api::core::v1::ContainerStateTerminated> {
    pod.status
        .as_ref()?
        .container_statuses
        .as_ref()?
        .iter()
        .find(|c| c.name == container)?
        .state
        .as_ref()?
        .terminated
        .clone()
}

/// Wait until the first container of pod `name` waits with `reason` (e.g. kubelet refusing to
/// create it with `CreateContainerConfigError`); `what` describes the condition.
pub async fn wait_for_waiting_reason(
    cx: &SpecContext,
    f: &Framework,
    name: &str,
    reason: &str,
    what: &str,
) -> anyhow::Result<()> {
    eventually(what, || async {
        let got = f.api::<Pod>().get(name).await?;
        let waiting = got
            .status
            .and_then(|s| s.container_statuses)
            .and_then(|c| c.first().and_then(|c| c.state.clone()))
            .and_then(|s| s.waiting)
            .and_then(|w| w.reason);
        ensure!(
            waiting.as_deref() == Some(reason),
            "waiting reason {waiting:?}"
        );
        Ok(())
    })
    .timeout(f.timeouts().pod_start_short)
    .within(cx)
    .await?;
    Ok(())
}
