//! Merging the reports of a sharded run (`--shard I/N` on N machines or N pods) into one
//! `junit_01.xml` and one `e2e.log`, as a single run would have written them, and one
//! `report.html` with a timeline lane per shard.

use crate::report::html::{self, HtmlError, HtmlRun};
use quick_junit::{Report, TestCaseStatus, TestSuite};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Merging failed.
#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    /// A shard's JUnit file does not parse.
    #[error("failed to parse the JUnit report of {shard}")]
    Parse {
        /// Which shard.
        shard: String,
        /// Why.
        #[source]
        source: Box<quick_junit::DeserializeError>,
    },
    /// The merged report does not serialize.
    #[error("failed to serialize the merged JUnit report")]
    Serialize(#[source] Box<quick_junit::SerializeError>),
    /// A shard's `report.json` does not parse.
    #[error("failed to read the report.json of {shard}")]
    Json {
        /// Which shard.
        shard: String,
        /// Why.
        #[source]
        source: HtmlError,
    },
    /// A merged report file could not be written.
    #[error("failed to write the merged report file `{path}`")]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// One shard's reports.
#[derive(Clone, Debug)]
pub struct ShardReport {
    /// A label for messages and `e2e.log` headers, e.g. `shard 1/2`.
    pub shard: String,
    /// Its `junit_01.xml`.
    pub junit: String,
    /// Its `e2e.log`.
    pub e2e_log: String,
    /// Its `report.json`, if it wrote one (the merged `report.html` shows the shards that did).
    pub report_json: Option<String>,
    /// The directory its reports were unpacked into, where the files its specs attached are
    /// looked up; `None` to show no attachments.
    pub dir: Option<PathBuf>,
}

/// The merged reports.
#[derive(Clone, Debug)]
pub struct MergedReport {
    /// One test suite holding every shard's test cases, sorted by name; the suite time is the
    /// longest shard's (the shards ran side by side).
    pub junit: Report,
    /// Every shard's `e2e.log`, in shard order, each under a `==> shard I/N <==` header, then a
    /// summary line.
    pub e2e_log: String,
    /// How often each test case name occurs over all shards (a correct sharding gives 1 each).
    pub occurrences: BTreeMap<String, usize>,
    /// `report.html` with one timeline lane per shard, when any shard had a `report.json`.
    pub html: Option<String>,
}

impl MergedReport {
    /// The merged JUnit as XML.
    ///
    /// # Errors
    ///
    /// Serialization failure.
    pub fn junit_xml(&self) -> Result<String, MergeError> {
        self.junit
            .to_string()
            .map_err(|e| MergeError::Serialize(Box::new(e)))
    }

    /// Writes `junit_01.xml`, `e2e.log` and (when there is one) `report.html` into `dir`,
    /// creating it.
    ///
    /// # Errors
    ///
    /// Serialization failure, or the file that could not be written.
    pub fn write(&self, dir: &Path) -> Result<(), MergeError> {
        let write = |name: &str, bytes: &[u8]| {
            let path = dir.join(name);
            std::fs::create_dir_all(dir)
                .and_then(|()| std::fs::write(&path, bytes))
                .map_err(|source| MergeError::Write { path, source })
        };
        write("junit_01.xml", self.junit_xml()?.as_bytes())?;
        write("e2e.log", self.e2e_log.as_bytes())?;
        if let Some(page) = &self.html {
            write(html::FILE, page.as_bytes())?;
        }
        Ok(())
    }

    /// Names that appear more than once.
    pub fn duplicates(&self) -> Vec<&str> {
        self.occurrences
            .iter()
            .filter(|(_, n)| **n > 1)
            .map(|(k, _)| k.as_str())
            .collect()
    }
}

/// Merges shard reports; `suite` names the merged report and test suite.
///
/// # Errors
///
/// A shard's JUnit or `report.json` that does not parse, naming the shard.
pub fn merge(suite: &str, shards: &[ShardReport]) -> Result<MergedReport, MergeError> {
    let mut cases = Vec::new();
    let mut longest = Duration::ZERO;
    let mut log = String::new();
    let mut runs = Vec::new();
    for s in shards {
        if let Some(json) = &s.report_json {
            let none = PathBuf::new();
            let dir = s.dir.as_deref().unwrap_or(&none);
            let run =
                HtmlRun::from_json(&s.shard, json, dir).map_err(|source| MergeError::Json {
                    shard: s.shard.clone(),
                    source,
                })?;
            runs.push(run);
        }
        let report = Report::deserialize_from_str(&s.junit).map_err(|e| MergeError::Parse {
            shard: s.shard.clone(),
            source: Box::new(e),
        })?;
        longest = longest.max(report.time.unwrap_or_default());
        for ts in report.test_suites {
            cases.extend(ts.test_cases);
        }
        log.push_str(&format!("==> {} <==\n", s.shard));
        log.push_str(&s.e2e_log);
        if !s.e2e_log.ends_with('\n') {
            log.push('\n');
        }
    }
    cases.sort_by(|a, b| a.name.as_str().cmp(b.name.as_str()));
    let mut occurrences = BTreeMap::new();
    for c in &cases {
        *occurrences.entry(c.name.as_str().to_string()).or_insert(0) += 1;
    }
    let count =
        |pred: fn(&TestCaseStatus) -> bool| cases.iter().filter(|c| pred(&c.status)).count();
    let passed = count(|s| matches!(s, TestCaseStatus::Success { .. }));
    let skipped = count(|s| matches!(s, TestCaseStatus::Skipped { .. }));
    let failed = cases.len() - passed - skipped;
    log.push_str(&format!(
        "Merged {} shard(s): {} specs, {passed} passed, {failed} failed, {skipped} skipped\n",
        shards.len(),
        cases.len()
    ));
    let mut ts = TestSuite::new(suite.to_string());
    ts.set_time(longest);
    ts.add_test_cases(cases);
    let mut junit = Report::new(suite.to_string());
    junit.set_time(longest).add_test_suite(ts);
    let html = (!runs.is_empty())
        .then(|| html::render(&format!("{suite} ({} shards)", shards.len()), &runs));
    Ok(MergedReport {
        junit,
        e2e_log: log,
        occurrences,
        html,
    })
}

#[cfg(test)]
mod fuzz;

#[cfg(test)]
mod tests {
    use super::*;
    use quick_junit::{NonSuccessKind, TestCase};

    fn junit(cases: &[(&str, bool)], secs: u64) -> String {
        let mut ts = TestSuite::new("conformance");
        for (name, ok) in cases {
            let status = if *ok {
                TestCaseStatus::success()
            } else {
                TestCaseStatus::non_success(NonSuccessKind::Failure)
            };
            ts.add_test_case(TestCase::new(*name, status));
        }
        let mut r = Report::new("conformance");
        r.set_time(Duration::from_secs(secs)).add_test_suite(ts);
        r.to_string().unwrap()
    }

    #[test]
    fn shards_merge_into_one_suite() {
        let shards = [
            ShardReport {
                shard: "shard 1/2".into(),
                junit: junit(&[("b", true), ("d", false)], 3),
                e2e_log: "[PASSED] b\n[FAILED] d".into(),
                report_json: None,
                dir: None,
            },
            ShardReport {
                shard: "shard 2/2".into(),
                junit: junit(&[("a", true), ("c", true)], 5),
                e2e_log: "[PASSED] a\n[PASSED] c\n".into(),
                report_json: None,
                dir: None,
            },
        ];
        let m = merge("conformance", &shards).unwrap();
        let back = Report::deserialize_from_str(&m.junit_xml().unwrap()).unwrap();
        assert_eq!(back.test_suites.len(), 1);
        let names: Vec<_> = back.test_suites[0]
            .test_cases
            .iter()
            .map(|c| c.name.as_str().to_string())
            .collect();
        assert_eq!(names, ["a", "b", "c", "d"]);
        assert_eq!(back.test_suites[0].failures, 1);
        assert_eq!(back.time, Some(Duration::from_secs(5)));
        assert!(m.duplicates().is_empty());
        assert!(
            m.e2e_log
                .starts_with("==> shard 1/2 <==\n[PASSED] b\n[FAILED] d\n==> shard 2/2")
        );
        assert!(
            m.e2e_log
                .ends_with("4 specs, 3 passed, 1 failed, 0 skipped\n"),
            "{}",
            m.e2e_log
        );
        let dup = merge("c", &[shards[0].clone(), shards[0].clone()]).unwrap();
        assert_eq!(dup.duplicates(), ["b", "d"]);
        let bad = ShardReport {
            junit: "<not".into(),
            ..shards[0].clone()
        };
        let e = merge("c", &[bad]).unwrap_err().to_string();
        assert!(e.contains("shard 1/2"), "{e}");
        assert!(m.html.is_none(), "no shard had a report.json");
    }

    #[test]
    fn shards_with_report_json_give_one_html_lane_each() {
        let shard = |i: usize, name: &str| ShardReport {
            shard: format!("shard {i}/2"),
            junit: junit(&[(name, true)], 1),
            e2e_log: String::new(),
            report_json: Some(
                serde_json::json!({
                    "suite": "conformance",
                    "started_at": 1000.0 + i as f64,
                    "specs": [{"name": name, "state": "passed", "start": 0.5, "duration": 0.25,
                               "lane": 0, "labels": [], "steps": []}],
                })
                .to_string(),
            ),
            dir: None,
        };
        let m = merge("conformance", &[shard(1, "a"), shard(2, "b")]).unwrap();
        let page = m.html.as_deref().expect("an html report");
        assert!(page.contains("<title>conformance (2 shards)</title>"));
        assert!(page.contains(r#""label":"shard 1/2""#) && page.contains(r#""label":"shard 2/2""#));
        let dir = tempfile::tempdir().unwrap();
        m.write(dir.path()).unwrap();
        for f in ["junit_01.xml", "e2e.log", "report.html"] {
            assert!(dir.path().join(f).is_file(), "{f}");
        }
        let bad = ShardReport {
            report_json: Some("{".into()),
            ..shard(1, "a")
        };
        let e = merge("c", &[bad]).unwrap_err().to_string();
        assert!(e.contains("report.json of shard 1/2"), "{e}");
    }
}
