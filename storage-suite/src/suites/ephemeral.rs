use super::block_needs_capability;
use crate::pattern::{VolType, patterns};
use crate::suite::{SuiteContext, TestSuite};
use crate::volume;
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
        skip: block_needs_capability,
        define,
    }
}

fn define(s: &mut Container, sc: &SuiteContext) {
    sc.it(
        s,
        "should create read/write inline ephemeral volume",
        move |cx, driver, pattern| async move {
            let (config, vol) = volume::setup_volume(&cx, &driver, &pattern).await?;
            let script = format!(
                "{} && {}",
                volume::write_data(vol.mode, "ephemeral"),
                volume::read_data(vol.mode)
            );
            let out = volume::run_on(&cx, &config, "inline", &vol, &script).await?;
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
