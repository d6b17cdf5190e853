//! The hostile-input corpus (`tests/hostile/*.yaml`): careless and hostile command lines,
//! environment variables and files given to the built binaries — a runner suite (the runner's
//! `fixture-suite`), the quickstart suite (the framework's options), `kube-e2e-storage` and
//! `kube-e2e-cluster`. Each case says the exit code and the words the message must have (the
//! flag, file or key at fault); every case also must not panic, must not hang (a child gets
//! [`TIMEOUT`], then its process group is killed and the case fails by name), and must not
//! repeat more than 200 characters of a long value it was given.
//!
//! No case needs or touches a cluster: every child runs with a fresh temporary `HOME`,
//! `KUBE_E2E_STATE_DIR`, `KUBE_E2E_CACHE_DIR` and `KUBECONFIG` (the test command's own
//! `KUBECONFIG` is not passed on), so the cases pass the same with a cluster up or not. The
//! `kube-e2e-cluster` cases are only ones refused before anything starts or stops.
//!
//! A case in the corpus:
//!
//! ```yaml
//! - name: label-filter-unclosed       # unique in the file
//!   args: ["--label-filter", "(Slow"] # a value is text, {repeat: TEXT, times: N,
//!                                     # before: TEXT, after: TEXT} or {bytes: [255, 0]}
//!   env: {KUBE_E2E_SEED: "x"}         # added to the binary's defaults (below)
//!   unset: [KUBECONFIG]               # defaults removed
//!   files:                            # created in the case's directory first
//!     - {path: e2e.yaml, text: "runner.focs: x\n"}   # kind: file (default), fifo, dir,
//!                                                    # symlink (with target), socket;
//!                                                    # mode: 0 (permission bits)
//!   uid: 65534                        # run as this user (the test runs as root), so that a
//!                                     # root-owned file with mode 0 is unreadable
//!   exit: 2
//!   words: ["invalid label filter", "column 6"]
//!   absent: ["Usage:"]
//! ```
//!
//! Text may hold `{dir}` (the case's directory), `{closed}` (`127.0.0.1:1`, where nothing
//! listens) and `{silent}` (a listener that accepts connections and never answers).

mod support;

use serde::Deserialize;
use std::collections::BTreeMap;
use std::ffi::OsString;
use std::io::Read;
use std::os::unix::ffi::OsStringExt as _;
use std::os::unix::process::{CommandExt as _, ExitStatusExt as _};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How long a child may run before the case fails as a hang.
const TIMEOUT: Duration = Duration::from_secs(30);

/// Output longer than this (stdout and stderr together) fails a case: a message must not
/// flood the terminal.
const DEFAULT_MAX_OUTPUT: usize = 16 * 1024;

/// The corpus files and the binary each one drives.
const CORPUS: &[(&str, Binary)] = &[
    ("runner.yaml", Binary::Runner),
    ("framework.yaml", Binary::Quickstart),
    ("storage.yaml", Binary::Storage),
    ("cluster.yaml", Binary::Cluster),
];

#[derive(Clone, Copy, Debug)]
enum Binary {
    /// The runner's `fixture-suite` example, with its specs registered.
    Runner,
    /// The quickstart suite (the framework takes part).
    Quickstart,
    /// `kube-e2e-storage`.
    Storage,
    /// `kube-e2e-cluster`.
    Cluster,
}

impl Binary {
    fn path(self) -> PathBuf {
        match self {
            Binary::Runner => support::executable("example", "fixture-suite"),
            Binary::Quickstart => support::executable("test", "quickstart"),
            Binary::Storage => support::executable("bin", "kube-e2e-storage"),
            Binary::Cluster => support::executable("bin", "kube-e2e-cluster"),
        }
    }

    /// The environment every case of this binary starts from (after the common one).
    fn defaults(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Binary::Runner => &[
                ("KUBE_E2E_FIXTURE", "1"),
                ("FIXTURE_EVENTS", "{dir}/events"),
            ],
            // A kubeconfig whose server refuses connections: a case that got past its
            // up-front check fails fast instead of reaching for a cluster.
            Binary::Quickstart | Binary::Storage => &[("KUBECONFIG", "{dir}/closed.kubeconfig")],
            // No Go download and no usable binary cache: a case that got past its up-front
            // check fails at once instead of building a cluster.
            Binary::Cluster => &[
                ("KUBECONFIG", "{dir}/closed.kubeconfig"),
                ("KUBE_E2E_CACHE_DIR", "{dir}/not-a-cache"),
                ("GOPROXY", "off"),
                ("GOFLAGS", "-mod=mod"),
            ],
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    name: String,
    #[serde(default)]
    args: Vec<Value>,
    #[serde(default)]
    env: BTreeMap<String, Value>,
    #[serde(default)]
    unset: Vec<String>,
    #[serde(default)]
    files: Vec<FileSpec>,
    /// The working directory, relative to the case's directory.
    #[serde(default)]
    cwd: Option<String>,
    exit: i32,
    #[serde(default)]
    words: Vec<String>,
    #[serde(default)]
    absent: Vec<String>,
    #[serde(default)]
    max_output: Option<usize>,
    /// Run the binary as this user id (and group id) instead of the test's own (root): how a
    /// file the user may not read is tried. The case's directory, `HOME` and state directory
    /// are then that user's.
    #[serde(default)]
    uid: Option<u32>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(untagged, deny_unknown_fields)]
enum Value {
    Text(String),
    Repeat {
        repeat: String,
        times: usize,
        #[serde(default)]
        before: String,
        #[serde(default)]
        after: String,
    },
    Bytes {
        bytes: Vec<u8>,
    },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSpec {
    path: String,
    #[serde(default)]
    kind: FileKind,
    #[serde(default)]
    text: Option<Value>,
    #[serde(default)]
    target: Option<String>,
    /// Permission bits set once the file is made (for example `0` for unreadable).
    #[serde(default)]
    mode: Option<u32>,
}

#[derive(Debug, Default, Deserialize, PartialEq)]
#[serde(rename_all = "lowercase")]
enum FileKind {
    #[default]
    File,
    Fifo,
    Dir,
    Symlink,
    Socket,
}

/// What a case's text placeholders stand for.
struct Places {
    dir: PathBuf,
    silent: String,
}

impl Places {
    fn fill(&self, text: &str) -> String {
        text.replace("{dir}", &self.dir.display().to_string())
            .replace("{closed}", "127.0.0.1:1")
            .replace("{silent}", &self.silent)
    }

    fn bytes(&self, value: &Value) -> Vec<u8> {
        match value {
            Value::Text(t) => self.fill(t).into_bytes(),
            Value::Repeat {
                repeat,
                times,
                before,
                after,
            } => {
                let mut s = self.fill(before);
                s.push_str(&repeat.repeat(*times));
                s.push_str(&self.fill(after));
                s.into_bytes()
            }
            Value::Bytes { bytes } => bytes.clone(),
        }
    }

    fn os(&self, value: &Value) -> OsString {
        OsString::from_vec(self.bytes(value))
    }
}

/// A listener that accepts connections and never answers; lives as long as the test.
fn silent_server() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("binding a local port");
    let addr = listener.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for conn in listener.incoming().flatten() {
            held.push(conn);
        }
    });
    addr
}

fn kubeconfig(server: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: https://{server}\n    insecure-skip-tls-verify: true\ncontexts:\n- name: c\n  context: {{cluster: c, user: u}}\ncurrent-context: c\nusers:\n- name: u\n  user: {{token: not-a-secret}}\n"
    )
}

fn make_files(case: &Case, places: &Places) -> Result<(), String> {
    let dir = &places.dir;
    for f in &case.files {
        let path = dir.join(places.fill(&f.path));
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
        }
        let made = match f.kind {
            FileKind::File => std::fs::write(
                &path,
                f.text.as_ref().map(|t| places.bytes(t)).unwrap_or_default(),
            )
            .map_err(|e| e.to_string()),
            FileKind::Dir => std::fs::create_dir_all(&path).map_err(|e| e.to_string()),
            FileKind::Fifo => {
                nix::unistd::mkfifo(&path, nix::sys::stat::Mode::S_IRWXU).map_err(|e| e.to_string())
            }
            FileKind::Symlink => {
                let target = places.fill(f.target.as_deref().unwrap_or("missing"));
                std::os::unix::fs::symlink(target, &path).map_err(|e| e.to_string())
            }
            FileKind::Socket => std::os::unix::net::UnixListener::bind(&path)
                .map(std::mem::forget)
                .map_err(|e| e.to_string()),
        };
        made.map_err(|e| format!("creating {}: {e}", path.display()))?;
        if let Some(mode) = f.mode {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode))
                .map_err(|e| format!("chmod {mode:o} {}: {e}", path.display()))?;
        }
    }
    Ok(())
}

/// Runs `case`; returns what is wrong with the outcome, if anything.
fn check(binary: Binary, case: &Case, silent: &str) -> Result<(), String> {
    let tmp = tempfile::tempdir().map_err(|e| e.to_string())?;
    let places = Places {
        dir: tmp.path().to_path_buf(),
        silent: silent.to_string(),
    };
    for d in ["home", "state"] {
        std::fs::create_dir(places.dir.join(d)).map_err(|e| e.to_string())?;
    }
    std::fs::write(places.dir.join("not-a-cache"), "").map_err(|e| e.to_string())?;
    std::fs::write(
        places.dir.join("closed.kubeconfig"),
        kubeconfig("127.0.0.1:1"),
    )
    .map_err(|e| e.to_string())?;
    if let Some(uid) = case.uid {
        hand_over(&places.dir, uid)?;
    }
    make_files(case, &places)?;

    let mut cmd = Command::new(binary.path());
    if let Some(uid) = case.uid {
        cmd.uid(uid).gid(uid);
    }
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", places.dir.join("home"))
        .env("KUBE_E2E_STATE_DIR", places.dir.join("state"))
        .env("KUBE_E2E_CACHE_DIR", places.dir.join("cache"))
        .env("KUBECONFIG", places.dir.join("kubeconfig"))
        .current_dir(match &case.cwd {
            Some(c) => places.dir.join(places.fill(c)),
            None => places.dir.clone(),
        })
        .args(case.args.iter().map(|a| places.os(a)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Its own process group, so that a hang is killed with everything it started.
        .process_group(0);
    for (k, v) in binary.defaults() {
        cmd.env(k, places.fill(v));
    }
    for (k, v) in &case.env {
        cmd.env(k, places.os(v));
    }
    for k in &case.unset {
        cmd.env_remove(k);
    }
    let (status, output) = run(cmd, TIMEOUT)?;
    let problems = judge(case, &places, status, &output);
    if problems.is_empty() {
        Ok(())
    } else {
        let shown: String = output.chars().take(3000).collect();
        Err(format!("{}\n--- output ---\n{shown}", problems.join("; ")))
    }
}

/// Makes the case's directory and what is in it so far (`HOME`, the state directory, the
/// kubeconfig) belong to `uid`; files the case adds later stay root's.
fn hand_over(dir: &Path, uid: u32) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755))
        .map_err(|e| format!("chmod {}: {e}", dir.display()))?;
    let mut paths = vec![dir.to_path_buf()];
    for entry in std::fs::read_dir(dir).map_err(|e| e.to_string())? {
        paths.push(entry.map_err(|e| e.to_string())?.path());
    }
    for path in paths {
        std::os::unix::fs::chown(&path, Some(uid), Some(uid))
            .map_err(|e| format!("chown {uid} {}: {e}", path.display()))?;
    }
    Ok(())
}

/// What is wrong with a case's outcome.
fn judge(
    case: &Case,
    places: &Places,
    status: std::process::ExitStatus,
    output: &str,
) -> Vec<String> {
    let mut problems = Vec::new();
    let code = status.code();
    if code != Some(case.exit) {
        problems.push(match status.signal() {
            Some(sig) => format!("killed by signal {sig}, expected exit code {}", case.exit),
            None => format!("exit code {code:?}, expected {}", case.exit),
        });
    }
    if matches!(code, Some(101 | 134)) {
        problems.push(format!("exit code {code:?} is a crash, not an answer"));
    }
    for bad in ["panicked at", "RUST_BACKTRACE"] {
        if output.contains(bad) {
            problems.push(format!("the output has `{bad}`"));
        }
    }
    for w in &case.words {
        let w = places.fill(w);
        if !output.contains(w.as_str()) {
            problems.push(format!("the output lacks `{w}`"));
        }
    }
    for w in &case.absent {
        let w = places.fill(w);
        if output.contains(w.as_str()) {
            problems.push(format!("the output has `{w}`"));
        }
    }
    let max = case.max_output.unwrap_or(DEFAULT_MAX_OUTPUT);
    if output.len() > max {
        problems.push(format!(
            "the output is {} bytes, more than {max}",
            output.len()
        ));
    }
    // A long value is shown cut: never more than 200 of its characters in a row.
    for value in case.args.iter().chain(case.env.values()) {
        if let Value::Repeat { repeat, times, .. } = value {
            let run: String = repeat.repeat(*times).chars().take(201).collect();
            if run.chars().count() > 200 && output.contains(run.as_str()) {
                problems.push(format!(
                    "the output repeats more than 200 characters of the {times}×`{repeat}` value"
                ));
            }
        }
    }
    problems
}

/// Runs `cmd` for at most `timeout`; returns its status and its stdout and stderr together.
fn run(mut cmd: Command, timeout: Duration) -> Result<(std::process::ExitStatus, String), String> {
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("starting the binary: {e}"))?;
    let pgid = nix::unistd::Pid::from_raw(child.id() as i32);
    let readers: Vec<_> = [
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    ]
    .into_iter()
    .flatten()
    .map(|mut pipe| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = pipe.read_to_end(&mut buf);
            buf
        })
    })
    .collect();
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
            break status;
        }
        if started.elapsed() > timeout {
            let _ = nix::sys::signal::killpg(pgid, nix::sys::signal::Signal::SIGKILL);
            let _ = child.wait();
            return Err(format!("hangs: still running after {timeout:?}; killed"));
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    // Whatever the binary left running in its group goes with it.
    let _ = nix::sys::signal::killpg(pgid, nix::sys::signal::Signal::SIGKILL);
    let mut all = Vec::new();
    for r in readers {
        all.extend(r.join().unwrap_or_default());
    }
    Ok((status, String::from_utf8_lossy(&all).into_owned()))
}

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/hostile")
}

fn load(file: &str) -> Vec<Case> {
    let path = corpus_dir().join(file);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    let cases: Vec<Case> =
        serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut names = std::collections::BTreeSet::new();
    for c in &cases {
        assert!(names.insert(&c.name), "{file}: case `{}` twice", c.name);
    }
    cases
}

/// Runs every case of `file`; fails naming each case that went wrong.
fn run_corpus(file: &str) {
    let binary = CORPUS
        .iter()
        .find(|(f, _)| *f == file)
        .map(|(_, b)| *b)
        .expect("a corpus file");
    let cases = load(file);
    let silent = silent_server();
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|case| {
            check(binary, case, &silent)
                .err()
                .map(|why| format!("case `{}` ({file}): {why}", case.name))
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n\n")
    );
}

#[test]
fn runner_suite_refuses_hostile_input() {
    run_corpus("runner.yaml");
}

#[test]
fn framework_options_refuse_hostile_input() {
    run_corpus("framework.yaml");
}

#[test]
fn storage_binary_refuses_hostile_input() {
    run_corpus("storage.yaml");
}

#[test]
fn cluster_binary_refuses_hostile_input_before_touching_a_cluster() {
    run_corpus("cluster.yaml");
}

#[test]
fn the_corpus_has_at_least_150_cases() {
    let total: usize = CORPUS.iter().map(|(f, _)| load(f).len()).sum();
    assert!(total >= 150, "{total} cases");
}

/// The checks can fail: a wrong exit code, a missing word, a panic, a flood and a long value
/// shown whole are each reported.
#[test]
fn a_wrong_outcome_fails_its_case() {
    let places = Places {
        dir: PathBuf::from("/nowhere"),
        silent: String::new(),
    };
    let mut cases: Vec<Case> = serde_saphyr::from_str(
        "- {name: a, args: [--focus, {repeat: x, times: 300}], exit: 2, words: [--focus], max_output: 1000}",
    )
    .unwrap();
    let case = cases.remove(0);
    let exit = |code: i32| std::process::ExitStatus::from_raw(code << 8);
    assert!(judge(&case, &places, exit(2), "error: --focus `xx…`").is_empty());
    let problems = |code: i32, output: &str| judge(&case, &places, exit(code), output).join("; ");
    assert!(problems(0, "--focus").contains("exit code Some(0), expected 2"));
    assert!(problems(101, "--focus").contains("is a crash"));
    assert!(problems(2, "error: --seed").contains("lacks `--focus`"));
    assert!(problems(2, "--focus thread 'main' panicked at").contains("`panicked at`"));
    assert!(problems(2, &format!("--focus {}", "y".repeat(2000))).contains("more than 1000"));
    assert!(
        problems(2, &format!("--focus {}", "x".repeat(300)))
            .contains("repeats more than 200 characters")
    );
    let killed = judge(
        &case,
        &places,
        std::process::ExitStatus::from_raw(9),
        "--focus",
    );
    assert!(
        killed.join("; ").contains("killed by signal 9"),
        "{killed:?}"
    );
}

/// A child that hangs is killed with what it started (its pipes held open by a grandchild do
/// not keep the case waiting), and the case fails saying so.
#[test]
fn a_hanging_child_is_killed_with_its_group() {
    let mut cmd = Command::new("sh");
    cmd.args(["-c", "sleep 600 & sleep 600"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    let started = Instant::now();
    let e = run(cmd, Duration::from_millis(300)).unwrap_err();
    assert!(e.contains("hangs: still running after 300ms"), "{e}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
}
