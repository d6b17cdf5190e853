use crate::pattern::patterns;
use crate::suite::{SuiteContext, TestSuite};
use crate::volume::{self, MOUNT_PATH};
use kube_e2e::prelude::*;

const MIB: u64 = 1024 * 1024;

/// `volumeIO`: files of several sizes written in one pod, their checksums verified in another.
pub fn volume_io() -> TestSuite {
    TestSuite {
        name: "volumeIO",
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

fn define(s: &mut Container, sc: &SuiteContext) {
    let max = match sc.driver.driver_info().max_file_size {
        0 => 100 * MIB,
        m => m,
    };
    let sizes: Vec<u64> = [MIB, 10 * MIB, 100 * MIB]
        .into_iter()
        .filter(|s| *s <= max)
        .collect();
    let (driver, pattern) = (sc.driver.clone(), sc.pattern.clone());
    s.it("should write files of various sizes, verify size, validate content", move |cx| {
        let (driver, pattern, sizes) = (driver.clone(), pattern.clone(), sizes.clone());
        async move {
            let (config, vol) = volume::setup_volume(&cx, &driver, &pattern).await?;
            let mut write = String::new();
            let mut read = String::new();
            for size in &sizes {
                let mib = size / MIB;
                write.push_str(&format!(
                    "dd if=/dev/urandom of={MOUNT_PATH}/file-{mib} bs=1048576 count={mib} 2>/dev/null; "
                ));
                read.push_str(&format!("echo $(stat -c %s {MOUNT_PATH}/file-{mib}) $(sha256sum {MOUNT_PATH}/file-{mib}); "));
            }
            write.push_str("sync; ");
            let written = volume::run_script(&cx, &config, "writer", &vol.source, &format!("{write}{read}")).await?;
            let verified = volume::run_script(&cx, &config, "verifier", &vol.source, &read).await?;
            for size in &sizes {
                let mib = size / MIB;
                let line = written.lines().find(|l| l.ends_with(&format!("/file-{mib}"))).with_context(|| format!("no checksum of file-{mib} in {written}"))?;
                expect(line.split_whitespace().next()).described_as(format!("size of file-{mib}")).to_equal(Some(size.to_string().as_str()))?;
                expect(verified.lines().any(|l| l == line)).described_as(format!("file-{mib} has size and checksum `{line}` in a second pod; it saw:\n{verified}")).to_equal(true)?;
            }
            Ok(())
        }
    });
}
