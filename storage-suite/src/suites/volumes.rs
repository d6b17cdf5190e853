use super::{block_needs_capability, needs};
use crate::capability::Capability;
use crate::pattern::{VolMode, patterns};
use crate::suite::{SuiteContext, TestSuite};
use crate::volume::{self, MOUNT_PATH};
use kube_e2e::prelude::*;

/// `volumes`: data written by one pod is read by the next; files on the volume can be run.
pub fn volumes() -> TestSuite {
    let mut list = Vec::new();
    for family in [
        patterns::default_fs(),
        patterns::ext3(),
        patterns::ext4(),
        patterns::xfs(),
        patterns::ntfs(),
    ] {
        let [inline, _, _, pre, dynamic] = family;
        list.extend([inline, pre, dynamic]);
    }
    list.push(patterns::block_vol_mode_preprovisioned_pv());
    list.push(patterns::block_vol_mode_dynamic_pv());
    TestSuite {
        name: "volumes",
        tags: vec![],
        patterns: list,
        skip: block_needs_capability,
        define,
    }
}

fn define(s: &mut Container, sc: &SuiteContext) {
    sc.it_unless(
        s,
        "should store data",
        needs(sc.driver.as_ref(), Capability::Persistence, "persistence"),
        move |cx, driver, pattern| async move {
            let (config, vol) = volume::setup_volume(&cx, &driver, &pattern).await?;
            let content = format!("Hello from {}", config.prefix);
            volume::write_volume(&cx, &config, "writer", &vol, &content).await?;
            let out = volume::read_volume(&cx, &config, "reader", &vol).await?;
            expect(out)
                .described_as("content read by a second pod")
                .to_equal(content)?;
            Ok(())
        },
    );
    let text = "should allow exec of files on the volume";
    let missing = needs(
        sc.driver.as_ref(),
        Capability::Exec,
        "executing files on the volume",
    )
    .or_else(|| {
        (sc.pattern.vol_mode == VolMode::Block)
            .then(|| "a block volume has no files to execute".to_string())
    });
    sc.it_unless(s, text, missing, move |cx, driver, pattern| async move {
        let (config, vol) = volume::setup_volume(&cx, &driver, &pattern).await?;
        let out = volume::run_script(&cx, &config, "exec", &vol.source, &format!(
            "printf '#!/bin/sh\\necho Hello from exec\\n' > {MOUNT_PATH}/script.sh && chmod +x {MOUNT_PATH}/script.sh && {MOUNT_PATH}/script.sh"
        ))
        .await?;
        expect(out.trim().to_string()).to_equal("Hello from exec".to_string())?;
        Ok(())
    });
}
