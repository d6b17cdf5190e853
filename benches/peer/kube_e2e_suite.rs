//! The kube-e2e half of the peer benchmark (`benches/benches/peer.rs`): `peer.specs` specs
//! (default 50), each with a fresh namespace of its own, doing ConfigMap create, get, update
//! and delete in it. The same work is written with e2e-framework in `peer/e2e-framework/`.
//!
//! ```sh
//! cargo test -p kube-e2e-benches --test peer-suite -- --peer.specs 5
//! ```

use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{DeleteParams, ObjectMeta, PostParams};
use kube_e2e::prelude::*;
use std::collections::BTreeMap;

kube_e2e::param!(
    "peer.specs",
    Int,
    Some("50"),
    "how many ConfigMap specs the peer suite registers"
);

fn config_map(data: &str) -> ConfigMap {
    ConfigMap {
        metadata: ObjectMeta {
            name: Some("peer".into()),
            ..Default::default()
        },
        data: Some(BTreeMap::from([("key".to_string(), data.to_string())])),
        ..Default::default()
    }
}

/// The ConfigMap's `key`, which the specs set and check.
fn key_of(cm: &ConfigMap) -> Option<&str> {
    cm.data.as_ref()?.get("key").map(String::as_str)
}

fn config_maps(s: &mut Container, params: &Params) -> kube_e2e::anyhow::Result<()> {
    let n = params.int("peer.specs").unwrap_or(50);
    s.describe("ConfigMap", |s| {
        s.framework("peer");
        for i in 0..n {
            s.it(format!("crud {i:02}"), |cx| async move {
                let f = cx.framework()?;
                let api = f.api::<ConfigMap>();
                api.create(&PostParams::default(), &config_map("created"))
                    .await
                    .context("creating the ConfigMap")?;
                let mut cm = api.get("peer").await.context("getting the ConfigMap")?;
                ensure!(
                    key_of(&cm) == Some("created"),
                    "the ConfigMap read back has data {:?}",
                    cm.data
                );
                cm.data = config_map("updated").data;
                let cm = api
                    .replace("peer", &PostParams::default(), &cm)
                    .await
                    .context("updating the ConfigMap")?;
                ensure!(
                    key_of(&cm) == Some("updated"),
                    "the updated ConfigMap has data {:?}",
                    cm.data
                );
                api.delete("peer", &DeleteParams::default())
                    .await
                    .context("deleting the ConfigMap")?;
                Ok(())
            });
        }
    });
    Ok(())
}
kube_e2e::generator!(config_maps);

kube_e2e::main!();
