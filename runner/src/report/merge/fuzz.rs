//! Property tests of merging: any text as a shard's JUnit is merged or refused naming the
//! shard, and merging generated shard reports keeps every test case and every failure.
//!
//! Each property runs for arbtest's budget: 100 ms by default, `ARBTEST_BUDGET_MS` to search
//! longer, `ARBTEST_SEED` to replay a failure (see `docs/fuzzing.md`).

use super::*;
use arbtest::arbtest;
use quick_junit::{NonSuccessKind, TestCase};

fn shard(i: usize, junit: String) -> ShardReport {
    ShardReport {
        shard: format!("shard {i}"),
        junit,
        e2e_log: String::new(),
        report_json: None,
        dir: None,
    }
}

const XML_TOKENS: &[&str] = &[
    "<testsuites",
    "<testsuite",
    "<testcase",
    "<failure",
    "<error",
    "<skipped",
    "</testsuites>",
    "</testsuite>",
    "</testcase>",
    "/>",
    ">",
    " name=\"a\"",
    " tests=\"1\"",
    " time=\"1.5\"",
    " time=\"-1\"",
    " time=\"NaN\"",
    " time=\"1e400\"",
    " failures=\"x\"",
    "<?xml version=\"1.0\"?>",
    "<![CDATA[",
    "]]>",
    "&amp;",
    "&#0;",
    "&bogus;",
    "\n",
    " ",
];

#[test]
fn any_junit_text_is_merged_or_refused_naming_the_shard() {
    arbtest(|u| {
        let junit = if u.arbitrary()? {
            u.arbitrary::<String>()?
        } else {
            let mut s = String::new();
            for _ in 0..u.int_in_range(0..=40)? {
                s.push_str(u.choose(XML_TOKENS)?);
            }
            s
        };
        match merge("suite", &[shard(1, junit)]) {
            Ok(m) => {
                m.junit_xml().expect("a merged report serializes");
            }
            Err(e) => assert!(e.to_string().contains("shard 1"), "{e}"),
        }
        Ok(())
    });
}

/// Test case names with what XML must escape.
const NAMES: &[&str] = &[
    "a",
    "b",
    "[sig-storage] x <y> & \"z\"",
    "ünïcode ✓",
    "tab\there",
    "quote's",
];

#[test]
fn merging_keeps_every_case_and_every_failure() {
    arbtest(|u| {
        let mut shards = Vec::new();
        let (mut total, mut failed, mut skipped) = (0, 0, 0);
        for i in 0..u.int_in_range(1..=4)? {
            let mut report = Report::new("suite");
            for s in 0..u.int_in_range(0..=2)? {
                let mut ts = TestSuite::new(format!("suite {s}"));
                for _ in 0..u.int_in_range(0..=5)? {
                    let status = match u.int_in_range(0..=3)? {
                        0 | 1 => TestCaseStatus::success(),
                        2 => {
                            failed += 1;
                            let kind =
                                *u.choose(&[NonSuccessKind::Failure, NonSuccessKind::Error])?;
                            let mut st = TestCaseStatus::non_success(kind);
                            st.set_message(u.choose(NAMES)?.to_string());
                            st
                        }
                        _ => {
                            skipped += 1;
                            TestCaseStatus::skipped()
                        }
                    };
                    let mut case = TestCase::new(u.choose(NAMES)?.to_string(), status);
                    case.set_time(Duration::from_millis(u.int_in_range(0..=100_000)?));
                    ts.add_test_case(case);
                    total += 1;
                }
                report.add_test_suite(ts);
            }
            report.set_time(Duration::from_millis(u.int_in_range(0..=1_000_000)?));
            shards.push(shard(i, report.to_string().expect("serializes")));
        }
        let m = merge("suite", &shards).expect("generated shards merge");
        let back = Report::deserialize_from_str(&m.junit_xml().unwrap()).expect("merged parses");
        assert_eq!(back.tests, total, "cases");
        assert_eq!(back.failures + back.errors, failed, "failures");
        assert_eq!(back.test_suites.len(), 1);
        let cases = &back.test_suites[0].test_cases;
        assert_eq!(cases.len(), total);
        let skipped_back = cases
            .iter()
            .filter(|c| matches!(c.status, TestCaseStatus::Skipped { .. }))
            .count();
        assert_eq!(skipped_back, skipped, "skipped");
        assert_eq!(m.occurrences.values().sum::<usize>(), total);
        assert!(
            m.e2e_log.ends_with(&format!(
                "{total} specs, {} passed, {failed} failed, {skipped} skipped\n",
                total - failed - skipped
            )),
            "{}",
            m.e2e_log
        );
        Ok(())
    });
}
