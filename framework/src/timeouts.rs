//! [`Timeouts`]: the named waits of a spec, with upstream's defaults, scaled by one factor.
//!
//! Every [`Framework`](crate::framework::Framework) gets its own copy, so a spec (or a storage
//! driver) can lengthen one wait without touching the others. The global factor
//! (`--framework.timeout-scale`) multiplies every field, for slow clusters.

use std::time::Duration;

/// Named timeouts. The defaults are upstream's (`test/e2e/framework/timeouts.go`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Timeouts {
    /// Poll interval of `eventually`/`consistently` and of polling waits.
    pub poll: Duration,
    /// A pod starts running (also the default `eventually` timeout).
    pub pod_start: Duration,
    /// A pod starts running, short variant (also the default `consistently` duration).
    pub pod_start_short: Duration,
    /// A pod starts running, slow variant.
    pub pod_start_slow: Duration,
    /// A pod is deleted.
    pub pod_delete: Duration,
    /// A claim is provisioned.
    pub claim_provision: Duration,
    /// A claim is provisioned, short variant.
    pub claim_provision_short: Duration,
    /// A claim with a data source is provisioned.
    pub data_source_provision: Duration,
    /// A claim is bound.
    pub claim_bound: Duration,
    /// A persistent volume is reclaimed.
    pub pv_reclaim: Duration,
    /// A persistent volume is bound.
    pub pv_bound: Duration,
    /// A persistent volume is created.
    pub pv_create: Duration,
    /// A persistent volume is deleted.
    pub pv_delete: Duration,
    /// A persistent volume is deleted, slow variant.
    pub pv_delete_slow: Duration,
    /// A snapshot is created.
    pub snapshot_create: Duration,
    /// A snapshot is deleted.
    pub snapshot_delete: Duration,
    /// The snapshot controller's metrics appear.
    pub snapshot_controller_metrics: Duration,
    /// System pods start.
    pub system_pods_startup: Duration,
    /// Nodes become schedulable.
    pub node_schedulable: Duration,
    /// System daemon sets start.
    pub system_daemonset_startup: Duration,
    /// A node becomes not ready.
    pub node_not_ready: Duration,
    /// The default ServiceAccount and `kube-root-ca.crt` appear in a new namespace.
    pub service_account_provision: Duration,
    /// A namespace is gone after its deletion was issued.
    pub namespace_delete: Duration,
}

const fn min(m: u64) -> Duration {
    Duration::from_secs(m * 60)
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            poll: Duration::from_secs(2),
            pod_start: min(5),
            pod_start_short: min(2),
            pod_start_slow: min(15),
            pod_delete: min(5),
            claim_provision: min(5),
            claim_provision_short: min(1),
            data_source_provision: min(5),
            claim_bound: min(3),
            pv_reclaim: min(3),
            pv_bound: min(3),
            pv_create: min(3),
            pv_delete: min(5),
            pv_delete_slow: min(20),
            snapshot_create: min(5),
            snapshot_delete: min(5),
            snapshot_controller_metrics: min(5),
            system_pods_startup: min(10),
            node_schedulable: min(30),
            system_daemonset_startup: min(5),
            node_not_ready: min(3),
            service_account_provision: min(2),
            namespace_delete: min(5),
        }
    }
}

impl Timeouts {
    /// Every field multiplied by `factor` (values ≤ 0 or not finite leave them unchanged).
    /// The poll interval is not scaled: a slower cluster needs longer waits, not rarer checks.
    pub fn scaled(&self, factor: f64) -> Timeouts {
        if !(factor.is_finite() && factor > 0.0) {
            return self.clone();
        }
        let s = |d: Duration| d.mul_f64(factor);
        Timeouts {
            poll: self.poll,
            pod_start: s(self.pod_start),
            pod_start_short: s(self.pod_start_short),
            pod_start_slow: s(self.pod_start_slow),
            pod_delete: s(self.pod_delete),
            claim_provision: s(self.claim_provision),
            claim_provision_short: s(self.claim_provision_short),
            data_source_provision: s(self.data_source_provision),
            claim_bound: s(self.claim_bound),
            pv_reclaim: s(self.pv_reclaim),
            pv_bound: s(self.pv_bound),
            pv_create: s(self.pv_create),
            pv_delete: s(self.pv_delete),
            pv_delete_slow: s(self.pv_delete_slow),
            snapshot_create: s(self.snapshot_create),
            snapshot_delete: s(self.snapshot_delete),
            snapshot_controller_metrics: s(self.snapshot_controller_metrics),
            system_pods_startup: s(self.system_pods_startup),
            node_schedulable: s(self.node_schedulable),
            system_daemonset_startup: s(self.system_daemonset_startup),
            node_not_ready: s(self.node_not_ready),
            service_account_provision: s(self.service_account_provision),
            namespace_delete: s(self.namespace_delete),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_upstreams() {
        let t = Timeouts::default();
        assert_eq!(t.poll, Duration::from_secs(2));
        assert_eq!(t.pod_start, Duration::from_secs(300));
        assert_eq!(t.pod_start_short, Duration::from_secs(120));
        assert_eq!(t.claim_provision, Duration::from_secs(300));
        assert_eq!(t.node_schedulable, Duration::from_secs(1800));
    }

    #[test]
    fn scaling_multiplies_waits_not_polling() {
        let t = Timeouts::default().scaled(2.0);
        assert_eq!(t.pod_start, Duration::from_secs(600));
        assert_eq!(t.poll, Duration::from_secs(2));
        assert_eq!(Timeouts::default().scaled(-1.0), Timeouts::default());
        assert_eq!(Timeouts::default().scaled(f64::NAN), Timeouts::default());
    }
}
