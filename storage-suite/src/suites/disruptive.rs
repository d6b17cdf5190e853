//! `disruptive`: kubelet is stopped and started while a pod uses the volume. The mount must
//! survive the restart, and a pod deleted while kubelet is down must have its volume unmounted
//! once kubelet is back.
//!
//! Upstream restarts kubelet over SSH; here the suite drives the local cluster's real node
//! directly ([`LocalCluster::stop_component`](kube_e2e_cluster::LocalCluster::stop_component) /
//! [`LocalCluster::start_component`](kube_e2e_cluster::LocalCluster::start_component)) and
//! reads the node's mounts from this machine's `/proc/self/mountinfo`. On any other cluster the
//! specs skip with the reason.

mod kubelet;

use super::{block_needs_capability, needs};
use crate::capability::Capability;
use crate::driver::{PerTestConfig, TestDriver};
use crate::pattern::{TestPattern, VolMode, VolType, patterns};
use crate::suite::{SuiteContext, TestSuite};
use crate::volume::{self, MOUNT_PATH, TestVolume};
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod};
use kube::api::{Api, AttachParams, DeleteParams, PostParams};
use kube_e2e::SpecContext;
use kube_e2e::prelude::*;
use kube_e2e_cluster::node::real::{self, NODE_NAME};
use kubelet::Kubelet;
use std::sync::Arc;

/// `disruptive`: a volume in use while kubelet restarts; serial (`[Disruptive]`).
pub fn disruptive() -> TestSuite {
    TestSuite {
        name: "disruptive",
        tags: vec![Tag::Disruptive, Tag::LinuxOnly],
        patterns: vec![
            patterns::default_fs_inline_volume(),
            patterns::fs_vol_mode_preprovisioned_pv(),
            patterns::fs_vol_mode_dynamic_pv(),
            patterns::default_fs_csi_ephemeral_volume(),
            patterns::block_vol_mode_preprovisioned_pv(),
            patterns::block_vol_mode_dynamic_pv(),
        ],
        skip: |d, p| {
            block_needs_capability(d, p).or_else(|| {
                // Inline and pre-provisioned reach here only with drivers that have them;
                // `volume::create_volume` cannot make them yet.
                let what = match (p.vol_mode, p.vol_type) {
                    (VolMode::Block, _) => "block volumes",
                    (_, VolType::Inline) => "in-tree inline volumes",
                    (_, VolType::PreprovisionedPv) => "pre-provisioned PVs",
                    _ => return None,
                };
                Some(format!(
                    "{what} are not implemented yet in kube-e2e-storage"
                ))
            })
        },
        define,
    }
}

/// How the pod under test leaves while kubelet is down.
#[derive(Clone, Copy)]
enum Deletion {
    Graceful,
    Forced,
}

fn define(s: &mut Container, sc: &SuiteContext) {
    sc.it(
        s,
        "Should test that pv written before kubelet restart is readable after restart.",
        move |cx, driver, pattern| async move {
            let Scene {
                f,
                kubelet,
                config,
                vol,
                pod,
                content,
            } = Scene::set(&cx, &driver, &pattern).await?;
            kubelet.stop(&cx).await?;
            cx.by("starting kubelet");
            kubelet.start().await?;
            cx.by("reading the data in the same pod");
            volume::poll_until(
                "the running pod to read the volume through the restarted kubelet",
                f.timeouts().pod_start_short,
                || async {
                    let out = exec(&config, POD, &format!("cat {MOUNT_PATH}/data")).await?;
                    expect(out.trim().to_string())
                        .described_as("the file as read by the pod that wrote it")
                        .to_equal(content.clone())?;
                    Ok(())
                },
            )
            .await?;
            let pods: Api<Pod> = f.api();
            expect(container_id(&pods.get(POD).await?))
                .described_as("the pod's container after the restart (it kept running)")
                .to_equal(container_id(&pod.pod))?;
            ensure!(
                !kubelet.volume_mounts(&pod.uid, &pod.volume_dir).is_empty(),
                "the volume is no longer mounted for pod {POD} after kubelet restarted"
            );
            // Deleted here, not left to the spec's cleanup, which force deletes: kubelet must
            // unmount the volume while the driver still runs.
            volume::delete_pod(&config, POD).await?;
            kubelet
                .wait_for_unmount(&pod.uid, f.timeouts().pod_delete)
                .await?;
            let persistent = matches!(
                pattern.vol_type,
                VolType::DynamicPv | VolType::PreprovisionedPv
            ) && needs(driver.as_ref(), Capability::Persistence, "persistence")
                .is_none();
            if persistent {
                cx.by("reading the data in a new pod");
                let out = volume::run_script(
                    &cx,
                    &config,
                    "reader",
                    &vol.source,
                    &format!("cat {MOUNT_PATH}/data"),
                )
                .await?;
                expect(out.trim().to_string())
                    .described_as("the file as read by a new pod")
                    .to_equal(content)?;
            }
            Ok(())
        },
    );
    for (text, deletion) in [
        (
            "Should test that pv used in a pod that is deleted while the kubelet is down cleans up when the kubelet returns.",
            Deletion::Graceful,
        ),
        (
            "Should test that pv used in a pod that is force deleted while the kubelet is down cleans up when the kubelet returns.",
            Deletion::Forced,
        ),
    ] {
        sc.it(s, text, move |cx, driver, pattern| async move {
            let Scene {
                f, kubelet, pod, ..
            } = Scene::set(&cx, &driver, &pattern).await?;
            kubelet.stop(&cx).await?;
            let pods: Api<Pod> = f.api();
            match deletion {
                Deletion::Graceful => {
                    cx.by("deleting the pod while kubelet is down");
                    pods.delete(POD, &DeleteParams::default()).await?;
                }
                Deletion::Forced => {
                    cx.by("force deleting the pod while kubelet is down");
                    let force = DeleteParams {
                        grace_period_seconds: Some(0),
                        ..DeleteParams::default()
                    };
                    pods.delete(POD, &force).await?;
                    expect(pods.get_opt(POD).await?.is_none())
                        .described_as("the force deleted pod is gone from the API at once")
                        .to(be_true())?;
                }
            }
            cx.by("starting kubelet");
            kubelet.start().await?;
            cx.by("waiting for kubelet to finish the pod and unmount its volumes");
            f.wait_for_deleted(&pods, POD).await?;
            kubelet
                .wait_for_unmount(&pod.uid, f.timeouts().pod_delete)
                .await?;
            Ok(())
        });
    }
}

/// The pod under test.
const POD: &str = "disruptive";

/// Where every spec starts: the local kubelet found, the driver deployed, and [`POD`] running
/// with the volume mounted and `content` written to `data` on it.
struct Scene {
    f: Arc<Framework>,
    kubelet: Kubelet,
    config: PerTestConfig,
    vol: TestVolume,
    pod: RunningPod,
    content: String,
}

impl Scene {
    async fn set(
        cx: &SpecContext,
        driver: &Arc<dyn TestDriver>,
        pattern: &TestPattern,
    ) -> anyhow::Result<Scene> {
        let f = cx.framework()?;
        // Before anything is deployed: elsewhere than on the local cluster the spec skips.
        let kubelet = Kubelet::find(&f).await?;
        let (config, vol) = volume::setup_volume(cx, driver, pattern).await?;
        let pod = start_pod(cx, &config, &vol).await?;
        let content = format!("written before kubelet restart by {}", f.unique_name());
        cx.by("writing to the volume");
        exec(
            &config,
            POD,
            &format!("echo '{content}' > {MOUNT_PATH}/data && sync"),
        )
        .await?;
        // Without this, "nothing is mounted any more" could hold because the mount was never
        // where the check looks.
        let dir = kubelet.volumes_dir(&pod.uid);
        ensure!(
            !kubelet.volume_mounts(&pod.uid, &pod.volume_dir).is_empty(),
            "no mount of volume {} under {} on this machine (mounts there: {:?})",
            pod.volume_dir,
            dir.display(),
            real::mounts_under(&dir),
        );
        Ok(Scene {
            f,
            kubelet,
            config,
            vol,
            pod,
            content,
        })
    }
}

/// The running pod under test, as seen before kubelet stops.
struct RunningPod {
    pod: Pod,
    uid: String,
    /// The directory kubelet mounts the volume at, below `volumes/<plugin>/`: the PV's name
    /// for a claim, the pod's volume name otherwise.
    volume_dir: String,
}

/// Starts [`POD`] with the volume, sleeping, and waits until it runs on the local node.
async fn start_pod(
    cx: &SpecContext,
    config: &PerTestConfig,
    vol: &TestVolume,
) -> anyhow::Result<RunningPod> {
    let f = &config.framework;
    let pods: Api<Pod> = f.api();
    cx.by(format!("starting pod {POD} with the volume"));
    let pod = volume::pod(config, POD, &[("volume1", &vol.source)], "sleep 3600")?;
    pods.create(&PostParams::default(), &pod)
        .await
        .with_context(|| format!("creating pod {POD}"))?;
    let pod = f.wait_for_pod_running(POD).await?;
    let node_name = pod.spec.as_ref().and_then(|s| s.node_name.clone());
    if node_name.as_deref() != Some(NODE_NAME) {
        return Err(skip(format!(
            "the pod runs on node {node_name:?}; the suite can restart kubelet only on the local cluster's node {NODE_NAME} (pin the driver's pods there)"
        )));
    }
    let uid = pod.metadata.uid.clone().context("the pod has no uid")?;
    let volume_dir = match &vol.claim {
        Some(claim) => {
            let claims: Api<PersistentVolumeClaim> = f.api();
            claims
                .get(claim)
                .await?
                .spec
                .and_then(|s| s.volume_name)
                .with_context(|| format!("claim {claim} of a running pod is not bound"))?
        }
        None => "volume1".to_string(),
    };
    Ok(RunningPod {
        pod,
        uid,
        volume_dir,
    })
}

fn container_id(pod: &Pod) -> Option<String> {
    pod.status
        .as_ref()
        .and_then(|s| s.container_statuses.as_ref())
        .and_then(|c| c.first())
        .and_then(|c| c.container_id.clone())
}

/// Runs `script` with `sh -c` in `pod`; returns its stdout.
///
/// # Errors
///
/// The exec failing, or the script failing (with its stderr).
async fn exec(config: &PerTestConfig, pod: &str, script: &str) -> anyhow::Result<String> {
    use tokio::io::AsyncReadExt;
    let pods: Api<Pod> = config.framework.api();
    let mut attached = pods
        .exec(pod, ["sh", "-c", script], &AttachParams::default())
        .await
        .with_context(|| format!("exec in pod {pod}: {script}"))?;
    let status = attached.take_status().context("exec status")?;
    let (mut stdout, mut stderr) = (
        attached.stdout().context("exec stdout")?,
        attached.stderr().context("exec stderr")?,
    );
    let (mut out, mut err) = (String::new(), String::new());
    let (read_out, read_err) = tokio::join!(
        stdout.read_to_string(&mut out),
        stderr.read_to_string(&mut err)
    );
    read_out?;
    read_err?;
    let status = status.await;
    attached.join().await?;
    match status {
        Some(s) if s.status.as_deref() == Some("Success") => Ok(out),
        other => bail!(
            "`{script}` in pod {pod} failed ({}); stderr: {err}",
            other.and_then(|s| s.message).unwrap_or_default()
        ),
    }
}
