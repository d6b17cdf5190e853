use super::{block_needs_capability, needs};
use crate::capability::Capability;
use crate::driver::PerTestConfig;
use crate::pattern::{VolMode, patterns};
use crate::suite::{SuiteContext, TestSuite};
use crate::volume;
use k8s_openapi::api::storage::v1::CSINode;
use kube::api::ListParams;
use kube_e2e::prelude::*;
use serde_json::json;

/// `multiVolume`: several volumes in one pod, and one volume in several pods at once.
pub fn multi_volume() -> TestSuite {
    TestSuite {
        name: "multiVolume",
        tags: vec![Tag::Slow],
        patterns: vec![
            patterns::fs_vol_mode_preprovisioned_pv(),
            patterns::fs_vol_mode_dynamic_pv(),
            patterns::block_vol_mode_preprovisioned_pv(),
            patterns::block_vol_mode_dynamic_pv(),
            patterns::ext4_dynamic_pv(),
            patterns::xfs_dynamic_pv(),
            patterns::ntfs_dynamic_pv(),
        ],
        skip: block_needs_capability,
        define,
    }
}

/// Each pod writes its own marker and then waits for the other's: the two meeting on the
/// volume prove that both pods had it at the same time. On a file system the markers are files
/// named after the pods; on a block device, sectors 0 (`a`) and 1 (`b`).
fn meet_script(mode: VolMode, me: &str, other: &str) -> String {
    let sector = |who: &str| u32::from(who != "a");
    let dev = volume::MOUNT_PATH;
    let (write, read) = match mode {
        VolMode::Filesystem => (
            format!("echo {me} > {dev}/{me}; sync"),
            format!("cat {dev}/{other} 2>/dev/null || true"),
        ),
        VolMode::Block => (
            volume::write_sector(dev, sector(me), me),
            volume::read_sector(dev, sector(other)),
        ),
    };
    format!(
        "set -e; {write}; \
         i=0; until [ \"$({read})\" = {other} ]; do i=$((i+1)); [ $i -lt 120 ] || exit 3; sleep 1; done; \
         echo \"{me} saw {other}\""
    )
}

/// Two pods (placed as `placement` says) use the volume at once: each writes a marker and
/// reads the other's.
async fn meet(
    cx: &SpecContext,
    config: &PerTestConfig,
    placement: [&PerTestConfig; 2],
    vol: &volume::TestVolume,
) -> anyhow::Result<()> {
    let volumes = [("volume1", &vol.source, vol.mode)];
    let pods = vec![
        volume::pod_with_modes(
            placement[0],
            "pod-a",
            &volumes,
            &meet_script(vol.mode, "a", "b"),
        )?,
        volume::pod_with_modes(
            placement[1],
            "pod-b",
            &volumes,
            &meet_script(vol.mode, "b", "a"),
        )?,
    ];
    let logs = volume::run_pods(cx, config, pods).await?;
    expect(
        logs.iter()
            .map(|l| l.trim().to_string())
            .collect::<Vec<_>>(),
    )
    .described_as("what each pod read from the other")
    .to_equal(vec!["a saw b".to_string(), "b saw a".to_string()])?;
    Ok(())
}

fn define(s: &mut Container, sc: &SuiteContext) {
    let info = sc.driver.driver_info().clone();

    sc.it(s, "should access to two volumes with the same volume mode and retain data across pod recreation on the same node", move |cx, driver, pattern| async move {
                let config = volume::setup(&cx, &driver).await?;
                two_volumes_across_pods(&cx, &driver, &config, [&pattern, &pattern], None).await
            },
    );

    let text = "should access to two volumes with the same volume mode and retain data across pod recreation on different node";
    let missing = info.has(Capability::SingleNodeVolume).then(|| {
        format!(
            "driver {} only supports single-node volumes (capability `singleNodeVolume`)",
            info.name
        )
    });
    sc.it_unless(s, text, missing, move |cx, driver, pattern| async move {
        let config = volume::setup(&cx, &driver).await?;
        let nodes = two_driver_nodes(&config).await?;
        two_volumes_across_pods(&cx, &driver, &config, [&pattern, &pattern], Some(nodes)).await
    });

    let text = "should access to two volumes with different volume mode and retain data across pod recreation on the same node";
    let missing = (sc.pattern.vol_mode == VolMode::Filesystem)
        .then(|| "the block patterns cover it (one block and one file system volume)".to_string());
    sc.it_unless(s, text, missing, move |cx, driver, pattern| async move {
        let config = volume::setup(&cx, &driver).await?;
        let mut fs = pattern.clone();
        fs.vol_mode = VolMode::Filesystem;
        two_volumes_across_pods(&cx, &driver, &config, [&pattern, &fs], None).await
    });

    let text = "should concurrently access the single volume from pods on the same node";
    sc.it_unless(
        s,
        text,
        needs(
            sc.driver.as_ref(),
            Capability::MultiPods,
            "several pods on one node using a volume",
        ),
        move |cx, driver, pattern| async move {
            let (config, vol) = volume::setup_volume(&cx, &driver, &pattern).await?;
            meet(&cx, &config, [&config, &config], &vol).await
        },
    );

    let text = "should concurrently access the single read-only volume from pods on the same node";
    let missing = needs(
        sc.driver.as_ref(),
        Capability::MultiPods,
        "several pods on one node using a volume",
    )
    .or_else(|| {
        (sc.pattern.vol_mode == VolMode::Block)
            .then(|| "read-only access is checked through a file system".to_string())
    });
    sc.it_unless(s, text, missing, move |cx, driver, pattern| async move {
                let (config, vol) = volume::setup_volume(&cx, &driver, &pattern).await?;
                volume::run_script(&cx, &config, "writer", &vol.source, &volume::write_file("data", "shared"))
                    .await?;
                let mut ro = vol.source.clone();
                ro["persistentVolumeClaim"]["readOnly"] = json!(true);
                // Created together and kept up a few seconds, so both mount the volume at once.
                let script = "set -e; cat /mnt/volume1/data; \
                              if touch /mnt/volume1/new 2>/dev/null; then echo writable; else echo read-only; fi";
                let pods = vec![
                    volume::pod(&config, "reader-a", &[("volume1", &ro)], &format!("{script}; sleep 5"))?,
                    volume::pod(&config, "reader-b", &[("volume1", &ro)], &format!("{script}; sleep 5"))?,
                ];
                let logs = volume::run_pods(&cx, &config, pods).await?;
                for log in logs {
                    expect(log.split_whitespace().map(str::to_string).collect::<Vec<_>>())
                        .described_as("what a read-only pod read, then whether it could write")
                        .to_equal(vec!["shared".to_string(), "read-only".to_string()])?;
                }
                Ok(())
            });

    let text = "should concurrently access the single volume from pods on different node";
    sc.it_unless(
        s,
        text,
        needs(sc.driver.as_ref(), Capability::Rwx, "ReadWriteMany volumes"),
        move |cx, driver, pattern| async move {
            let config = volume::setup(&cx, &driver).await?;
            let [first, second] = two_driver_nodes(&config).await?;
            let vol = volume::create_volume(driver.as_ref(), &config, &pattern).await?;
            let placed = [on_node(&config, &first), on_node(&config, &second)];
            meet(&cx, &config, [&placed[0], &placed[1]], &vol).await
        },
    );
}

/// Two volumes in one pod, written; a second pod (on the same node, or on the second of
/// `nodes`) reads both.
async fn two_volumes_across_pods(
    cx: &SpecContext,
    driver: &std::sync::Arc<dyn crate::driver::TestDriver>,
    config: &PerTestConfig,
    patterns: [&crate::pattern::TestPattern; 2],
    nodes: Option<[String; 2]>,
) -> anyhow::Result<()> {
    let mut vols = Vec::new();
    for (i, pattern) in patterns.into_iter().enumerate() {
        let name = format!("{}-claim-{}", config.prefix, i + 1);
        vols.push(volume::create_named_volume(driver.as_ref(), config, pattern, &name).await?);
    }
    let volumes = [
        ("volume1", &vols[0].source, vols[0].mode),
        ("volume2", &vols[1].source, vols[1].mode),
    ];
    let (first, second) = match &nodes {
        Some([a, b]) => (on_node(config, a), on_node(config, b)),
        None => (config.clone(), config.clone()),
    };
    let write = format!(
        "set -e; {}; {}",
        volume::write_data_at(vols[0].mode, "/mnt/volume1", "one"),
        volume::write_data_at(vols[1].mode, "/mnt/volume2", "two")
    );
    let writer = volume::pod_with_modes(&first, "writer", &volumes, &write)?;
    volume::run_pod(cx, config, writer).await?;
    let read = format!(
        "set -e; {}; {}",
        volume::read_data_at(vols[0].mode, "/mnt/volume1"),
        volume::read_data_at(vols[1].mode, "/mnt/volume2")
    );
    let reader = volume::pod_with_modes(&second, "reader", &volumes, &read)?;
    let out = volume::run_pod(cx, config, reader).await?;
    expect(
        out.split_whitespace()
            .map(str::to_string)
            .collect::<Vec<_>>(),
    )
    .described_as("data of both volumes, read by the recreated pod")
    .to_equal(vec!["one".to_string(), "two".to_string()])?;
    Ok(())
}

/// `config` with its client pods pinned to `node`.
fn on_node(config: &PerTestConfig, node: &str) -> PerTestConfig {
    let mut c = config.clone();
    c.client_node.name = Some(node.to_string());
    c
}

/// Two nodes on which kubelet has registered the spec's driver; skips the spec otherwise.
async fn two_driver_nodes(config: &PerTestConfig) -> anyhow::Result<[String; 2]> {
    let nodes: Vec<String> = config
        .framework
        .api_all::<CSINode>()
        .list(&ListParams::default())
        .await?
        .items
        .into_iter()
        .filter(|n| n.spec.drivers.iter().any(|d| d.name == config.driver_name))
        .filter_map(|n| n.metadata.name)
        .collect();
    match nodes.as_slice() {
        [a, b, ..] => Ok([a.clone(), b.clone()]),
        _ => Err(skip(format!(
            "needs two nodes running driver {}, the cluster has {}",
            config.driver_name,
            nodes.len()
        ))),
    }
}
