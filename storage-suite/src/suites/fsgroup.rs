use super::needs;
use crate::capability::Capability;
use crate::driver::PerTestConfig;
use crate::pattern::{VolType, patterns};
use crate::suite::{SuiteContext, TestSuite};
use crate::volume::{self, MOUNT_PATH};
use k8s_openapi::api::core::v1::Pod;
use kube_e2e::prelude::*;
use serde_json::{Value, json};

/// `fsgroupchangepolicy`: kubelet gives a volume's files the pod's `fsGroup`, every time
/// (`Always`) or only when the volume's root does not have it yet (`OnRootMismatch`).
pub fn fs_group_change_policy() -> TestSuite {
    TestSuite {
        name: "fsgroupchangepolicy",
        tags: vec![Tag::LinuxOnly],
        patterns: vec![patterns::default_fs_dynamic_pv()],
        skip: |d, p| {
            needs(d, Capability::FsGroup, "fsGroup ownership changes").or_else(|| {
                (p.vol_type != VolType::DynamicPv)
                    .then(|| "fsgroupchangepolicy needs dynamic PVs".into())
            })
        },
        define,
    }
}

/// The group the first pod gives the volume.
const INITIAL_GROUP: i64 = 1000;

/// One case: the policy, whether the first pod changes its files' groups by hand (to 2000 for
/// the file in the volume's root, 3000 for the one in a subdirectory), the second pod's group,
/// and the groups the second pod must see on the two files.
struct Case {
    policy: &'static str,
    chgrp: bool,
    second_group: i64,
    expected: [i64; 2],
    text: &'static str,
}

const CASES: [Case; 6] = [
    Case {
        policy: "OnRootMismatch",
        chgrp: false,
        second_group: 2000,
        expected: [2000, 2000],
        text: "pod created with an initial fsgroup, new pod fsgroup applied to volume contents",
    },
    Case {
        policy: "OnRootMismatch",
        chgrp: true,
        second_group: 4000,
        expected: [4000, 4000],
        text: "pod created with an initial fsgroup, volume contents ownership changed via chgrp in first pod, new pod with different fsgroup applied to the volume contents",
    },
    Case {
        policy: "OnRootMismatch",
        chgrp: true,
        second_group: INITIAL_GROUP,
        expected: [2000, 3000],
        text: "pod created with an initial fsgroup, volume contents ownership changed via chgrp in first pod, new pod with same fsgroup skips ownership changes to the volume contents",
    },
    Case {
        policy: "Always",
        chgrp: false,
        second_group: 2000,
        expected: [2000, 2000],
        text: "pod created with an initial fsgroup, new pod fsgroup applied to volume contents",
    },
    Case {
        policy: "Always",
        chgrp: true,
        second_group: 4000,
        expected: [4000, 4000],
        text: "pod created with an initial fsgroup, volume contents ownership changed via chgrp in first pod, new pod with different fsgroup applied to the volume contents",
    },
    Case {
        policy: "Always",
        chgrp: true,
        second_group: INITIAL_GROUP,
        expected: [INITIAL_GROUP, INITIAL_GROUP],
        text: "pod created with an initial fsgroup, volume contents ownership changed via chgrp in first pod, new pod with same fsgroup applied to the volume contents",
    },
];

fn define(s: &mut Container, sc: &SuiteContext) {
    for (i, case) in CASES.iter().enumerate() {
        let (driver, pattern) = (sc.driver.clone(), sc.pattern.clone());
        s.it(format!("({}), {}", case.policy, case.text), move |cx| {
            let (driver, pattern) = (driver.clone(), pattern.clone());
            async move {
                let case = &CASES[i];
                let (config, vol) = volume::setup_volume(&cx, &driver, &pattern).await?;
                let stat = format!("stat -c %g {MOUNT_PATH}/file1 {MOUNT_PATH}/subdir/file2");
                let mut first = format!(
                    "echo one > {MOUNT_PATH}/file1 && mkdir -p {MOUNT_PATH}/subdir && \
                     echo two > {MOUNT_PATH}/subdir/file2"
                );
                if case.chgrp {
                    first.push_str(&format!(
                        " && chgrp 2000 {MOUNT_PATH}/file1 && chgrp 3000 {MOUNT_PATH}/subdir/file2"
                    ));
                }
                first.push_str(&format!(" && sync && {stat}"));
                let seen = run_with_group(
                    &cx,
                    &config,
                    "first",
                    &vol.source,
                    INITIAL_GROUP,
                    case.policy,
                    &first,
                )
                .await?;
                let initial = if case.chgrp {
                    [2000, 3000]
                } else {
                    [INITIAL_GROUP; 2]
                };
                expect(seen)
                    .described_as("groups in the first pod")
                    .to_equal(initial.to_vec())?;
                let seen = run_with_group(
                    &cx,
                    &config,
                    "second",
                    &vol.source,
                    case.second_group,
                    case.policy,
                    &stat,
                )
                .await?;
                expect(seen)
                    .described_as(format!(
                        "groups of file1 and subdir/file2 in a pod with fsGroup {} ({})",
                        case.second_group, case.policy
                    ))
                    .to_equal(case.expected.to_vec())?;
                Ok(())
            }
        });
    }
}

/// Runs `script` in a pod with `fsGroup` and `fsGroupChangePolicy`, and parses the group IDs
/// it prints.
async fn run_with_group(
    cx: &SpecContext,
    config: &PerTestConfig,
    name: &str,
    source: &Value,
    group: i64,
    policy: &str,
    script: &str,
) -> anyhow::Result<Vec<i64>> {
    let pod = volume::pod(
        config,
        name,
        &[("volume1", source)],
        &format!("set -e; {script}"),
    )?;
    let mut value = serde_json::to_value(&pod)?;
    value["spec"]["securityContext"] = json!({"fsGroup": group, "fsGroupChangePolicy": policy});
    let pod: Pod = serde_json::from_value(value)?;
    let out = volume::run_pod(cx, config, pod).await?;
    out.split_whitespace()
        .map(|g| {
            g.parse::<i64>()
                .with_context(|| format!("group ID `{g}` in {out:?}"))
        })
        .collect()
}
