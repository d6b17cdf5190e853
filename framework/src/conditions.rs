//! Ready-made Kubernetes conditions, awaited with a watch (not a poll loop).
//!
//! A check looks at the current object (`None` when it does not exist) and says
//! [`Progress::Done`], [`Progress::Waiting`] with what is still missing (the "last failure" of a
//! timeout), or [`Progress::Failed`] to stop at once (a pod that failed can never become
//! Running). [`wait_for`] runs any check; the [`Framework`] methods run the common ones in the
//! spec's namespace with the spec's timeouts and cancellation:
//!
//! ```no_run
//! # async fn run(f: &kube_e2e::Framework) -> anyhow::Result<()> {
//! f.wait_for_pod_running("web").await?;
//! f.wait_for_deployment_rollout("api").await?;
//! f.wait_for_pvc_bound("data").await?;
//! # Ok(()) }
//! ```

use crate::expect::eventually::WaitError;
use crate::framework::Framework;
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::Api;
use kube::runtime::{WatchStreamExt, watcher};
use serde::de::DeserializeOwned;
use std::fmt::Debug;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// Where an object stands with respect to a condition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress {
    /// The condition holds.
    Done,
    /// Not yet; the text says what is missing.
    Waiting(String),
    /// It can never hold; stop waiting.
    Failed(String),
}

/// Watches object `name` through `api` until `check` says [`Progress::Done`]; returns the object
/// as last seen (`None` if it does not exist, e.g. for "deleted").
///
/// # Errors
///
/// [`WaitError::TimedOut`] naming `description` and the last [`Progress::Waiting`] text;
/// [`WaitError::Stopped`] on [`Progress::Failed`]; [`WaitError::Cancelled`] when `token` fires.
pub async fn wait_for<K, C>(
    api: &Api<K>,
    name: &str,
    description: &str,
    timeout: Duration,
    token: Option<CancellationToken>,
    check: C,
) -> Result<Option<K>, WaitError>
where
    K: kube::Resource + Clone + DeserializeOwned + Debug + Send + 'static,
    C: Fn(Option<&K>) -> Progress,
{
    let started = Instant::now();
    let config = watcher::Config::default().fields(&format!("metadata.name={name}"));
    let mut events = watcher(api.clone(), config).default_backoff().boxed();
    let token = token.unwrap_or_default();
    let deadline = tokio::time::sleep(timeout);
    tokio::pin!(deadline);
    let mut last = String::from("(no state observed yet)");
    let mut init: Option<K> = None;
    let mut current: Option<K>;
    loop {
        let event = tokio::select! {
            e = events.try_next() => e,
            _ = &mut deadline => return Err(WaitError::TimedOut {
                description: description.to_string(),
                elapsed: started.elapsed(),
                last,
            }),
            _ = token.cancelled() => return Err(WaitError::Cancelled {
                description: description.to_string(),
                elapsed: started.elapsed(),
                last,
            }),
        };
        current = match event {
            Ok(Some(watcher::Event::Init)) => {
                init = None;
                continue;
            }
            Ok(Some(watcher::Event::InitApply(o))) => {
                init = Some(o);
                continue;
            }
            Ok(Some(watcher::Event::InitDone)) => init.take(),
            Ok(Some(watcher::Event::Apply(o))) => Some(o),
            Ok(Some(watcher::Event::Delete(_))) => None,
            Ok(None) => continue,
            Err(e) => {
                last = format!("watch error: {e}");
                continue;
            }
        };
        match check(current.as_ref()) {
            Progress::Done => return Ok(current),
            Progress::Waiting(why) => last = why,
            Progress::Failed(reason) => {
                return Err(WaitError::Stopped {
                    description: description.to_string(),
                    elapsed: started.elapsed(),
                    reason,
                });
            }
        }
    }
}

fn missing() -> Progress {
    Progress::Waiting("the object does not exist".into())
}

fn pod_phase(pod: &Pod) -> &str {
    pod.status
        .as_ref()
        .and_then(|s| s.phase.as_deref())
        .unwrap_or("Unknown")
}

/// The pod's phase is Running (Succeeded and Failed are final: stop).
pub fn pod_running(pod: Option<&Pod>) -> Progress {
    let Some(pod) = pod else { return missing() };
    match pod_phase(pod) {
        "Running" => Progress::Done,
        p @ ("Succeeded" | "Failed") => Progress::Failed(format!("the pod is {p}, not Running")),
        p => Progress::Waiting(format!("phase is {p}")),
    }
}

/// The pod's phase is Succeeded (Failed is final).
pub fn pod_succeeded(pod: Option<&Pod>) -> Progress {
    let Some(pod) = pod else { return missing() };
    match pod_phase(pod) {
        "Succeeded" => Progress::Done,
        "Failed" => Progress::Failed("the pod failed".into()),
        p => Progress::Waiting(format!("phase is {p}")),
    }
}

/// The pod's Ready condition is True.
pub fn pod_ready(pod: Option<&Pod>) -> Progress {
    let Some(pod) = pod else { return missing() };
    let ready = pod
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|cs| cs.iter().find(|c| c.type_ == "Ready"));
    match (pod_phase(pod), ready) {
        (p @ ("Succeeded" | "Failed"), _) => Progress::Failed(format!("the pod is {p}")),
        (_, Some(c)) if c.status == "True" => Progress::Done,
        (p, _) => Progress::Waiting(format!("phase is {p}, Ready is not True")),
    }
}

/// The claim's phase is Bound.
pub fn pvc_bound(pvc: Option<&PersistentVolumeClaim>) -> Progress {
    let Some(pvc) = pvc else { return missing() };
    match pvc.status.as_ref().and_then(|s| s.phase.as_deref()) {
        Some("Bound") => Progress::Done,
        Some("Lost") => Progress::Failed("the claim is Lost".into()),
        p => Progress::Waiting(format!("phase is {}", p.unwrap_or("Pending"))),
    }
}

/// The deployment's current generation is fully rolled out and available.
pub fn deployment_rolled_out(d: Option<&Deployment>) -> Progress {
    let Some(d) = d else { return missing() };
    let want = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
    let s = d.status.clone().unwrap_or_default();
    let generation = d.metadata.generation.unwrap_or(0);
    if s.observed_generation.unwrap_or(0) < generation {
        return Progress::Waiting("the controller has not seen the latest generation".into());
    }
    let (updated, ready, available, total) = (
        s.updated_replicas.unwrap_or(0),
        s.ready_replicas.unwrap_or(0),
        s.available_replicas.unwrap_or(0),
        s.replicas.unwrap_or(0),
    );
    if updated == want && available == want && total == want {
        Progress::Done
    } else {
        Progress::Waiting(format!(
            "{updated} updated, {ready} ready, {available} available of {want} (total {total})"
        ))
    }
}

/// The stateful set's current revision is rolled out and ready.
pub fn statefulset_rolled_out(s: Option<&StatefulSet>) -> Progress {
    let Some(s) = s else { return missing() };
    let want = s.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
    let st = s.status.clone().unwrap_or_default();
    if st.observed_generation.unwrap_or(0) < s.metadata.generation.unwrap_or(0) {
        return Progress::Waiting("the controller has not seen the latest generation".into());
    }
    let ready = st.ready_replicas.unwrap_or(0);
    let updated = st.updated_replicas.unwrap_or(0);
    if ready == want && updated == want && st.current_revision == st.update_revision {
        Progress::Done
    } else {
        Progress::Waiting(format!("{updated} updated, {ready} ready of {want}"))
    }
}

/// The daemon set's pods are updated and available on every node it targets.
pub fn daemonset_rolled_out(d: Option<&DaemonSet>) -> Progress {
    let Some(d) = d else { return missing() };
    let s = d.status.clone().unwrap_or_default();
    if s.observed_generation.unwrap_or(0) < d.metadata.generation.unwrap_or(0) {
        return Progress::Waiting("the controller has not seen the latest generation".into());
    }
    let want = s.desired_number_scheduled;
    let updated = s.updated_number_scheduled.unwrap_or(0);
    let available = s.number_available.unwrap_or(0);
    if updated == want && available == want {
        Progress::Done
    } else {
        Progress::Waiting(format!(
            "{updated} updated, {available} available of {want}"
        ))
    }
}

/// The job has a Complete condition (a Failed condition is final).
pub fn job_complete(job: Option<&Job>) -> Progress {
    let Some(job) = job else { return missing() };
    let conds = job
        .status
        .as_ref()
        .and_then(|s| s.conditions.clone())
        .unwrap_or_default();
    if conds
        .iter()
        .any(|c| c.type_ == "Complete" && c.status == "True")
    {
        Progress::Done
    } else if let Some(c) = conds
        .iter()
        .find(|c| c.type_ == "Failed" && c.status == "True")
    {
        Progress::Failed(format!(
            "the job failed: {}",
            c.message.clone().unwrap_or_default()
        ))
    } else {
        Progress::Waiting("no Complete condition yet".into())
    }
}

/// The CRD's Established condition is True.
pub fn crd_established(crd: Option<&CustomResourceDefinition>) -> Progress {
    let Some(crd) = crd else { return missing() };
    let established = crd
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| {
            cs.iter()
                .any(|c| c.type_ == "Established" && c.status == "True")
        });
    if established {
        Progress::Done
    } else {
        Progress::Waiting("not Established yet".into())
    }
}

/// The object does not exist.
pub fn deleted<K>(obj: Option<&K>) -> Progress {
    match obj {
        None => Progress::Done,
        Some(_) => Progress::Waiting("the object still exists".into()),
    }
}

impl Framework {
    fn token(&self) -> Option<CancellationToken> {
        self.spec_context().map(|cx| cx.cancellation_token())
    }

    async fn wait_here<K, C>(
        &self,
        name: &str,
        what: &str,
        timeout: Duration,
        check: C,
    ) -> Result<Option<K>, WaitError>
    where
        K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>
            + Clone
            + DeserializeOwned
            + Debug
            + Send
            + 'static,
        K::DynamicType: Default,
        C: Fn(Option<&K>) -> Progress,
    {
        let description = format!("{} `{name}` {what}", K::kind(&K::DynamicType::default()));
        wait_for(
            &self.api::<K>(),
            name,
            &description,
            timeout,
            self.token(),
            check,
        )
        .await
    }

    /// Waits until pod `name` is Running (timeout `pod_start`).
    ///
    /// # Errors
    ///
    /// See [`wait_for`].
    pub async fn wait_for_pod_running(&self, name: &str) -> Result<Pod, WaitError> {
        let t = self.timeouts().pod_start;
        let p = self
            .wait_here(name, "to be Running", t, pod_running)
            .await?;
        Ok(p.unwrap_or_default())
    }

    /// Waits until pod `name` has Succeeded (timeout `pod_start`).
    ///
    /// # Errors
    ///
    /// See [`wait_for`].
    pub async fn wait_for_pod_succeeded(&self, name: &str) -> Result<Pod, WaitError> {
        let t = self.timeouts().pod_start;
        let p = self.wait_here(name, "to succeed", t, pod_succeeded).await?;
        Ok(p.unwrap_or_default())
    }

    /// Waits until pod `name` is Ready (timeout `pod_start`).
    ///
    /// # Errors
    ///
    /// See [`wait_for`].
    pub async fn wait_for_pod_ready(&self, name: &str) -> Result<Pod, WaitError> {
        let t = self.timeouts().pod_start;
        let p = self.wait_here(name, "to be Ready", t, pod_ready).await?;
        Ok(p.unwrap_or_default())
    }

    /// Waits until claim `name` is Bound (timeout `claim_bound`).
    ///
    /// # Errors
    ///
    /// See [`wait_for`].
    pub async fn wait_for_pvc_bound(&self, name: &str) -> Result<PersistentVolumeClaim, WaitError> {
        let t = self.timeouts().claim_bound;
        let p = self.wait_here(name, "to be Bound", t, pvc_bound).await?;
        Ok(p.unwrap_or_default())
    }

    /// Waits until deployment `name` is rolled out (timeout `pod_start`).
    ///
    /// # Errors
    ///
    /// See [`wait_for`].
    pub async fn wait_for_deployment_rollout(&self, name: &str) -> Result<(), WaitError> {
        let t = self.timeouts().pod_start;
        self.wait_here(name, "to be rolled out", t, deployment_rolled_out)
            .await
            .map(drop)
    }

    /// Waits until stateful set `name` is rolled out (timeout `pod_start`).
    ///
    /// # Errors
    ///
    /// See [`wait_for`].
    pub async fn wait_for_statefulset_rollout(&self, name: &str) -> Result<(), WaitError> {
        let t = self.timeouts().pod_start;
        self.wait_here(name, "to be rolled out", t, statefulset_rolled_out)
            .await
            .map(drop)
    }

    /// Waits until daemon set `name` is rolled out (timeout `system_daemonset_startup`).
    ///
    /// # Errors
    ///
    /// See [`wait_for`].
    pub async fn wait_for_daemonset_rollout(&self, name: &str) -> Result<(), WaitError> {
        let t = self.timeouts().system_daemonset_startup;
        self.wait_here(name, "to be rolled out", t, daemonset_rolled_out)
            .await
            .map(drop)
    }

    /// Waits until job `name` is complete (timeout `pod_start`).
    ///
    /// # Errors
    ///
    /// See [`wait_for`].
    pub async fn wait_for_job_complete(&self, name: &str) -> Result<(), WaitError> {
        let t = self.timeouts().pod_start;
        self.wait_here(name, "to complete", t, job_complete)
            .await
            .map(drop)
    }

    /// Waits until CRD `name` is Established (timeout `pod_start_short`).
    ///
    /// # Errors
    ///
    /// See [`wait_for`].
    pub async fn wait_for_crd_established(&self, name: &str) -> Result<(), WaitError> {
        let api = self.api_all::<CustomResourceDefinition>();
        let desc = format!("CustomResourceDefinition `{name}` to be Established");
        let t = self.timeouts().pod_start_short;
        wait_for(&api, name, &desc, t, self.token(), crd_established)
            .await
            .map(drop)
    }

    /// Waits until `name` is gone from `api` (timeout `pod_delete`).
    ///
    /// # Errors
    ///
    /// See [`wait_for`].
    pub async fn wait_for_deleted<K>(&self, api: &Api<K>, name: &str) -> Result<(), WaitError>
    where
        K: kube::Resource + Clone + DeserializeOwned + Debug + Send + 'static,
    {
        let desc = format!("`{name}` to be deleted");
        let t = self.timeouts().pod_delete;
        wait_for(api, name, &desc, t, self.token(), deleted::<K>)
            .await
            .map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(phase: &str) -> Pod {
        serde_json::from_value(serde_json::json!({"status": {"phase": phase}})).unwrap()
    }

    #[test]
    fn pod_conditions() {
        assert_eq!(pod_running(Some(&pod("Running"))), Progress::Done);
        assert_eq!(
            pod_running(Some(&pod("Pending"))),
            Progress::Waiting("phase is Pending".into())
        );
        assert!(matches!(
            pod_running(Some(&pod("Failed"))),
            Progress::Failed(_)
        ));
        assert!(matches!(pod_running(None), Progress::Waiting(_)));
        assert_eq!(pod_succeeded(Some(&pod("Succeeded"))), Progress::Done);
        assert!(matches!(
            pod_ready(Some(&pod("Running"))),
            Progress::Waiting(_)
        ));
    }

    #[test]
    fn deployment_rollout_counts_replicas() {
        let d: Deployment = serde_json::from_value(serde_json::json!({
            "metadata": {"generation": 2},
            "spec": {"replicas": 2, "selector": {}, "template": {}},
            "status": {"observedGeneration": 2, "replicas": 2, "updatedReplicas": 2,
                       "readyReplicas": 1, "availableReplicas": 1}
        }))
        .unwrap();
        assert_eq!(
            deployment_rolled_out(Some(&d)),
            Progress::Waiting("2 updated, 1 ready, 1 available of 2 (total 2)".into())
        );
        assert_eq!(deleted::<Pod>(None), Progress::Done);
    }
}
