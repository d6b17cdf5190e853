use super::block_needs_capability;
use crate::pattern::{VolMode, VolType, patterns};
use crate::suite::{SuiteContext, TestSuite};
use crate::volume::{self, MOUNT_PATH};
use kube_e2e::prelude::*;

/// `ephemeral`: generic ephemeral and CSI inline volumes live and die with their pod.
pub fn ephemeral() -> TestSuite {
    TestSuite {
        name: "ephemeral",
        tags: vec![],
        patterns: vec![
            patterns::generic_ephemeral_late_binding(),
            patterns::generic_ephemeral_immediate_binding(),
            patterns::block_vol_mode_generic_ephemeral_volume(),
            patterns::default_fs_csi_ephemeral_volume(),
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

fn define(s: &mut Container, sc: &SuiteContext) {
    sc.it(
        s,
        "should create read/write inline ephemeral volume",
        move |cx, driver, pattern| async move {
            let (config, vol) = volume::setup_volume(&cx, &driver, &pattern).await?;
            let out = volume::run_script(
                &cx,
                &config,
                "inline",
                &vol.source,
                &format!("echo ephemeral > {MOUNT_PATH}/data && sync && cat {MOUNT_PATH}/data"),
            )
            .await?;
            expect(out.trim().to_string()).to_equal("ephemeral".to_string())?;
            if pattern.vol_type == VolType::GenericEphemeral {
                cx.by("checking that the pod's claim went with the pod");
                let claims = config
                    .framework
                    .api::<k8s_openapi::api::core::v1::PersistentVolumeClaim>();
                volume::poll_until(
                    "claim inline-volume1 to be deleted with its pod",
                    config.framework.timeouts().claim_provision,
                    || async {
                        match claims.get_opt("inline-volume1").await? {
                            None => Ok(()),
                            Some(c) => bail!(
                                "still there (deletion timestamp {:?})",
                                c.metadata.deletion_timestamp
                            ),
                        }
                    },
                )
                .await?;
            }
            Ok(())
        },
    );
}
