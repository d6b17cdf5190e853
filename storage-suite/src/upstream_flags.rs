//! Upstream's `e2e.test` command line, read by the `kube-e2e-storage` binary so that a CSI team's
//! existing invocation keeps working: Go's single-dash flags (`-storage.testdriver=FILE`,
//! `-repo-root`, `-kubeconfig`, `-report-dir`) and the Ginkgo flags a storage run uses
//! (`-ginkgo.focus`, `-ginkgo.skip`, `-ginkgo.label-filter`, `-ginkgo.dry-run`, …) become the
//! runner's own flags. Everything else is passed on unchanged, so the runner's flags work too
//! and an unknown flag gets the runner's error with its suggestion.

use std::ffi::OsString;

/// Upstream flag name (without dashes) → the runner's, and whether it takes a value.
const RENAMES: &[(&str, &str, bool)] = &[
    ("storage.testdriver", "storage.testdriver", true),
    (
        "storage.testdriver-unknown-keys",
        "storage.testdriver-unknown-keys",
        true,
    ),
    ("repo-root", "framework.repo-root", true),
    ("kubeconfig", "framework.kubeconfig", true),
    ("context", "framework.context", true),
    ("report-dir", "report-dir", true),
    ("ginkgo.focus", "focus", true),
    ("ginkgo.skip", "skip-regex", true),
    ("ginkgo.label-filter", "label-filter", true),
    ("ginkgo.seed", "seed", true),
    ("ginkgo.timeout", "suite-timeout", true),
    ("ginkgo.dry-run", "dry-run", false),
    ("ginkgo.fail-fast", "fail-fast", false),
    ("ginkgo.randomize-all", "randomize", false),
    ("ginkgo.v", "verbose", false),
];

/// Ginkgo flags that only change how output looks; dropped.
const IGNORED: &[&str] = &[
    "ginkgo.no-color",
    "ginkgo.vv",
    "ginkgo.succinct",
    "ginkgo.show-node-events",
    "ginkgo.trace",
];

/// The runner's arguments for `args` (the program name first), in order.
pub fn translate(args: Vec<OsString>) -> Vec<OsString> {
    let mut out = Vec::with_capacity(args.len());
    let mut iter = args.into_iter();
    if let Some(program) = iter.next() {
        out.push(program);
    }
    let mut rest_verbatim = false;
    for arg in iter {
        if rest_verbatim {
            out.push(arg);
            continue;
        }
        let Some(text) = arg.to_str() else {
            out.push(arg);
            continue;
        };
        if text == "--" {
            rest_verbatim = true;
            out.push(arg);
            continue;
        }
        let Some(flag) = text.strip_prefix("--").or_else(|| text.strip_prefix('-')) else {
            out.push(arg);
            continue;
        };
        let (name, value) = match flag.split_once('=') {
            Some((n, v)) => (n, Some(v)),
            None => (flag, None),
        };
        if IGNORED.contains(&name) {
            continue;
        }
        // After `--flag` (not a boolean one this translation wrote) comes its value.
        let awaits_value = out.last().and_then(|a| a.to_str()).is_some_and(|prev| {
            prev.len() > 2
                && prev.starts_with("--")
                && !prev.contains('=')
                && !RENAMES
                    .iter()
                    .any(|(_, to, takes)| !takes && prev[2..] == **to)
        });
        match RENAMES.iter().find(|(from, _, _)| *from == name) {
            Some((_, to, true)) => out.push(match value {
                Some(v) => format!("--{to}={v}").into(),
                None => format!("--{to}").into(),
            }),
            // Go's boolean flags take `-flag` or `-flag=VALUE` with what `strconv.ParseBool`
            // reads; any other value is an error there, and is given on to be one here too.
            Some((_, to, false)) => match value {
                None | Some("1" | "t" | "T" | "true" | "TRUE" | "True") => {
                    out.push(format!("--{to}").into())
                }
                Some("0" | "f" | "F" | "false" | "FALSE" | "False") => {}
                Some(v) => out.push(format!("--{to}={v}").into()),
            },
            // Another Go-style flag (`-flake-attempts=2`): given on with two dashes, so that
            // the error names it instead of its first letter as a short flag.
            None if !text.starts_with("--")
                && !awaits_value
                && name.len() > 1
                && name.starts_with(|c: char| c.is_ascii_alphabetic()) =>
            {
                out.push(format!("-{text}").into())
            }
            None => out.push(arg),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(args: &[&str]) -> Vec<String> {
        translate(args.iter().map(OsString::from).collect())
            .into_iter()
            .map(|a| a.into_string().unwrap())
            .collect()
    }

    #[test]
    fn upstreams_invocation_becomes_the_runners() {
        assert_eq!(
            t(&[
                "e2e",
                "-storage.testdriver=/tmp/driver.yaml",
                "-ginkgo.focus=External.Storage",
                "-ginkgo.skip",
                "Disruptive",
                "--repo-root=/src/driver",
                "-kubeconfig",
                "/tmp/kc",
                "-ginkgo.dry-run",
                "-ginkgo.no-color",
                "-ginkgo.v=false",
            ]),
            [
                "e2e",
                "--storage.testdriver=/tmp/driver.yaml",
                "--focus=External.Storage",
                "--skip-regex",
                "Disruptive",
                "--framework.repo-root=/src/driver",
                "--framework.kubeconfig",
                "/tmp/kc",
                "--dry-run",
            ]
        );
    }

    #[test]
    fn the_runners_own_flags_and_values_after_double_dash_pass_unchanged() {
        assert_eq!(
            t(&[
                "e2e",
                "--test-threads",
                "4",
                "--label-filter",
                "!Slow",
                "--",
                "-repo-root"
            ]),
            [
                "e2e",
                "--test-threads",
                "4",
                "--label-filter",
                "!Slow",
                "--",
                "-repo-root"
            ]
        );
    }

    #[test]
    fn go_boolean_spellings_are_read_and_other_values_are_left_to_be_refused() {
        assert_eq!(
            t(&[
                "e2e",
                "-ginkgo.v=T",
                "-ginkgo.dry-run=0",
                "-ginkgo.fail-fast=maybe"
            ]),
            ["e2e", "--verbose", "--fail-fast=maybe"]
        );
    }

    #[test]
    fn other_go_style_flags_get_two_dashes_unless_they_may_be_a_value() {
        assert_eq!(
            t(&[
                "e2e",
                "-ginkgo.flake-attempts=2",
                "-ginkgo.v",
                "-nope",
                "-v",
                "--focus",
                "-x-y"
            ]),
            [
                "e2e",
                "--ginkgo.flake-attempts=2",
                "--verbose",
                "--nope",
                "-v",
                "--focus",
                "-x-y"
            ]
        );
    }
}
