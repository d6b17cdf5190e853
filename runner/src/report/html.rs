//! `report.html`: the run as one self-contained page, written next to `report.json` by
//! `--report-dir` and by the merge of a sharded run.
//!
//! The page embeds the same data as `report.json` (one entry per run, or per shard of a merged
//! run) as a JSON blob in a `<script type="application/json">` element and renders it with
//! inline JavaScript and CSS: no network access, no external fonts, no libraries. It shows a
//! summary (counts, wall time, time outside specs, the slowest specs, flaky specs, the flags
//! to rerun the selection), a timeline with one lane per worker (per shard in a merged report)
//! and the suite-level set-up and tear-down as bars of their own, a sortable and filterable
//! spec table, a detail panel, and every failure with the text files the spec attached (such
//! as a failure dump's events and logs).
//!
//! Everything embedded passes through [`redact`](crate::report::redact::redact), and every
//! `<` in the JSON is written as `\u003c`, so no text in the report can end the script
//! element. Data larger than [`RenderOptions::compress_above`] (1 MiB: some 2,000 specs) is
//! embedded compressed instead, as `{"encoding": "deflate-base64", "size": N, "data": "…"}`,
//! which the page inflates itself: that keeps a 10,000-spec report at a fifth of its size. Opening the page as `report.html#selftest` makes it check its own rendering and
//! write the outcome as JSON into the `#selftest` element (the project's browser test reads
//! it); `report.html#spec-N` opens the N-th spec.

use crate::report::outcome::RunReport;
use crate::report::redact::redact;
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

/// The file name under `--report-dir`.
pub const FILE: &str = "report.html";

const TEMPLATE: &str = include_str!("html/page.html");
const CSS: &str = include_str!("html/report.css");
const JS: &str = include_str!("html/report.js");

/// The end of each attached file that is shown.
const FILE_TAIL: u64 = 64 * 1024;
/// Attached text shown per spec.
const SPEC_BUDGET: usize = 256 * 1024;
/// Attached text shown per report.
const REPORT_BUDGET: usize = 2 * 1024 * 1024;
/// Files shown per artifact.
const MAX_FILES: usize = 40;

/// How [`render_with`] embeds the data and lays out the timeline.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RenderOptions {
    /// Data (as JSON) larger than this many bytes is embedded deflated and base64-encoded.
    pub compress_above: usize,
    /// The runs are the processes of one process-per-spec run (`cargo nextest`): the timeline
    /// packs them into lanes of processes that ran one after the other, instead of a lane
    /// per run (per shard).
    pub processes: bool,
}

impl Default for RenderOptions {
    fn default() -> Self {
        RenderOptions {
            compress_above: 1 << 20,
            processes: false,
        }
    }
}

/// Building `report.html` failed.
#[derive(Debug, thiserror::Error)]
pub enum HtmlError {
    /// A run's report could not be turned into the page's data.
    #[error("failed to convert the report of `{run}` into report.html data")]
    Convert {
        /// The suite or shard.
        run: String,
        /// Why.
        #[source]
        source: serde_json::Error,
    },
    /// A shard's `report.json` does not parse.
    #[error("the report.json of `{run}` does not parse")]
    Parse {
        /// The shard.
        run: String,
        /// Why.
        #[source]
        source: serde_json::Error,
    },
}

/// The text of one attached file, as the page shows it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct AttachmentText {
    /// The artifact's name, e.g. `namespace dump`.
    pub artifact: String,
    /// The file, relative to the report directory.
    pub path: String,
    /// Its text (the end of it when [`truncated`](Self::truncated)), redacted.
    pub text: String,
    /// Whether only the end of the file is shown.
    pub truncated: bool,
}

/// One run in the page: a whole run, or one shard of a sharded run.
#[derive(Clone, Debug)]
pub struct HtmlRun {
    /// The lane label in a merged report, e.g. `shard 1/2`; `None` for a single run.
    pub label: Option<String>,
    /// The run's `report.json` data.
    pub report: Value,
    /// Attached text files, by spec index in `report.specs`.
    pub attachments: BTreeMap<usize, Vec<AttachmentText>>,
}

impl HtmlRun {
    /// A finished run whose reports go to `dir`; its specs' attachments are read from there.
    ///
    /// # Errors
    ///
    /// The report does not convert to JSON (not expected: it has no maps with non-string keys).
    pub fn from_report(report: &RunReport, dir: &Path) -> Result<Self, HtmlError> {
        let value = serde_json::to_value(report).map_err(|source| HtmlError::Convert {
            run: report.suite.clone(),
            source,
        })?;
        Ok(Self::from_value(None, value, dir))
    }

    /// A shard's `report.json` text, unpacked under `dir` (its attachments are looked up there
    /// by their path relative to the shard's own report directory).
    ///
    /// # Errors
    ///
    /// The text does not parse as JSON, naming `label`.
    pub fn from_json(label: &str, json: &str, dir: &Path) -> Result<Self, HtmlError> {
        let value: Value = serde_json::from_str(json).map_err(|source| HtmlError::Parse {
            run: label.to_string(),
            source,
        })?;
        Ok(Self::from_value(Some(label.to_string()), value, dir))
    }

    fn from_value(label: Option<String>, report: Value, dir: &Path) -> Self {
        let attachments = read_attachments(&report, dir);
        HtmlRun {
            label,
            report,
            attachments,
        }
    }
}

/// The page for `runs`, titled `title`, with the default [`RenderOptions`].
pub fn render(title: &str, runs: &[HtmlRun]) -> String {
    render_with(title, runs, RenderOptions::default())
}

/// The page for `runs`, titled `title`.
pub fn render_with(title: &str, runs: &[HtmlRun], options: RenderOptions) -> String {
    let layout = match (options.processes, runs.len()) {
        (true, _) => "processes",
        (false, 1) => "workers",
        (false, _) => "runs",
    };
    let mut data = serde_json::json!({
        "format": 1,
        "title": title,
        "layout": layout,
        "generator": concat!("kube-e2e-runner ", env!("CARGO_PKG_VERSION")),
        "runs": runs
            .iter()
            .map(|r| {
                serde_json::json!({
                    "label": r.label,
                    "report": r.report,
                    "attachments": r.attachments,
                })
            })
            .collect::<Vec<_>>(),
    });
    scrub(&mut data);
    // Serializing a `Value` cannot fail; an empty object keeps the page working if it did.
    let json = serde_json::to_string(&data).unwrap_or_else(|_| "{}".into());
    let json = if json.len() > options.compress_above {
        compressed(&json).unwrap_or_else(|| script_safe(&json))
    } else {
        script_safe(&json)
    };
    let title = escape_html(&redact(title));
    let mut out = String::with_capacity(json.len() + TEMPLATE.len() + CSS.len() + JS.len());
    // The template alternates literal text and marker names: `text@@NAME@@text...`.
    for (i, part) in TEMPLATE.split("@@").enumerate() {
        if i % 2 == 0 {
            out.push_str(part);
            continue;
        }
        match part {
            "TITLE" => out.push_str(&title),
            "GENERATOR" => out.push_str(concat!("kube-e2e-runner ", env!("CARGO_PKG_VERSION"))),
            "CSS" => out.push_str(CSS),
            "JS" => out.push_str(JS),
            "DATA" => out.push_str(&json),
            other => {
                out.push_str("@@");
                out.push_str(other);
                out.push_str("@@");
            }
        }
    }
    out
}

/// JSON that can stand inside a `<script>` element: `<` (which only occurs inside strings) is
/// written as `\u003c`, so no `</script>` or `<!--` can appear.
fn script_safe(json: &str) -> String {
    json.replace('<', "\\u003c")
}

/// `json` deflated, as the JSON object the page decodes; `None` if compression failed.
fn compressed(json: &str) -> Option<String> {
    use std::io::Write as _;
    let mut enc = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(json.as_bytes()).ok()?;
    let bytes = enc.finish().ok()?;
    Some(format!(
        r#"{{"encoding":"deflate-base64","size":{},"data":"{}"}}"#,
        json.len(),
        base64(&bytes)
    ))
}

/// Standard base64 with padding.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i)) as usize & 63]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Redacts every string and rounds every fractional number to microseconds (durations), which
/// keeps a large report small.
fn scrub(v: &mut Value) {
    match v {
        Value::String(s) => {
            let r = redact(s);
            if r != *s {
                *s = r;
            }
        }
        Value::Number(n) => {
            if let Some(f) = n.as_f64().filter(|_| !n.is_i64() && !n.is_u64())
                && let Some(r) = serde_json::Number::from_f64((f * 1e6).round() / 1e6)
            {
                *n = r;
            }
        }
        Value::Array(a) => a.iter_mut().for_each(scrub),
        Value::Object(o) => o.values_mut().for_each(scrub),
        Value::Null | Value::Bool(_) => {}
    }
}

/// The text files the specs of `report` (a `report.json` value) attached, read from `dir`, the
/// directory the report is in now. An artifact's path is taken relative to the report's own
/// `report_dir` (where the run wrote it, perhaps in another pod), then looked up under `dir`;
/// anything outside `dir` is not read. Each file shows its last 64 KiB, at most 40 files per
/// artifact, 256 KiB per spec and 2 MiB per report; binary files are left out.
pub fn read_attachments(report: &Value, dir: &Path) -> BTreeMap<usize, Vec<AttachmentText>> {
    let mut out = BTreeMap::new();
    let Some(specs) = report.get("specs").and_then(Value::as_array) else {
        return out;
    };
    let origin = report
        .get("report_dir")
        .and_then(Value::as_str)
        .map(PathBuf::from);
    let Ok(root) = dir.canonicalize() else {
        return out;
    };
    let mut left = REPORT_BUDGET;
    for (i, spec) in specs.iter().enumerate() {
        let Some(artifacts) = spec.get("artifacts").and_then(Value::as_array) else {
            continue;
        };
        let mut texts = Vec::new();
        let mut spec_left = SPEC_BUDGET.min(left);
        for a in artifacts {
            let name = a.get("name").and_then(Value::as_str).unwrap_or("artifact");
            let Some(path) = a.get("path").and_then(Value::as_str).map(Path::new) else {
                continue;
            };
            let Some(local) = local_path(path, origin.as_deref(), dir, &root) else {
                continue;
            };
            let mut files = Vec::new();
            collect_files(&local, &mut files, MAX_FILES + 1);
            files.sort_by_key(|f| (file_rank(f), f.clone()));
            let more = files.len() > MAX_FILES;
            for f in files.into_iter().take(MAX_FILES) {
                if spec_left == 0 {
                    break;
                }
                let Some((text, truncated)) = tail(&f, (FILE_TAIL as usize).min(spec_left)) else {
                    continue;
                };
                spec_left = spec_left.saturating_sub(text.len());
                let rel = f.strip_prefix(&root).unwrap_or(&f);
                texts.push(AttachmentText {
                    artifact: name.to_string(),
                    path: rel.to_string_lossy().into_owned(),
                    text: redact(&text),
                    truncated,
                });
            }
            if more || spec_left == 0 {
                texts.push(AttachmentText {
                    artifact: name.to_string(),
                    path: local
                        .strip_prefix(&root)
                        .unwrap_or(&local)
                        .to_string_lossy()
                        .into_owned(),
                    text: "More files than the report shows: see the directory.".into(),
                    truncated: true,
                });
            }
        }
        left = left.saturating_sub(SPEC_BUDGET.min(left) - spec_left);
        if !texts.is_empty() {
            out.insert(i, texts);
        }
    }
    out
}

/// Where an artifact recorded at `path` is now: under `dir`, or nowhere readable.
fn local_path(path: &Path, origin: Option<&Path>, dir: &Path, root: &Path) -> Option<PathBuf> {
    let candidate = match origin.and_then(|o| path.strip_prefix(o).ok()) {
        Some(rel) => dir.join(rel),
        None if path.is_absolute() => path.to_path_buf(),
        None => dir.join(path),
    };
    let real = candidate.canonicalize().ok()?;
    real.starts_with(root).then_some(real)
}

/// Events first, then pod states, then the rest (logs) by path.
fn file_rank(path: &Path) -> u8 {
    match path.file_name().and_then(|n| n.to_str()) {
        Some("events.txt") => 0,
        Some("pods.txt") => 1,
        _ => 2,
    }
}

/// Regular files at or under `path` (symbolic links are not followed), at most `limit`.
fn collect_files(path: &Path, out: &mut Vec<PathBuf>, limit: usize) {
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return;
    };
    if meta.is_file() {
        if out.len() < limit {
            out.push(path.to_path_buf());
        }
        return;
    }
    if !meta.is_dir() {
        return;
    }
    let Ok(entries) = std::fs::read_dir(path) else {
        return;
    };
    let mut children: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    children.sort();
    for child in children {
        if out.len() >= limit {
            return;
        }
        collect_files(&child, out, limit);
    }
}

/// The last `max` bytes of a text file (from a line start), and whether that is not all of it;
/// `None` for a file that cannot be read or holds binary data.
fn tail(path: &Path, max: usize) -> Option<(String, bool)> {
    let mut f = std::fs::File::open(path).ok()?;
    let len = f.metadata().ok()?.len();
    let truncated = len > max as u64;
    if truncated {
        f.seek(SeekFrom::Start(len - max as u64)).ok()?;
    }
    let mut bytes = Vec::with_capacity(max.min(len as usize));
    f.take(max as u64).read_to_end(&mut bytes).ok()?;
    if bytes.contains(&0) {
        return None;
    }
    let mut text = String::from_utf8_lossy(&bytes).into_owned();
    if truncated && let Some(nl) = text.find('\n') {
        text.drain(..=nl);
    }
    Some((text, truncated))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(json: Value) -> HtmlRun {
        HtmlRun {
            label: None,
            report: json,
            attachments: BTreeMap::new(),
        }
    }

    fn data_of(page: &str) -> Value {
        let start = page
            .find(r#"<script type="application/json" id="report-data">"#)
            .expect("data element");
        let rest = &page[start..];
        let open = rest.find('>').unwrap() + 1;
        let end = rest.find("</script>").unwrap();
        serde_json::from_str(&rest[open..end]).expect("embedded data parses")
    }

    #[test]
    fn embedded_json_cannot_end_the_script_and_is_redacted() {
        let report = serde_json::json!({
            "suite": "s</title><script>",
            "specs": [{
                "name": "a </script><script>alert(1)</script> <!-- b",
                "duration": 0.123_456_789,
                "log": ["Authorization: Bearer abcdefghijklmnop"],
            }],
        });
        let page = render("s</title>", &[run(report)]);
        assert_eq!(
            page.matches("</script>").count(),
            3,
            "only the page's own script ends"
        );
        assert!(!page.contains("<!-- b"));
        assert!(page.contains("<title>s&lt;/title&gt;</title>"));
        assert!(!page.contains("abcdefghijklmnop"));
        let data = data_of(&page);
        let spec = &data["runs"][0]["report"]["specs"][0];
        assert_eq!(spec["name"], "a </script><script>alert(1)</script> <!-- b");
        assert_eq!(spec["duration"], 0.123_457);
        assert!(spec["log"][0].as_str().unwrap().contains("[REDACTED]"));
        assert!(!page.contains("@@"), "every marker replaced");
    }

    #[test]
    fn large_data_is_embedded_deflated() {
        let report = serde_json::json!({"specs": [{"name": "x".repeat(5000), "duration": 1.5}]});
        let page = render_with(
            "s",
            &[run(report)],
            RenderOptions {
                compress_above: 1000,
                ..RenderOptions::default()
            },
        );
        let wrapper = data_of(&page);
        assert_eq!(wrapper["encoding"], "deflate-base64");
        let b64 = wrapper["data"].as_str().unwrap();
        let bytes = unbase64(b64);
        let mut text = String::new();
        flate2::read::DeflateDecoder::new(&bytes[..])
            .read_to_string(&mut text)
            .unwrap();
        assert_eq!(wrapper["size"].as_u64(), Some(text.len() as u64));
        let data: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            data["runs"][0]["report"]["specs"][0]["name"],
            "x".repeat(5000)
        );
        assert_eq!(base64(b"ab"), "YWI=");
        assert_eq!(base64(b"abc"), "YWJj");
        assert_eq!(base64(b"a"), "YQ==");
    }

    fn unbase64(s: &str) -> Vec<u8> {
        let val = |c: u8| match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            _ => 63,
        };
        let mut out = Vec::new();
        for chunk in s.as_bytes().chunks(4) {
            let n = chunk
                .iter()
                .take_while(|c| **c != b'=')
                .enumerate()
                .fold(0u32, |n, (i, c)| n | u32::from(val(*c)) << (18 - 6 * i));
            let len = chunk.iter().filter(|c| **c != b'=').count() - 1;
            out.extend((0..len).map(|i| (n >> (16 - 8 * i)) as u8));
        }
        out
    }

    #[test]
    fn the_page_is_self_contained() {
        let page = render("s", &[run(serde_json::json!({"specs": []}))]);
        for needle in ["http://", "https://", "<link", "@import", "url(", " src="] {
            assert!(!page.contains(needle), "the page references `{needle}`");
        }
    }

    #[test]
    fn attachments_are_read_relative_to_the_report_dir_redacted_and_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let dump = dir.path().join("namespaces/ns-1");
        std::fs::create_dir_all(dump.join("logs")).unwrap();
        std::fs::write(
            dump.join("events.txt"),
            "Warning BackOff token: hunter2hunter2\n",
        )
        .unwrap();
        std::fs::write(dump.join("pods.txt"), "pod p Running\n").unwrap();
        let long: String = (0..20_000).map(|i| format!("line {i}\n")).collect();
        std::fs::write(dump.join("logs/p_c.log"), &long).unwrap();
        std::fs::write(dump.join("logs/bin.dat"), b"\0\x01\x02").unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret.txt"), "do not read").unwrap();
        // Written in a pod under /results; unpacked here.
        let report = serde_json::json!({
            "report_dir": "/results",
            "specs": [
                {"artifacts": [{"name": "namespace dump", "path": "/results/namespaces/ns-1"}]},
                {"artifacts": [{"name": "x", "path": outside.path().join("secret.txt")}]},
                {"artifacts": [{"name": "x", "path": "/results/../../etc/passwd"}]},
            ],
        });
        let att = read_attachments(&report, dir.path());
        assert_eq!(att.len(), 1, "{att:?}");
        let files: Vec<&str> = att[&0].iter().map(|a| a.path.as_str()).collect();
        assert_eq!(
            files,
            [
                "namespaces/ns-1/events.txt",
                "namespaces/ns-1/pods.txt",
                "namespaces/ns-1/logs/p_c.log"
            ]
        );
        assert!(att[&0][0].text.contains("[REDACTED]") && !att[&0][0].text.contains("hunter2"));
        let log = &att[&0][2];
        assert!(log.truncated && log.text.len() <= FILE_TAIL as usize);
        assert!(log.text.starts_with("line ") && log.text.ends_with("line 19999\n"));
    }
}
