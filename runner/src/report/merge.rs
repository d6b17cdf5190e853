//! Merging the reports of a sharded run (`--shard I/N` on N machines or N pods) into one
//! `junit_01.xml` and one `e2e.log`, as a single run would have written them.

use quick_junit::{Report, TestCaseStatus, TestSuite};
use std::collections::BTreeMap;
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
/// A shard's JUnit that does not parse, naming the shard.
pub fn merge(suite: &str, shards: &[ShardReport]) -> Result<MergedReport, MergeError> {
    let mut cases = Vec::new();
    let mut longest = Duration::ZERO;
    let mut log = String::new();
    for s in shards {
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
    Ok(MergedReport {
        junit,
        e2e_log: log,
        occurrences,
    })
}

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
            },
            ShardReport {
                shard: "shard 2/2".into(),
                junit: junit(&[("a", true), ("c", true)], 5),
                e2e_log: "[PASSED] a\n[PASSED] c\n".into(),
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
    }
}
