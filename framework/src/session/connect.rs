//! [`Session`]: what one test process shares between its specs — the client, the run id, the
//! settings from the `framework.*` parameters, the image mapping, the test-file sources, and the
//! namespace deletions still in flight.
//!
//! The runner's specs use [`Session::global`], created on first use from the parsed parameters;
//! tools and benchmarks build their own with [`Session::connect`].

use crate::config::param::Params;
use crate::error::FrameworkError;
use crate::images::ImageMap;
use crate::manifest::testfiles::TestFiles;
use crate::namespace::Deletions;
use crate::namespace::readiness::Readiness;
use crate::namespace::spares::Spares;
use crate::session::provider::{Connection, LocalNodes, Provider};
use crate::timeouts::Timeouts;
use std::path::PathBuf;
use std::sync::Arc;
use tracing::Instrument as _;

crate::param!(
    "framework.kubeconfig",
    String,
    None,
    "kubeconfig file of the cluster under test (else KUBECONFIG; with neither, the local cluster)"
);
crate::param!(
    "framework.context",
    String,
    None,
    "kubeconfig context to use"
);
crate::param!(
    "framework.provider",
    String,
    None,
    "skeleton | local (default: skeleton with a kubeconfig or in a pod, else local)"
);
crate::param!(
    "framework.local-nodes",
    String,
    Some("simulated"),
    "nodes of the local cluster when this run starts it: simulated (kwok) | real (kubelet and containerd; needs root)"
);
crate::param!(
    "framework.delete-namespace",
    String,
    Some("delete"),
    "test namespaces after each spec: delete | keep-on-failure | never"
);
crate::param!(
    "framework.timeout-scale",
    Float,
    Some("1"),
    "factor applied to every framework timeout, for slow clusters"
);
crate::param!(
    "framework.repo-root",
    String,
    None,
    "directory searched for test files before the embedded ones (kube_e2e::embed_test_files!)"
);
crate::param!(
    "framework.image-repo-list",
    String,
    None,
    "image registry mapping file (else KUBE_TEST_REPO_LIST)"
);
crate::param!(
    "framework.run-id",
    String,
    None,
    "id of this run, set as label e2e-run on everything it creates (default: random)"
);
crate::param!(
    "framework.cleanup",
    String,
    None,
    "remove leftovers labelled with this run id (or `all` runs) instead of running specs"
);
crate::param!(
    "framework.dump-on-failure",
    Bool,
    Some("true"),
    "write events, pod statuses and logs of a failed spec's namespaces to the report dir"
);

crate::param!(
    "framework.wait-for-deletions",
    Bool,
    Some("false"),
    "after the specs, wait until their namespaces are gone (bounded by the namespace-delete timeout; fails the run if one hangs) instead of exiting once the deletions are issued"
);
crate::param!(
    "framework.stuck-namespace-after",
    Duration,
    Some("5m"),
    "at start, report namespaces of earlier runs still Terminating for longer than this, with what keeps them"
);

/// What happens to a spec's namespaces at teardown (`--framework.delete-namespace`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DeletePolicy {
    /// Always delete.
    #[default]
    Delete,
    /// Delete, except when the spec failed (to inspect it afterwards).
    KeepOnFailure,
    /// Never delete.
    Never,
}

impl DeletePolicy {
    /// Parses `delete`, `keep-on-failure` or `never`.
    ///
    /// # Errors
    ///
    /// [`FrameworkError::Setting`] for anything else.
    pub fn parse(text: &str) -> Result<Self, FrameworkError> {
        match text.trim() {
            "delete" | "always" | "true" => Ok(DeletePolicy::Delete),
            "keep-on-failure" => Ok(DeletePolicy::KeepOnFailure),
            "never" | "false" => Ok(DeletePolicy::Never),
            other => Err(FrameworkError::Setting {
                key: "framework.delete-namespace",
                value: other.to_string(),
                expected: "delete, keep-on-failure or never",
            }),
        }
    }

    /// Whether namespaces are deleted after a spec that `failed` or not.
    pub fn deletes(self, failed: bool) -> bool {
        match self {
            DeletePolicy::Delete => true,
            DeletePolicy::KeepOnFailure => !failed,
            DeletePolicy::Never => false,
        }
    }
}

/// Settings of the framework, from the `framework.*` parameters.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Where the cluster comes from.
    pub connection: Connection,
    /// What happens to test namespaces after a spec.
    pub delete_namespace: DeletePolicy,
    /// Timeouts, already scaled.
    pub timeouts: Timeouts,
    /// Extra directory searched for test files first.
    pub repo_root: Option<PathBuf>,
    /// The image mapping file.
    pub image_repo_list: Option<PathBuf>,
    /// The run id; random when not given.
    pub run_id: String,
    /// Dump failed specs' namespaces.
    pub dump_on_failure: bool,
    /// Wait for the namespace deletions after the specs.
    pub wait_for_deletions: bool,
    /// Namespaces of earlier runs Terminating longer than this are reported at start.
    pub stuck_namespace_after: std::time::Duration,
}

/// Whether `s` is a valid label value (the run id labels every namespace of the run).
fn is_label_value(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() <= 63
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || b"-_.".contains(c))
        && b.first().is_some_and(u8::is_ascii_alphanumeric)
        && b.last().is_some_and(u8::is_ascii_alphanumeric)
}

/// A random run id: 12 hex digits.
pub fn random_run_id() -> String {
    format!("{:012x}", rand::random::<u64>() & 0xffff_ffff_ffff)
}

impl Settings {
    /// Settings from parsed parameters and the environment (`KUBECONFIG`, `KUBE_TEST_REPO_LIST`).
    ///
    /// # Errors
    ///
    /// An unknown provider or deletion policy.
    pub fn from_params(params: &Params) -> Result<Self, FrameworkError> {
        let nonempty = |s: Option<String>| s.filter(|s| !s.trim().is_empty());
        // `KUBECONFIG=""` means unset; only blanks is a mistake, not a request for the local
        // cluster.
        // Read as bytes: a path that is not UTF-8 is still a kubeconfig given, never a
        // reason to fall back to the local cluster.
        let env_kubeconfig = std::env::var_os("KUBECONFIG").filter(|v| !v.is_empty());
        if let Some(v) = &env_kubeconfig
            && v.to_str().is_some_and(|v| v.trim().is_empty())
        {
            return Err(FrameworkError::Setting {
                key: "KUBECONFIG",
                value: v.to_string_lossy().into_owned(),
                expected: "a kubeconfig path (or unset it to use the local cluster)",
            });
        }
        let kubeconfig = nonempty(params.string("framework.kubeconfig"))
            .map(std::ffi::OsString::from)
            .or(env_kubeconfig)
            .map(|s| {
                // KUBECONFIG may list several files; the first is the one we read.
                std::env::split_paths(&s).next().unwrap_or_default()
            });
        let provider = match nonempty(params.string("framework.provider")) {
            Some(name) => Provider::parse(&name)?,
            None => Provider::detect(kubeconfig.as_ref()),
        };
        let delete_namespace = DeletePolicy::parse(
            &params
                .string("framework.delete-namespace")
                .unwrap_or_else(|| "delete".into()),
        )?;
        let scale = match params.get("framework.timeout-scale") {
            Some(crate::config::param::ParamValue::Float(f)) => *f,
            _ => 1.0,
        };
        // Scaled timeouts must stay real durations: above zero, at most a thousandfold.
        if !(scale.is_finite() && scale > 0.0 && scale <= 1000.0) {
            return Err(FrameworkError::Setting {
                key: "framework.timeout-scale",
                value: if scale.abs() >= 1e6 {
                    format!("{scale:e}")
                } else {
                    scale.to_string()
                },
                expected: "a number above 0 and at most 1000",
            });
        }
        Ok(Settings {
            connection: Connection {
                provider,
                kubeconfig: if provider == Provider::Local {
                    None
                } else {
                    kubeconfig
                },
                context: nonempty(params.string("framework.context")),
                local_nodes: parse_local_nodes(
                    &params
                        .string("framework.local-nodes")
                        .unwrap_or_else(|| "simulated".into()),
                )?,
            },
            delete_namespace,
            timeouts: Timeouts::default().scaled(scale),
            repo_root: nonempty(params.string("framework.repo-root")).map(PathBuf::from),
            image_repo_list: nonempty(params.string("framework.image-repo-list"))
                .or_else(|| nonempty(std::env::var("KUBE_TEST_REPO_LIST").ok()))
                .map(PathBuf::from),
            run_id: match nonempty(params.string("framework.run-id")) {
                Some(id) if is_label_value(&id) => id,
                Some(id) => {
                    return Err(FrameworkError::Setting {
                        key: "framework.run-id",
                        value: id,
                        expected: "a label value: at most 63 letters, digits, `-`, `_` or `.`, starting and ending with a letter or digit",
                    });
                }
                None => random_run_id(),
            },
            dump_on_failure: params.bool("framework.dump-on-failure").unwrap_or(true),
            wait_for_deletions: params.bool("framework.wait-for-deletions").unwrap_or(false),
            stuck_namespace_after: params
                .duration("framework.stuck-namespace-after")
                .unwrap_or(std::time::Duration::from_secs(300)),
        })
    }
}

/// One process's connection to the cluster under test, shared by its specs.
pub struct Session {
    client: kube::Client,
    settings: Settings,
    cluster: String,
    images: ImageMap,
    files: TestFiles,
    pub(crate) deletions: Deletions,
    readiness: Readiness,
    pub(crate) spares: Spares,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("cluster", &self.cluster)
            .field("run_id", &self.settings.run_id)
            .finish_non_exhaustive()
    }
}

// The session belongs to the runtime it was connected in (a kube client's worker task runs
// there), so the runner drops it when its runtime ends; the next run connects afresh.
static GLOBAL: std::sync::Mutex<Option<Arc<Session>>> = std::sync::Mutex::new(None);
static CONNECTING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn global_slot() -> std::sync::MutexGuard<'static, Option<Arc<Session>>> {
    GLOBAL.lock().unwrap_or_else(|p| p.into_inner())
}

impl Session {
    /// Connects with `settings`: starts the local cluster if that is the provider, loads the
    /// image mapping, sets up test-file sources.
    ///
    /// # Errors
    ///
    /// Connection, kubeconfig or mapping-file errors.
    pub async fn connect(settings: Settings) -> Result<Self, FrameworkError> {
        let images = match &settings.image_repo_list {
            Some(path) => ImageMap::load(path)?,
            None => ImageMap::default(),
        };
        let files = TestFiles::new(settings.repo_root.clone());
        let (client, cluster) = settings
            .connection
            .connect()
            .instrument(tracing::info_span!("connect"))
            .await?;
        tracing::info!(run_id = %settings.run_id, %cluster, "connected");
        let readiness = Readiness::start(&client);
        Ok(Session {
            client,
            settings,
            cluster,
            images,
            files,
            deletions: Deletions::default(),
            readiness,
            spares: Spares::default(),
        })
    }

    /// The process-wide session, connected on first use from the run's parameters (a spec has
    /// them in its context: `cx.params()`).
    ///
    /// # Errors
    ///
    /// As [`Session::connect`]; a failed connection is retried by the next caller.
    pub async fn global(params: &Params) -> Result<Arc<Session>, FrameworkError> {
        if let Some(s) = global_slot().clone() {
            return Ok(s);
        }
        let _one_at_a_time = CONNECTING.lock().await;
        if let Some(s) = global_slot().clone() {
            return Ok(s);
        }
        let settings = Settings::from_params(params)?;
        let session = Arc::new(Session::connect(settings).await?);
        *global_slot() = Some(session.clone());
        Ok(session)
    }

    /// The process-wide session if one was connected.
    pub fn global_if_connected() -> Option<Arc<Session>> {
        global_slot().clone()
    }

    /// Forgets the process-wide session (the runner does this when its runtime ends).
    pub fn disconnect_global() {
        global_slot().take();
    }

    /// The client.
    pub fn client(&self) -> &kube::Client {
        &self.client
    }

    /// The settings.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The run id (label `e2e-run` on everything the run creates).
    pub fn run_id(&self) -> &str {
        &self.settings.run_id
    }

    /// What the session is connected to, for logs.
    pub fn cluster(&self) -> &str {
        &self.cluster
    }

    /// The image mapping.
    pub fn images(&self) -> &ImageMap {
        &self.images
    }

    /// The test-file sources.
    pub fn files(&self) -> &TestFiles {
        &self.files
    }

    /// Waits until namespace `name` is ready for pods (its `default` ServiceAccount and
    /// `kube-root-ca.crt` exist), through the session's shared watch, or per namespace where the
    /// cluster does not allow the shared one.
    ///
    /// # Errors
    ///
    /// [`NamespaceError`](crate::namespace::NamespaceError) when it is not ready in `timeout`.
    pub async fn wait_for_namespace_ready(
        &self,
        name: &str,
        timeout: std::time::Duration,
    ) -> Result<(), crate::namespace::NamespaceError> {
        if self.readiness.wait(name, timeout).await? {
            return Ok(());
        }
        crate::namespace::wait_for_namespace_ready(&self.client, name, timeout).await
    }

    /// Issues the deletion of the namespaces made ahead that no spec took (see
    /// [`spares`](crate::namespace::spares)); returns how many.
    pub async fn release_spares(&self) -> usize {
        let names = self.spares.drain();
        for name in &names {
            match crate::namespace::delete_namespace(&self.client, name).await {
                Ok(()) => self.deletions.track(name),
                Err(e) => {
                    tracing::warn!(namespace = %name, error = %e, "deleting a namespace made ahead failed")
                }
            }
        }
        names.len()
    }

    /// Waits until every namespace deletion issued by this session has completed, up to the
    /// namespace-deletion timeout; returns the names of those still present (hanging).
    pub async fn await_deletions(&self) -> Vec<String> {
        self.deletions
            .await_all(&self.client, self.settings.timeouts.namespace_delete)
            .await
    }
}

/// The `framework.local-nodes` value.
fn parse_local_nodes(text: &str) -> Result<LocalNodes, FrameworkError> {
    LocalNodes::parse(text).ok_or_else(|| FrameworkError::Setting {
        key: "framework.local-nodes",
        value: text.trim().to_string(),
        expected: "simulated or real",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_nodes_parse_and_name_the_setting_when_wrong() {
        assert_eq!(parse_local_nodes("real").unwrap(), LocalNodes::Real);
        assert_eq!(
            parse_local_nodes(" simulated ").unwrap(),
            LocalNodes::Simulated
        );
        let e = parse_local_nodes("kind").unwrap_err().to_string();
        assert!(
            e.contains("framework.local-nodes")
                && e.contains("kind")
                && e.contains("simulated or real"),
            "{e}"
        );
    }

    #[test]
    fn a_run_id_must_be_a_label_value() {
        use crate::config::param::ParamValue;
        for good in ["ci-123", "a", "run_1.2"] {
            assert!(is_label_value(good), "{good}");
        }
        for bad in ["a b", "-a", "a-", "", &"x".repeat(64)] {
            assert!(!is_label_value(bad), "{bad}");
        }
        let params = Params::from_values([(
            "framework.run-id".to_string(),
            ParamValue::String("nightly run".into()),
        )]);
        let e = Settings::from_params(&params).unwrap_err().to_string();
        assert!(
            e.starts_with("bad value `nightly run` for `framework.run-id`: expected a label value"),
            "{e}"
        );
    }

    #[test]
    fn a_timeout_scale_that_would_break_durations_is_refused_up_front() {
        use crate::config::param::ParamValue;
        for (bad, shown) in [
            (1e300, "1e300"),
            (-5.0, "-5"),
            (0.0, "0"),
            (f64::NAN, "NaN"),
        ] {
            let params = Params::from_values([(
                "framework.timeout-scale".to_string(),
                ParamValue::Float(bad),
            )]);
            let e = Settings::from_params(&params).unwrap_err().to_string();
            assert_eq!(
                e,
                format!(
                    "bad value `{shown}` for `framework.timeout-scale`: expected a number above 0 and at most 1000"
                )
            );
        }
        let ok = Params::from_values([(
            "framework.timeout-scale".to_string(),
            ParamValue::Float(2.5),
        )]);
        assert!(Settings::from_params(&ok).is_ok());
    }
}
