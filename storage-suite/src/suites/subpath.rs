use crate::pattern::patterns;
use crate::suite::{SuiteContext, TestSuite};
use crate::volume;
use kube_e2e::prelude::*;
use serde_json::json;

/// `subPath`: the main edge cases of mounting part of a volume.
pub fn sub_path() -> TestSuite {
    TestSuite {
        name: "subPath",
        tags: vec![],
        patterns: vec![
            patterns::default_fs_inline_volume(),
            patterns::default_fs_preprovisioned_pv(),
            patterns::default_fs_dynamic_pv(),
            patterns::ntfs_dynamic_pv(),
        ],
        skip: |_, _| None,
        define,
    }
}

#[derive(Clone, Copy)]
enum Case {
    ExistingDir,
    NonExistent,
    File,
}

fn define(s: &mut Container, sc: &SuiteContext) {
    for (text, case) in [
        ("should support existing directory", Case::ExistingDir),
        ("should support non-existent path", Case::NonExistent),
        ("should support file as subpath", Case::File),
    ] {
        sc.it(s, text, move |cx, driver, pattern| async move {
            let (config, vol) = volume::setup_volume(&cx, &driver, &pattern).await?;
            let root = "/mnt/volume1";
            let (prepare, sub, check) = match case {
                Case::ExistingDir => (
                    format!(
                        "mkdir -p {root}/provisioning && echo in-subpath > {root}/provisioning/file"
                    ),
                    "provisioning",
                    "cat /test-subpath/file",
                ),
                Case::NonExistent => (
                    ":".to_string(),
                    "new-dir",
                    "echo made > /test-subpath/file && cat /test-subpath/file",
                ),
                Case::File => (
                    format!("echo file-subpath > {root}/file"),
                    "file",
                    "cat /test-subpath",
                ),
            };
            volume::run_script(
                &cx,
                &config,
                "prepare",
                &vol.source,
                &format!("{prepare} && sync"),
            )
            .await?;
            let mut pod = volume::pod(
                &config,
                "subpath",
                &[("volume1", &vol.source)],
                &format!("set -e; {check}"),
            )?;
            let mut v = serde_json::to_value(&pod)?;
            v["spec"]["containers"][0]["volumeMounts"]
                .as_array_mut()
                .context("mounts")?
                .push(json!({
                    "name": "volume1", "mountPath": "/test-subpath", "subPath": sub
                }));
            pod = serde_json::from_value(v)?;
            let out = volume::run_pod(&cx, &config, pod).await?;
            let wanted = match case {
                Case::ExistingDir => "in-subpath",
                Case::NonExistent => "made",
                Case::File => "file-subpath",
            };
            expect(out.trim().to_string()).to_equal(wanted.to_string())?;
            if matches!(case, Case::NonExistent) {
                let seen = volume::run_script(
                    &cx,
                    &config,
                    "check",
                    &vol.source,
                    &format!("cat {root}/new-dir/file"),
                )
                .await?;
                expect(seen.trim().to_string())
                    .described_as("file written through the subpath, seen at the volume root")
                    .to_equal("made".to_string())?;
            }
            Ok(())
        });
    }
}
