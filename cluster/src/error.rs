//! Errors of the local cluster.

use std::path::{Path, PathBuf};

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong while building assets or running the local cluster.
///
/// Messages read after "failed to" and name the file, component or command involved.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file or directory could not be read or written.
    #[error("access {}", crate::report::shown_path(.path))]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A certificate or key could not be generated.
    #[error("{what}")]
    Pki {
        /// What was being generated.
        what: String,
        /// The cause.
        #[source]
        source: rcgen::Error,
    },
    /// A tool the build needs is missing.
    #[error("find `{tool}` on PATH: {hint}")]
    MissingTool {
        /// The tool.
        tool: String,
        /// How to install it.
        hint: String,
    },
    /// A Go build failed.
    #[error("build {binaries} from {module} (exit status {status}); last output:\n{tail}")]
    Build {
        /// The binaries being built.
        binaries: String,
        /// The Go module.
        module: String,
        /// The exit status.
        status: String,
        /// The last lines of the build output.
        tail: String,
    },
    /// A built binary did not report the expected version.
    #[error("verify {binary}: expected `{expected}` in its version output, got `{actual}`")]
    Verify {
        /// The binary.
        binary: PathBuf,
        /// The expected version.
        expected: String,
        /// What it printed.
        actual: String,
    },
    /// A component could not be started.
    #[error("start {component} ({binary})")]
    Spawn {
        /// The component.
        component: String,
        /// Its binary.
        binary: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A component exited while the cluster was starting or running.
    #[error("run {component}: it exited ({status}); last lines of {log}:\n{tail}")]
    ComponentExited {
        /// The component.
        component: String,
        /// How it exited, as far as known.
        status: String,
        /// Its log file.
        log: PathBuf,
        /// The log's last lines.
        tail: String,
    },
    /// The cluster did not become ready in time.
    #[error("wait for {what}: not ready after {seconds}s ({last})")]
    Timeout {
        /// What was awaited.
        what: String,
        /// How long.
        seconds: u64,
        /// The last observation.
        last: String,
    },
    /// No free TCP port could be reserved.
    #[error("reserve a free port on 127.0.0.1")]
    Port(#[source] std::io::Error),
    /// The state file of a cluster is unreadable.
    #[error("read the cluster state {}: {message}", crate::report::shown_path(.path))]
    State {
        /// The state file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// `up` was given a directory that it did not create and that is not empty: it has no
    /// ownership marker, so it is left untouched.
    #[error(
        "use {dir} as a state directory: it is not empty and has no ownership marker {marker} (kube-e2e-cluster did not create it); nothing in it was touched; name a new or empty directory with --state-dir or KUBE_E2E_STATE_DIR"
    )]
    ForeignStateDir {
        /// The directory.
        dir: PathBuf,
        /// The marker file looked for.
        marker: PathBuf,
    },
    /// `down` (or a cleanup) was given a directory without the ownership marker `up` writes:
    /// nothing in it was signalled, unmounted or deleted.
    #[error(
        "trust {dir} as a state directory: it has no ownership marker {marker} (kube-e2e-cluster did not create it); nothing was signalled, unmounted or deleted"
    )]
    UnmarkedStateDir {
        /// The directory.
        dir: PathBuf,
        /// The marker file looked for.
        marker: PathBuf,
    },
    /// The Kubernetes client failed.
    #[error("{what}")]
    Kube {
        /// What was being done.
        what: String,
        /// The cause.
        #[source]
        source: Box<kube::Error>,
    },
    /// The kubeconfig could not be loaded.
    #[error("load the kubeconfig {path}")]
    Kubeconfig {
        /// The kubeconfig.
        path: PathBuf,
        /// The cause.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A system command failed.
    #[error("run `{command}` ({status}): {output}")]
    Command {
        /// The command line.
        command: String,
        /// Its exit status.
        status: String,
        /// What it printed on stderr.
        output: String,
    },
    /// A setting is not supported yet.
    #[error("{0}")]
    Unsupported(String),
    /// A signal could not be sent to a process.
    #[error("signal process {pid} ({component})")]
    Signal {
        /// The process.
        pid: i32,
        /// The component it runs.
        component: String,
        /// The cause.
        #[source]
        source: nix::Error,
    },
    /// No component of the cluster has this name.
    #[error("find component `{name}` in the cluster state (known components: {})", .known.join(", "))]
    UnknownComponent {
        /// The name asked for.
        name: String,
        /// The cluster's components, in start order.
        known: Vec<String>,
    },
    /// A container image could not be built, imported or listed.
    #[error("{what}: {message}")]
    Image {
        /// What was being done, naming the image, archive or socket.
        what: String,
        /// What went wrong (for `ctr`, its exit status and stderr).
        message: String,
    },
}

impl Error {
    /// An adapter for `map_err` that wraps an I/O error with its path.
    pub fn io(path: impl AsRef<Path>) -> impl FnOnce(std::io::Error) -> Error {
        let path = path.as_ref().to_path_buf();
        move |source| Error::Io { path, source }
    }

    /// An adapter for `map_err` that wraps a client error with what was being done.
    pub fn kube(what: impl Into<String>) -> impl FnOnce(kube::Error) -> Error {
        let what = what.into();
        move |source| Error::Kube {
            what,
            source: Box::new(source),
        }
    }
}
