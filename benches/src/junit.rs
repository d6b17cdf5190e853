//! Reading ginkgo's JUnit report for the upstream conformance check: each spec's outcome and
//! failure message, and the cause class of a failure.

use std::sync::LazyLock;

use regex::Regex;

/// How a spec ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// It ran and passed.
    Passed,
    /// It ran and failed (or panicked, or timed out).
    Failed,
    /// It was selected and skipped itself with a reason (for example too few nodes).
    SkippedAtRunTime,
    /// It was not selected (`--focus`/`--skip`), or is pending.
    NotSelected,
}

/// One spec of the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Case {
    /// The spec's full text.
    pub name: String,
    /// How it ended.
    pub outcome: Outcome,
    /// The failure's or skip's message; empty otherwise.
    pub message: String,
}

static TESTCASE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#"(?s)<testcase\s([^>]*?)(/>|>(.*?)</testcase>)"#).unwrap());
static ATTR: LazyLock<Regex> = LazyLock::new(|| Regex::new(r#"(\w+)="([^"]*)""#).unwrap());
static FAILURE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r#"(?s)<(failure|error)\b([^>]*)>(.*?)</(failure|error)>|<(failure|error)\b([^>]*)/>"#,
    )
    .unwrap()
});
static SKIPPED: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#"<skipped(\s+message="([^"]*)")?"#).unwrap());

/// The specs of a ginkgo JUnit report (`--junit-report`): the `[It] …` test cases; the suite's
/// set-up and tear-down nodes (`[SynchronizedBeforeSuite]`, `[ReportAfterSuite] …`) are left out.
pub fn parse_junit(xml: &str) -> Vec<Case> {
    TESTCASE
        .captures_iter(xml)
        .filter(|c| {
            let attrs = c.get(1).map_or("", |m| m.as_str());
            attrs.contains(r#"name="[It] "#)
        })
        .map(|c| {
            let attrs = c.get(1).map_or("", |m| m.as_str());
            let body = c.get(3).map_or("", |m| m.as_str());
            let attr = |name: &str| {
                ATTR.captures_iter(attrs)
                    .find(|a| &a[1] == name)
                    .map(|a| unescape(&a[2]))
                    .unwrap_or_default()
            };
            let name = attr("name");
            let status = attr("status");
            let (outcome, message) = if let Some(f) = FAILURE.captures(body) {
                let inner = f.get(3).map_or("", |m| m.as_str());
                let head = f.get(2).or_else(|| f.get(6)).map_or("", |m| m.as_str());
                let from_attr = ATTR
                    .captures_iter(head)
                    .find(|a| &a[1] == "message")
                    .map(|a| unescape(&a[2]))
                    .unwrap_or_default();
                let text = if inner.trim().is_empty() {
                    from_attr
                } else {
                    unescape(inner.trim())
                };
                (Outcome::Failed, text)
            } else if let Some(skip) = SKIPPED.captures(body) {
                let message = skip.get(2).map_or(String::new(), |m| unescape(m.as_str()));
                // ginkgo writes filtered-out specs as skipped with the bare word `skipped`.
                if status == "pending" || message.is_empty() || message == "skipped" {
                    (Outcome::NotSelected, message)
                } else {
                    (Outcome::SkippedAtRunTime, message)
                }
            } else if status == "skipped" || status == "pending" {
                (Outcome::NotSelected, String::new())
            } else {
                (Outcome::Passed, String::new())
            };
            Case {
                name,
                outcome,
                message,
            }
        })
        .collect()
}

/// A failure's cause class, from its message.
pub fn classify(message: &str) -> &'static str {
    static IMAGE: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"(?i)ErrImagePull|ImagePullBackOff|ErrImageNeverPull|failed to pull|pull access denied|image .* not (present|found)").unwrap()
    });
    static NODES: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"(?i)at least \d+ (schedulable )?nodes|not enough nodes|requires? \d+ nodes|insufficient nodes|didn't match Pod's node affinity|nodes are available").unwrap()
    });
    static TIMEOUT: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"(?i)timed out|timeout|context deadline exceeded").unwrap());
    if IMAGE.is_match(message) {
        "image missing"
    } else if NODES.is_match(message) {
        "needs more nodes"
    } else if TIMEOUT.is_match(message) {
        "timed out (look into it)"
    } else {
        "other (cluster or test bug: look into it)"
    }
}

fn unescape(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&#xA;", "\n")
        .replace("&#10;", "\n")
        .replace("&#x9;", "\t")
        .replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::*;

    const REPORT: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<testsuites tests="5" failures="1">
  <testsuite name="Kubernetes e2e suite" tests="5">
    <testcase name="[SynchronizedBeforeSuite]" classname="Kubernetes e2e suite" status="passed" time="1.2"></testcase>
    <testcase name="[It] [sig-node] Pods should be submitted and removed [Conformance]" classname="Kubernetes e2e suite" status="passed" time="3.1">
      <system-err>log &amp; lines</system-err>
    </testcase>
    <testcase name="[It] [sig-apps] Deployment should run httpd [Conformance]" classname="Kubernetes e2e suite" status="failed" time="300">
      <failure message="[FAILED] pod never ran" type="failed">[FAILED] waiting for pod: Back-off pulling image &quot;registry.k8s.io/e2e-test-images/httpd:2.4.38-4&quot;: ErrImagePull&#xA;more</failure>
    </testcase>
    <testcase name="[It] [sig-scheduling] spreads across 3 nodes [Conformance]" classname="Kubernetes e2e suite" status="skipped" time="0.1">
      <skipped message="skipped - Requires at least 3 nodes (not 2)"></skipped>
    </testcase>
    <testcase name="[It] [sig-storage] not focused" classname="Kubernetes e2e suite" status="skipped" time="0">
      <skipped message="skipped"></skipped>
    </testcase>
  </testsuite>
</testsuites>"#;

    #[test]
    fn each_spec_gets_its_outcome_and_message() {
        let cases = parse_junit(REPORT);
        let outcomes: Vec<Outcome> = cases.iter().map(|c| c.outcome).collect();
        assert_eq!(
            outcomes,
            vec![
                Outcome::Passed,
                Outcome::Failed,
                Outcome::SkippedAtRunTime,
                Outcome::NotSelected
            ]
        );
        assert_eq!(
            cases[1].name,
            "[It] [sig-apps] Deployment should run httpd [Conformance]"
        );
        assert!(
            cases[1]
                .message
                .starts_with("[FAILED] waiting for pod: Back-off pulling image \"registry.k8s.io"),
            "{}",
            cases[1].message
        );
        assert!(cases[2].message.contains("Requires at least 3 nodes"));
    }

    #[test]
    fn failures_are_classed_by_cause() {
        assert_eq!(
            classify("Back-off pulling image x: ErrImagePull"),
            "image missing"
        );
        assert_eq!(
            classify("0/2 nodes are available: 2 Insufficient cpu"),
            "needs more nodes"
        );
        assert_eq!(
            classify("waiting for webhook configuration to be ready: timed out"),
            "timed out (look into it)"
        );
        assert_eq!(
            classify("expected 3 env vars, got 2"),
            "other (cluster or test bug: look into it)"
        );
    }

    #[test]
    fn a_self_closing_failure_keeps_its_message_attribute() {
        let xml = r#"<testcase name="[It] a" status="failed"><failure message="boom &amp; more" type="x"/></testcase>"#;
        let cases = parse_junit(xml);
        assert_eq!(cases[0].outcome, Outcome::Failed);
        assert_eq!(cases[0].message, "boom & more");
    }
}
