use super::{block_needs_capability, needs};
use crate::capability::Capability;
use crate::driver::PerTestConfig;
use crate::pattern::{VolMode, patterns};
use crate::suite::{SuiteContext, TestSuite};
use crate::volume;
use k8s_openapi::api::storage::v1::CSINode;
use kube::api::ListParams;
use kube_e2e::prelude::*;
use serde_json::{Value, json};

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
        skip: |d, p| {
            block_needs_capability(d, p).or_else(|| {
                (p.vol_mode == VolMode::Block)
                    .then(|| "block volumes are not implemented yet in kube-e2e-storage".into())
            })
        },
        define,
    }
}

/// Each pod writes its own file and then reads the other's: the two files meeting on the
/// volume prove that both pods had it mounted at the same time.
fn meet_script(me: &str, other: &str) -> String {
    format!(
        "set -e; echo {me} > /mnt/volume1/{me}; sync; \
         i=0; until [ -f /mnt/volume1/{other} ]; do i=$((i+1)); [ $i -lt 120 ] || exit 3; sleep 1; done; \
         echo \"{me} saw $(cat /mnt/volume1/{other})\""
    )
}

/// Two pods (placed as `placement` says) use the volume at once: each writes a marker and
/// reads the other's.
async fn meet(
    cx: &SpecContext,
    config: &PerTestConfig,
    placement: [&PerTestConfig; 2],
    source: &Value,
) -> anyhow::Result<()> {
    let pods = vec![
        volume::pod(
            placement[0],
            "pod-a",
            &[("volume1", source)],
            &meet_script("a", "b"),
        )?,
        volume::pod(
            placement[1],
            "pod-b",
            &[("volume1", source)],
            &meet_script("b", "a"),
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
                two_volumes_across_pods(&cx, &driver, &config, &pattern, None).await
            },
    );

    let text = "should access to two volumes with the same volume mode and retain data across pod recreation on different node";
    if info.has(Capability::SingleNodeVolume) {
        sc.drop_spec(
            s,
            text,
            format!(
                "driver {} only supports single-node volumes (capability `singleNodeVolume`)",
                info.name
            ),
        );
    } else {
        sc.it(s, text, move |cx, driver, pattern| async move {
            let config = volume::setup(&cx, &driver).await?;
            let nodes = two_driver_nodes(&config).await?;
            two_volumes_across_pods(&cx, &driver, &config, &pattern, Some(nodes)).await
        });
    }

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
            meet(&cx, &config, [&config, &config], &vol.source).await
        },
    );

    let text = "should concurrently access the single read-only volume from pods on the same node";
    sc.it_unless(s, text, needs(
        sc.driver.as_ref(),
        Capability::MultiPods,
        "several pods on one node using a volume",
    ), move |cx, driver, pattern| async move {
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
            meet(&cx, &config, [&placed[0], &placed[1]], &vol.source).await
        },
    );
}

/// Two volumes in one pod, written; a second pod (on the same node, or on the second of
/// `nodes`) reads both.
async fn two_volumes_across_pods(
    cx: &SpecContext,
    driver: &std::sync::Arc<dyn crate::driver::TestDriver>,
    config: &PerTestConfig,
    pattern: &crate::pattern::TestPattern,
    nodes: Option<[String; 2]>,
) -> anyhow::Result<()> {
    let mut sources: Vec<Value> = Vec::new();
    for i in 1..=2 {
        let name = format!("{}-claim-{i}", config.prefix);
        let vol = volume::create_named_volume(driver.as_ref(), config, pattern, &name).await?;
        sources.push(vol.source);
    }
    let volumes = [("volume1", &sources[0]), ("volume2", &sources[1])];
    let (first, second) = match &nodes {
        Some([a, b]) => (on_node(config, a), on_node(config, b)),
        None => (config.clone(), config.clone()),
    };
    let writer = volume::pod(
        &first,
        "writer",
        &volumes,
        "set -e; echo one > /mnt/volume1/data; echo two > /mnt/volume2/data; sync",
    )?;
    volume::run_pod(cx, config, writer).await?;
    let reader = volume::pod(
        &second,
        "reader",
        &volumes,
        "set -e; cat /mnt/volume1/data /mnt/volume2/data",
    )?;
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
