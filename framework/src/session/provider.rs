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
use tracing::Instrument as _;

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
    /// The cluster did not answer (or answered wrongly) when first asked for its version.
    #[error("cluster at {server} ({source_of}) is not reachable: {reason}")]
    Unreachable {
        /// The API server's URL.
        server: String,
        /// Where the connection came from: the kubeconfig path and context.
        source_of: String,
        /// Why, in one line.
        reason: String,
    },
    /// The kubeconfig's exec credential plugin cannot be run.
    #[error(
        "kubeconfig {path}: user `{user}` needs the exec credential plugin `{command}`, which {problem}"
    )]
    ExecPlugin {
        /// The kubeconfig.
        path: String,
        /// The kubeconfig user.
        user: String,
        /// The plugin command.
        command: String,
        /// `is not on PATH`, `does not exist`.
        problem: String,
    },
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
                    .instrument(tracing::info_span!("local_cluster_up"))
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
        let mut config = config;
        // A server that accepts connections and never answers must not hang the run.
        config.connect_timeout = Some(CONNECT_TIMEOUT);
        let server = config.cluster_url.to_string();
        let client =
            super::client::build_client(config).map_err(|e| ProviderError::Client(Box::new(e)))?;
        // One question up front, so that an unreachable cluster is one error naming it — not
        // a failure in every spec.
        let source_of = match &self.context {
            Some(c) => format!("{what}, context {c}"),
            None => what.clone(),
        };
        let unreachable = |reason: String| ProviderError::Unreachable {
            server: server.clone(),
            source_of: source_of.clone(),
            reason,
        };
        let probe = tokio::time::timeout(PROBE_TIMEOUT, client.apiserver_version())
            .instrument(tracing::info_span!("probe", %server));
        match probe.await {
            Ok(Ok(_)) => Ok((client, what)),
            Ok(Err(e)) => Err(unreachable(crate::error::error_chain(&e))),
            Err(_) => Err(unreachable(format!(
                "no answer to GET /version within {PROBE_TIMEOUT:?}"
            ))),
        }
    }

    #[tracing::instrument(level = "info", skip_all, fields(path = %path.display()))]
    async fn load_kubeconfig(&self, path: &std::path::Path) -> Result<kube::Config, ProviderError> {
        let err = |source: Box<dyn std::error::Error + Send + Sync>| ProviderError::Kubeconfig {
            path: crate::config::param::shorten(&path.display().to_string()).into_owned(),
            source,
        };
        // Only a regular file: a FIFO given as kubeconfig would block the run forever.
        crate::config::param::ensure_regular_file(path).map_err(|e| err(Box::new(e)))?;
        let kc = kube::config::Kubeconfig::read_from(path).map_err(|e| err(Box::new(e)))?;
        register_secrets(&kc);
        check_exec_plugin(&kc, self.context.as_deref(), path)?;
        check_certificate_authorities(&kc, path)?;
        let options = kube::config::KubeConfigOptions {
            context: self.context.clone(),
            ..Default::default()
        };
        kube::Config::from_custom_kubeconfig(kc, &options)
            .await
            .map_err(|e| err(Box::new(e)))
    }
}

/// Registers the kubeconfig's credentials (tokens, token files, passwords, client key data)
/// with the report redaction, so that none of them reaches a log, a report or a dump, however
/// a spec or an error happens to print it.
fn register_secrets(kc: &kube::config::Kubeconfig) {
    use secrecy::ExposeSecret as _;
    let register = kube_e2e_runner::report::redact::register_secret;
    for named in &kc.auth_infos {
        let Some(user) = &named.auth_info else {
            continue;
        };
        for secret in [&user.token, &user.password, &user.client_key_data]
            .into_iter()
            .flatten()
        {
            register(secret.expose_secret());
        }
        if let Some(file) = &user.token_file
            && let Ok(token) = crate::config::param::read_regular_file(std::path::Path::new(file))
        {
            register(&token);
        }
    }
}

/// How long connecting to the API server may take.
const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);
/// How long the first request (TLS handshake included) may take.
const PROBE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(15);

/// Every cluster's `certificate-authority-data` must be a PEM certificate: garbage there is
/// otherwise ignored and shows up much later as an unknown issuer.
fn check_certificate_authorities(
    kc: &kube::config::Kubeconfig,
    path: &std::path::Path,
) -> Result<(), ProviderError> {
    use base64::Engine as _;
    for named in &kc.clusters {
        let Some(data) = named
            .cluster
            .as_ref()
            .and_then(|c| c.certificate_authority_data.as_ref())
        else {
            continue;
        };
        let decoded = base64::engine::general_purpose::STANDARD.decode(data.trim());
        let pem = decoded
            .as_deref()
            .ok()
            .and_then(|b| std::str::from_utf8(b).ok())
            .is_some_and(|t| t.contains("-----BEGIN CERTIFICATE-----"));
        if !pem {
            return Err(ProviderError::Kubeconfig {
                path: path.display().to_string(),
                source: format!(
                    "cluster `{}`: certificate-authority-data is not a base64-encoded PEM certificate",
                    named.name
                )
                .into(),
            });
        }
    }
    Ok(())
}

/// The exec credential plugin of the context's user must exist: kube's own error does not name
/// it.
fn check_exec_plugin(
    kc: &kube::config::Kubeconfig,
    context: Option<&str>,
    path: &std::path::Path,
) -> Result<(), ProviderError> {
    let Some(context_name) = context.or(kc.current_context.as_deref()) else {
        return Ok(());
    };
    let Some(user) = kc
        .contexts
        .iter()
        .find(|c| c.name == context_name)
        .and_then(|c| c.context.as_ref())
        .and_then(|c| c.user.clone())
    else {
        return Ok(());
    };
    let Some(command) = kc
        .auth_infos
        .iter()
        .find(|a| a.name == user)
        .and_then(|a| a.auth_info.as_ref())
        .and_then(|a| a.exec.as_ref())
        .and_then(|e| e.command.clone())
    else {
        return Ok(());
    };
    let problem = if command.contains('/') {
        (!std::path::Path::new(&command).is_file()).then(|| "does not exist".to_string())
    } else {
        let on_path = std::env::var_os("PATH")
            .map(|p| std::env::split_paths(&p).any(|d| d.join(&command).is_file()))
            .unwrap_or(false);
        (!on_path).then(|| "is not on PATH".to_string())
    };
    match problem {
        None => Ok(()),
        Some(problem) => Err(ProviderError::ExecPlugin {
            path: path.display().to_string(),
            user,
            command,
            problem,
        }),
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

    fn kubeconfig(dir: &std::path::Path, server: &str, user: &str) -> PathBuf {
        let path = dir.join("kubeconfig");
        std::fs::write(
            &path,
            format!(
                "apiVersion: v1\nkind: Config\ncurrent-context: c\nclusters:\n- name: k\n  cluster:\n    server: {server}\n    insecure-skip-tls-verify: true\ncontexts:\n- name: c\n  context:\n    cluster: k\n    user: u\nusers:\n- name: u\n  user:\n{user}"
            ),
        )
        .unwrap();
        path
    }

    async fn connect_error(path: PathBuf) -> String {
        match connection(path).connect().await {
            Ok(_) => panic!("expected a connection error"),
            Err(e) => e.to_string(),
        }
    }

    fn connection(path: PathBuf) -> Connection {
        Connection {
            provider: Provider::Skeleton,
            kubeconfig: Some(path),
            context: None,
            local_nodes: LocalNodes::Simulated,
        }
    }

    const TOKEN: &str = "    token: t\n";

    #[tokio::test]
    async fn a_refused_connection_is_one_error_naming_server_and_kubeconfig() {
        let dir = tempfile::tempdir().unwrap();
        // A port nothing listens on: bind, note the port, close.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let path = kubeconfig(dir.path(), &format!("https://127.0.0.1:{port}"), TOKEN);
        let e = connect_error(path.clone()).await;
        assert!(
            e.starts_with(&format!(
                "cluster at https://127.0.0.1:{port}/ (kubeconfig {}) is not reachable:",
                path.display()
            )) && e.contains("Connection refused"),
            "{e}"
        );
    }

    #[tokio::test]
    async fn a_server_that_never_answers_times_out() {
        let dir = tempfile::tempdir().unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        // Accepts and holds every connection, never writes a byte.
        let held = tokio::spawn(async move {
            let mut conns = Vec::new();
            while let Ok((c, _)) = listener.accept().await {
                conns.push(c);
            }
        });
        let path = kubeconfig(dir.path(), &format!("https://127.0.0.1:{port}"), TOKEN);
        let started = std::time::Instant::now();
        let e = connect_error(path).await;
        assert!(e.contains("is not reachable"), "{e}");
        assert!(
            started.elapsed() < PROBE_TIMEOUT + std::time::Duration::from_secs(5),
            "bounded: {:?}",
            started.elapsed()
        );
        held.abort();
    }

    #[tokio::test]
    async fn a_garbage_certificate_authority_is_refused_at_load() {
        let dir = tempfile::tempdir().unwrap();
        let path = kubeconfig(dir.path(), "https://127.0.0.1:1", TOKEN);
        let text = std::fs::read_to_string(&path).unwrap().replace(
            "insecure-skip-tls-verify: true",
            "certificate-authority-data: Z2FyYmFnZQ==",
        );
        std::fs::write(&path, text).unwrap();
        let e = match connection(path.clone()).connect().await {
            Ok(_) => panic!("expected an error"),
            Err(e) => format!("{e}: {}", std::error::Error::source(&e).unwrap()),
        };
        assert_eq!(
            e,
            format!(
                "failed to load kubeconfig {}: cluster `k`: certificate-authority-data is not a base64-encoded PEM certificate",
                path.display()
            )
        );
    }

    #[tokio::test]
    async fn a_missing_exec_plugin_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let user = "    exec:\n      apiVersion: client.authentication.k8s.io/v1\n      command: kube-e2e-no-such-plugin\n";
        let path = kubeconfig(dir.path(), "https://127.0.0.1:1", user);
        let e = connect_error(path.clone()).await;
        assert_eq!(
            e,
            format!(
                "kubeconfig {}: user `u` needs the exec credential plugin `kube-e2e-no-such-plugin`, which is not on PATH",
                path.display()
            )
        );
    }
}
