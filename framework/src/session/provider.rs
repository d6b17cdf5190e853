//! Providers: where the cluster comes from.
//!
//! - `skeleton`: the cluster in the kubeconfig (`--framework.kubeconfig`, else `KUBECONFIG`,
//!   with `--framework.context`), or the pod's service account when running in a cluster.
//! - `local`: the project's own local cluster (`kube-e2e-cluster`), started when it is not up and
//!   reused when it is (state directory from `KUBE_E2E_STATE_DIR`, else the default).
//!
//! With `--framework.provider` unset the choice is automatic: a kubeconfig given by flag or
//! `KUBECONFIG` means `skeleton`, running inside a pod means `skeleton` (in-cluster), anything
//! else means `local`. `~/.kube/config` is deliberately not picked up on its own: a test run
//! never lands on whatever cluster a developer's default context points at.

use std::path::PathBuf;

/// Errors of connecting to a cluster.
#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    /// An unknown provider name.
    #[error("unknown provider {}; known providers: skeleton, local", crate::config::param::quote(.0))]
    Unknown(String),
    /// The kubeconfig could not be read or has no usable context.
    #[error("failed to load kubeconfig {path}")]
    Kubeconfig {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// In-cluster configuration failed.
    #[error("failed to load the in-cluster configuration")]
    InCluster(#[source] Box<kube::config::InClusterError>),
    /// The local cluster did not start.
    #[cfg(feature = "local")]
    #[error("failed to start the local cluster (state dir {state_dir})")]
    Local {
        /// Its state directory.
        state_dir: String,
        /// Why.
        #[source]
        source: Box<kube_e2e_cluster::Error>,
    },
    /// The `local` provider was chosen in a build without kube-e2e's `local` feature.
    #[cfg(not(feature = "local"))]
    #[error(
        "the `local` provider (chosen because no kubeconfig was given) needs kube-e2e's `local` cargo feature; set KUBECONFIG or --framework.kubeconfig, or enable the feature"
    )]
    LocalNotBuilt,
    /// The client could not be built.
    #[error("failed to build a client")]
    Client(#[source] Box<kube::Error>),
}

/// The provider of the cluster under test.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Provider {
    /// The cluster in the kubeconfig (or in-cluster), nothing more.
    Skeleton,
    /// The project's local cluster, started or reused.
    Local,
}

impl Provider {
    /// Parses a provider name (`skeleton`, `local`).
    ///
    /// # Errors
    ///
    /// [`ProviderError::Unknown`] naming the known providers.
    pub fn parse(name: &str) -> Result<Self, ProviderError> {
        match name.trim() {
            "skeleton" => Ok(Provider::Skeleton),
            "local" => Ok(Provider::Local),
            other => Err(ProviderError::Unknown(other.to_string())),
        }
    }

    /// The provider's name.
    pub fn name(self) -> &'static str {
        match self {
            Provider::Skeleton => "skeleton",
            Provider::Local => "local",
        }
    }

    /// The automatic choice: `skeleton` with a kubeconfig or inside a pod, else `local`.
    pub fn detect(kubeconfig: Option<&PathBuf>) -> Self {
        let in_cluster = std::env::var_os("KUBERNETES_SERVICE_HOST").is_some()
            && std::path::Path::new("/var/run/secrets/kubernetes.io/serviceaccount/token").exists();
        if kubeconfig.is_some() || in_cluster {
            Provider::Skeleton
        } else {
            Provider::Local
        }
    }
}

/// Where to connect: resolved from the framework parameters.
#[derive(Clone, Debug)]
pub struct Connection {
    /// The provider.
    pub provider: Provider,
    /// The kubeconfig file (flag, else `KUBECONFIG`); `None` for in-cluster or `local`.
    pub kubeconfig: Option<PathBuf>,
    /// The kubeconfig context; `None` for the current one.
    pub context: Option<String>,
    /// The kind of nodes `local` starts a cluster with (a running cluster is reused as it is).
    pub local_nodes: LocalNodes,
}

/// The kind of nodes the `local` provider starts a cluster with (`--framework.local-nodes`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LocalNodes {
    /// kwok-simulated nodes only.
    #[default]
    Simulated,
    /// A real node (containerd, kubelet) beside the simulated ones; needs root.
    Real,
}

impl LocalNodes {
    /// Parses `simulated` or `real`.
    pub fn parse(text: &str) -> Option<Self> {
        match text.trim() {
            "simulated" => Some(LocalNodes::Simulated),
            "real" => Some(LocalNodes::Real),
            _ => None,
        }
    }
}

impl Connection {
    /// Connects: for `local` starts or reuses the local cluster; returns the client and a
    /// description of the cluster for logs.
    ///
    /// # Errors
    ///
    /// See [`ProviderError`].
    pub async fn connect(&self) -> Result<(kube::Client, String), ProviderError> {
        let (config, what) = match self.provider {
            #[cfg(not(feature = "local"))]
            Provider::Local => return Err(ProviderError::LocalNotBuilt),
            #[cfg(feature = "local")]
            Provider::Local => {
                let mut options = kube_e2e_cluster::ClusterOptions::new();
                options.nodes = match self.local_nodes {
                    LocalNodes::Simulated => kube_e2e_cluster::NodeMode::Simulated,
                    LocalNodes::Real => kube_e2e_cluster::NodeMode::Real,
                };
                let state_dir = kube_e2e_cluster::default_state_dir();
                let mut progress = |line: &str| eprintln!("local cluster: {line}");
                let (cluster, _) = kube_e2e_cluster::LocalCluster::up(&options, &mut progress)
                    .await
                    .map_err(|source| ProviderError::Local {
                        state_dir: state_dir.display().to_string(),
                        source: Box::new(source),
                    })?;
                let path = cluster.kubeconfig_path();
                let config = self.load_kubeconfig(&path).await?;
                (config, format!("local cluster ({})", path.display()))
            }
            Provider::Skeleton => match &self.kubeconfig {
                Some(path) => (
                    self.load_kubeconfig(path).await?,
                    format!("kubeconfig {}", path.display()),
                ),
                None => (
                    kube::Config::incluster().map_err(|e| ProviderError::InCluster(Box::new(e)))?,
                    "in-cluster service account".to_string(),
                ),
            },
        };
        let client =
            kube::Client::try_from(config).map_err(|e| ProviderError::Client(Box::new(e)))?;
        Ok((client, what))
    }

    async fn load_kubeconfig(&self, path: &std::path::Path) -> Result<kube::Config, ProviderError> {
        let err = |source: Box<dyn std::error::Error + Send + Sync>| ProviderError::Kubeconfig {
            path: path.display().to_string(),
            source,
        };
        // Only a regular file: a FIFO given as kubeconfig would block the run forever.
        crate::config::param::ensure_regular_file(path).map_err(|e| err(Box::new(e)))?;
        let kc = kube::config::Kubeconfig::read_from(path).map_err(|e| err(Box::new(e)))?;
        let options = kube::config::KubeConfigOptions {
            context: self.context.clone(),
            ..Default::default()
        };
        kube::Config::from_custom_kubeconfig(kc, &options)
            .await
            .map_err(|e| err(Box::new(e)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn providers_parse_and_detect() {
        assert_eq!(Provider::parse("local").unwrap(), Provider::Local);
        let e = Provider::parse("gce").unwrap_err().to_string();
        assert!(
            e.contains("unknown provider `gce`") && e.contains("skeleton, local"),
            "{e}"
        );
        let e = Provider::parse(&"p".repeat(60_000))
            .unwrap_err()
            .to_string();
        assert!(e.len() < 400 && e.contains("(60000 characters)"), "{e}");
        let path = PathBuf::from("/x/kubeconfig");
        assert_eq!(Provider::detect(Some(&path)), Provider::Skeleton);
    }
}
