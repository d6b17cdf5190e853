//! Property tests of driver files: any text is read or refused with every error at a line of
//! the file, generated files built from upstream's keys never panic the reader, a misspelt key
//! is refused at its own line, and sizes and Go durations parse as written.
//!
//! Each property runs for arbtest's budget: 100 ms by default, `ARBTEST_BUDGET_MS` to search
//! longer, `ARBTEST_SEED` to replay a failure (see `docs/fuzzing.md`).

use super::definition::{parse_go_duration, parse_quantity};
use super::*;
use crate::capability::Capability;
use arbitrary::{Result, Unstructured};
use arbtest::arbtest;

/// Lines as YAML counts them (`\r` breaks a line too).
fn line_count(text: &str) -> u64 {
    text.replace("\r\n", "\n")
        .replace('\r', "\n")
        .lines()
        .count()
        .max(1) as u64
}

fn check(text: &str, result: &Result<ExternalDriver, ExternalDriverError>) {
    let lines = line_count(text);
    match result {
        Ok(d) => assert!(!d.definition().info.name.trim().is_empty(), "{text:?}"),
        Err(ExternalDriverError::Invalid { diagnostics, .. }) => {
            assert!(
                diagnostics.iter().any(|d| d.severity == Severity::Error),
                "refused without an error: {diagnostics:?}"
            );
            for d in diagnostics {
                assert!(
                    d.pos.line <= lines,
                    "{d:?} is past the file's {lines} lines:\n{text:?}"
                );
                assert!(!d.message.is_empty(), "{d:?}");
            }
        }
        Err(other) => panic!("unexpected {other:?}"),
    }
}

const TOKENS: &[&str] = &[
    "DriverInfo",
    "Name",
    "StorageClass",
    "FromName",
    "FromFile",
    "SupportedFsType",
    "Capabilities",
    "persistence",
    "Timeouts",
    "PodStart",
    "SupportedSizeRange",
    "Min",
    "Max",
    "InlineVolumes",
    "Attributes",
    ":",
    ": ",
    "\n",
    "\n  ",
    "\n    ",
    "- ",
    "{",
    "}",
    "[",
    "]",
    ",",
    "\"",
    "'",
    "#",
    "{{ x }}",
    "${X}",
    "$X",
    "{word}",
    "---\n",
    "~",
    "true",
    "010",
    "5Gi",
    "1e3",
    "1.5h",
    "-1",
    "\t",
    "&a ",
    "*a",
    "? ",
    "|\n  ",
];

#[test]
fn any_text_is_read_or_refused_at_lines_of_the_file() {
    arbtest(|u| {
        let text = if u.arbitrary()? {
            u.arbitrary::<String>()?
        } else {
            let mut s = String::new();
            for _ in 0..u.int_in_range(0..=60)? {
                s.push_str(u.choose(TOKENS)?);
            }
            s
        };
        check(&text, &ExternalDriver::parse("d.yaml", &text));
        Ok(())
    });
}

/// A YAML value in flow style: the shape of what upstream's keys take, and of what they do not.
fn value(u: &mut Unstructured<'_>, depth: u32) -> Result<String> {
    let scalars = [
        "csi.example.com",
        "true",
        "false",
        "yes",
        "~",
        "\"\"",
        "0",
        "10",
        "-3",
        "1.0",
        "1e1",
        "5Gi",
        "1Ti",
        "-1Gi",
        "10m",
        "1h30m",
        "soon",
        "ext4",
        "ReadWriteOnce",
        "\"{{ .X }}\"",
        "99999999999999999999999",
        "1e400",
    ];
    if depth == 0 || u.ratio(1, 2)? {
        return Ok(u.choose(&scalars)?.to_string());
    }
    let mut parts = Vec::new();
    let map = u.arbitrary()?;
    for _ in 0..u.int_in_range(0..=3)? {
        let v = value(u, depth - 1)?;
        parts.push(if map { format!("{}: {v}", key(u)?) } else { v });
    }
    Ok(if map {
        format!("{{{}}}", parts.join(", "))
    } else {
        format!("[{}]", parts.join(", "))
    })
}

fn key(u: &mut Unstructured<'_>) -> Result<String> {
    let keys = [
        "DriverInfo",
        "Name",
        "StorageClass",
        "SnapshotClass",
        "VolumeAttributesClass",
        "GroupSnapshotClass",
        "FromName",
        "FromFile",
        "FromExistingClassName",
        "InlineVolumes",
        "Attributes",
        "Shared",
        "ReadOnly",
        "ClientNodeName",
        "NodeSelectors",
        "Timeouts",
        "PodStart",
        "poll",
        "SupportedFsType",
        "SupportedMountOption",
        "Capabilities",
        "RequiredAccessModes",
        "TopologyKeys",
        "NumAllowedTopologies",
        "MaxFileSize",
        "SupportedSizeRange",
        "Min",
        "Max",
        "StressTestOptions",
        "NumPods",
        "NumRestarts",
        "PerformanceTestOptions",
        "ProvisioningOptions",
        "VolumeSize",
        "Count",
        "ExpectedMetrics",
        "AvgLatency",
        "Throughput",
        "ShortName",
        "FeatureTag",
        "dataSource",
    ];
    Ok(if u.ratio(1, 4)? {
        u.choose(&Capability::ALL)?.key().to_string()
    } else {
        u.choose(&keys)?.to_string()
    })
}

/// A block-style mapping of upstream's keys, nested up to `depth`.
fn block(u: &mut Unstructured<'_>, indent: usize, depth: u32, out: &mut String) -> Result<()> {
    for _ in 0..u.int_in_range(1..=4)? {
        out.push_str(&" ".repeat(indent));
        out.push_str(&key(u)?);
        out.push(':');
        if depth > 0 && u.ratio(1, 2)? {
            out.push('\n');
            block(u, indent + 2, depth - 1, out)?;
        } else {
            out.push(' ');
            out.push_str(&value(u, 2)?);
            out.push('\n');
        }
    }
    Ok(())
}

#[test]
fn generated_driver_files_are_read_or_refused_at_lines_of_the_file() {
    arbtest(|u| {
        let mut text = String::new();
        if u.arbitrary()? {
            text.push_str("DriverInfo:\n  Name: csi.example.com\n");
        }
        block(u, 0, 3, &mut text)?;
        check(&text, &ExternalDriver::parse("d.yaml", &text));
        let warn = LoadOptions {
            unknown_keys: UnknownKeys::Warn,
            test_files: None,
        };
        check(&text, &ExternalDriver::parse_with("d.yaml", &text, &warn));
        Ok(())
    });
}

#[test]
fn a_misspelt_key_is_refused_at_its_line() {
    arbtest(|u| {
        let lines = [
            "DriverInfo:",
            "  Name: csi.example.com",
            "  SupportedFsType: {ext4: {}}",
            "  Capabilities:",
            "    persistence: true",
            "  StressTestOptions:",
            "    NumPods: 10",
            "StorageClass:",
            "  FromName: true",
            "InlineVolumes:",
            "  - Attributes: {a: b}",
            "    Shared: true",
            "Timeouts:",
            "  PodStart: 10m",
        ];
        let i = u.choose_index(lines.len())?;
        let line = lines[i];
        let indent = line.len() - line.trim_start_matches([' ', '-']).len();
        let key_len = line[indent..].find(':').unwrap_or(0);
        let mut chars: Vec<char> = line[indent..indent + key_len].chars().collect();
        let at = u.choose_index(chars.len())?;
        chars.insert(at, 'q');
        let wrong: String = chars.iter().collect();
        let mut text: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
        text[i] = format!("{}{wrong}{}", &line[..indent], &line[indent + key_len..]);
        let text = text.join("\n") + "\n";
        let err = ExternalDriver::parse("d.yaml", &text)
            .err()
            .unwrap_or_else(|| panic!("`{wrong}` was accepted:\n{text}"));
        let shown = format!("{err:#}");
        let ExternalDriverError::Invalid { diagnostics, .. } = &err else {
            panic!("{shown}");
        };
        assert!(
            diagnostics
                .iter()
                .any(|d| d.pos.line == i as u64 + 1 && d.message.contains(&wrong)),
            "no error names `{wrong}` at line {}: {diagnostics:?}\n{text}",
            i + 1
        );
        Ok(())
    });
}

#[test]
fn sizes_and_go_durations_parse_as_written() {
    arbtest(|u| {
        let n = u.int_in_range(0..=1_000_000u64)?;
        let (suffix, scale) = *u.choose(&[
            ("", 1u128),
            ("Ki", 1 << 10),
            ("Mi", 1 << 20),
            ("Gi", 1 << 30),
            ("Ti", 1 << 40),
            ("k", 1000),
            ("M", 1_000_000),
            ("G", 1_000_000_000),
        ])?;
        assert_eq!(
            parse_quantity(&format!("{n}{suffix}")),
            Ok(u128::from(n) * scale)
        );
        let (unit, secs) = *u.choose(&[("ms", 0.001), ("s", 1.0), ("m", 60.0), ("h", 3600.0)])?;
        let d = parse_go_duration(&format!("{n}{unit}")).expect("a Go duration");
        assert!(
            (d.as_secs_f64() - n as f64 * secs).abs() < 1e-3,
            "{n}{unit}: {d:?}"
        );
        let junk = u.arbitrary::<String>()?;
        let _ = parse_quantity(&junk);
        let _ = parse_go_duration(&junk);
        Ok(())
    });
}
