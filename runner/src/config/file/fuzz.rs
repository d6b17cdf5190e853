//! Property tests of the config file: any text is read or refused with a location, and files
//! built from the real keys — nested or flat, values right or wrong, keys spelt right or not —
//! are accepted exactly when every entry is right, with each value passed on as its flag.
//!
//! Each property runs for arbtest's budget: 100 ms by default, `ARBTEST_BUDGET_MS` to search
//! longer, `ARBTEST_SEED` to replay a failure (see `docs/fuzzing.md`).

use super::*;
use crate::config::param::{ParamDef, ParamKind, parse_duration};
use arbitrary::{Result, Unstructured};
use arbtest::arbtest;

static DEFS: &[ParamDef] = &[
    ParamDef {
        name: "storage.testdriver",
        kind: ParamKind::List,
        default: None,
        help: "driver files",
    },
    ParamDef {
        name: "framework.pod-start-timeout",
        kind: ParamKind::Duration,
        default: Some("5m"),
        help: "t",
    },
    ParamDef {
        name: "my.count",
        kind: ParamKind::Int,
        default: Some("1"),
        help: "n",
    },
    ParamDef {
        name: "my.deep.flag",
        kind: ParamKind::Bool,
        default: None,
        help: "b",
    },
];

fn defs() -> Vec<&'static ParamDef> {
    DEFS.iter().collect()
}

/// Checks what a refusal says: the file, a line inside it, and the key.
fn check_error(text: &str, err: &ConfigError) {
    let shown = err.to_string();
    assert!(
        shown.contains("e2e.yaml"),
        "the error names the file: {shown}"
    );
    // YAML breaks lines at `\r` too, as old editors wrote them.
    let lines = text
        .replace("\r\n", "\n")
        .replace('\r', "\n")
        .lines()
        .count()
        .max(1) as u64;
    match err {
        ConfigError::UnknownKey { key, line, .. } | ConfigError::WrongType { key, line, .. } => {
            assert!(
                (1..=lines).contains(line),
                "line {line} outside 1..={lines}: {shown}\n{text:?}"
            );
            assert!(!key.is_empty(), "an empty key: {shown}");
            assert!(shown.contains(&format!("e2e.yaml:{line}")), "{shown}");
        }
        ConfigError::Yaml { message, .. } => {
            assert!(
                message.contains("line"),
                "no line in the YAML error: {shown}"
            );
        }
        other => panic!("unexpected error {other:?} for\n{text}"),
    }
}

fn read_file(text: &str) -> Result<Vec<OsString>, ConfigError> {
    let path = Path::new("e2e.yaml");
    let mut cmd = command(&defs());
    cmd.build();
    file_args(read_entries(text, path)?, path, &cmd, &defs())
}

const YAML_TOKENS: &[&str] = &[
    "runner",
    "storage",
    "my",
    "count",
    "testdriver",
    "fail-fast",
    "label-filter",
    ".",
    ":",
    ": ",
    "\n",
    "\n  ",
    "\n    ",
    "- ",
    "[",
    "]",
    "{",
    "}",
    ",",
    "#",
    "'",
    "\"",
    "&a ",
    "*a",
    "!!str ",
    "---\n",
    "~",
    "true",
    "1",
    "5m",
    "|\n  ",
    "? ",
];

#[test]
fn any_text_is_read_or_refused_with_a_location() {
    arbtest(|u| {
        let text = if u.arbitrary()? {
            u.arbitrary::<String>()?
        } else {
            let mut s = String::new();
            for _ in 0..u.int_in_range(0..=60)? {
                s.push_str(u.choose(YAML_TOKENS)?);
            }
            s
        };
        if let Err(e) = read_file(&text) {
            check_error(&text, &e);
        }
        Ok(())
    });
}

/// A value for a key and whether the key takes it.
struct Value {
    yaml: String,
    /// The flag values it becomes when right.
    args: Vec<String>,
    right: bool,
}

fn scalar(yaml: &str, right: bool) -> Value {
    Value {
        yaml: yaml.into(),
        args: vec![yaml.into()],
        right,
    }
}

/// The keys a file may hold and the values each takes: kinds of every sort.
const KEYS: &[&str] = &[
    "storage.testdriver",
    "framework.pod-start-timeout",
    "my.count",
    "my.deep.flag",
    "runner.fail-fast",
    "runner.label-filter",
    "runner.focus",
    "runner.seed",
    "runner.shard",
    "runner.spec-timeout",
];

fn value(u: &mut Unstructured<'_>, key: &str) -> Result<Value> {
    let list = |u: &mut Unstructured<'_>, right: bool| -> Result<Value> {
        let items: Vec<&str> = (0..u.int_in_range(1..=3)?)
            .map(|_| u.choose(&["a.yaml", "b.yaml", "Slow"]).copied())
            .collect::<Result<_>>()?;
        Ok(Value {
            yaml: format!("[{}]", items.join(", ")),
            args: items.iter().map(|s| s.to_string()).collect(),
            right,
        })
    };
    let pick = |u: &mut Unstructured<'_>, good: &[&str], bad: &[&str]| -> Result<Value> {
        Ok(if bad.is_empty() || u.ratio(3, 4)? {
            scalar(u.choose(good)?, true)
        } else {
            scalar(u.choose(bad)?, false)
        })
    };
    match key {
        // Repeatable: a list or one value.
        "storage.testdriver" | "runner.focus" if u.arbitrary()? => list(u, true),
        "storage.testdriver" | "runner.focus" => pick(u, &["a.yaml", "Slow", "x y"], &[]),
        // One value: a list is wrong.
        "runner.label-filter" if u.ratio(1, 4)? => list(u, false),
        "runner.label-filter" => pick(u, &["Slow", "x y", "Slow && !Flaky"], &[]),
        "framework.pod-start-timeout" => pick(u, &["5m", "90s", "1h30m", "0s"], &["soon", "5d"]),
        "runner.spec-timeout" => pick(u, &["5m", "90s", "1h30m", "250ms"], &["soon", "5d", "0s"]),
        "my.count" => pick(u, &["3", "-7", "0"], &["many", "1.5", "[1, 2]"]),
        "my.deep.flag" => pick(u, &["true", "false"], &["maybe", "[true]"]),
        "runner.fail-fast" => pick(u, &["true", "false"], &["maybe", "1"]),
        "runner.seed" => pick(u, &["42", "0"], &["-1", "x"]),
        "runner.shard" => pick(u, &["1/2", "2/2"], &["3/2", "0/1", "half"]),
        other => unreachable!("no values for {other}"),
    }
}

/// The file as a tree: each key is written partly nested, partly dotted.
#[derive(Default)]
struct Tree {
    entries: Vec<(String, Node)>,
}

enum Node {
    Leaf(String),
    Map(Tree),
}

impl Tree {
    fn insert(&mut self, path: &[&str], split: usize, yaml: String) {
        if split == 0 || path.len() == 1 {
            self.entries.push((path.join("."), Node::Leaf(yaml)));
            return;
        }
        let (head, rest) = (path[0], &path[1..]);
        let found = self.entries.iter_mut().find_map(|(k, n)| match n {
            Node::Map(t) if k == head => Some(t),
            _ => None,
        });
        match found {
            Some(t) => t.insert(rest, split - 1, yaml),
            None => {
                let mut t = Tree::default();
                t.insert(rest, split - 1, yaml);
                self.entries.push((head.to_string(), Node::Map(t)));
            }
        }
    }

    fn render(&self, u: &mut Unstructured<'_>, indent: usize, out: &mut String) -> Result<()> {
        for (key, node) in &self.entries {
            if u.ratio(1, 8)? {
                out.push_str(&" ".repeat(indent));
                out.push_str("# a comment\n");
            }
            out.push_str(&" ".repeat(indent));
            out.push_str(key);
            out.push(':');
            match node {
                Node::Leaf(v) => {
                    out.push(' ');
                    out.push_str(v);
                    out.push('\n');
                }
                Node::Map(t) => {
                    out.push('\n');
                    let step = *u.choose(&[2, 4])?;
                    t.render(u, indent + step, out)?;
                }
            }
        }
        Ok(())
    }
}

/// `key` with a slip of the keyboard: a letter dropped, doubled or changed in case.
fn misspell(u: &mut Unstructured<'_>, key: &str) -> Result<String> {
    let chars: Vec<char> = key.chars().collect();
    let i = u.choose_index(chars.len())?;
    let mut out: Vec<char> = chars.clone();
    match u.int_in_range(0..=2)? {
        0 if chars[i] != '.' => {
            out.remove(i);
        }
        1 => out.insert(i, chars[i]),
        _ => out[i] = if chars[i] == 'x' { 'q' } else { 'x' },
    }
    let out: String = out.into_iter().collect();
    Ok(if out == key || out.split('.').any(str::is_empty) {
        format!("{key}x")
    } else {
        out
    })
}

#[test]
fn generated_files_are_accepted_exactly_when_every_entry_is_right() {
    arbtest(|u| {
        let mut tree = Tree::default();
        let mut used: Vec<String> = Vec::new();
        let mut all_right = true;
        let mut expected: Vec<(String, Vec<String>)> = Vec::new();
        for _ in 0..u.int_in_range(0..=6)? {
            let key = *u.choose(KEYS)?;
            let v = value(u, key)?;
            let (key, right) = if u.ratio(1, 8)? {
                (misspell(u, key)?, false)
            } else {
                (key.to_string(), v.right)
            };
            // The same key twice in one mapping is a YAML matter, not the loader's.
            if used.iter().any(|k| {
                k == &key || k.starts_with(&format!("{key}.")) || key.starts_with(&format!("{k}."))
            }) {
                continue;
            }
            used.push(key.clone());
            all_right &= right;
            if right {
                expected.push((key.clone(), v.args.clone()));
            }
            let path: Vec<&str> = key.split('.').collect();
            let split = u.int_in_range(0..=path.len() - 1)?;
            tree.insert(&path, split, v.yaml);
        }
        let mut text = String::new();
        tree.render(u, 0, &mut text)?;
        match read_file(&text) {
            Ok(args) => {
                assert!(
                    all_right,
                    "a wrong entry was accepted:\n{text}\nargs {args:?}"
                );
                let args: Vec<String> = args
                    .iter()
                    .map(|a| a.to_string_lossy().into_owned())
                    .collect();
                for (key, values) in &expected {
                    let flag = format!("--{}", key.strip_prefix("runner.").unwrap_or(key));
                    let bool_flag = key == "runner.fail-fast";
                    if bool_flag {
                        assert_eq!(
                            args.contains(&flag),
                            values == &["true"],
                            "{key}: {args:?}\n{text}"
                        );
                        continue;
                    }
                    let given: Vec<&String> = args
                        .windows(2)
                        .filter(|w| w[0] == flag)
                        .map(|w| &w[1])
                        .collect();
                    assert_eq!(given, values.iter().collect::<Vec<_>>(), "{key}:\n{text}");
                }
            }
            Err(e) => {
                assert!(!all_right, "a right file was refused: {e}\n{text}");
                check_error(&text, &e);
            }
        }
        Ok(())
    });
}

/// Durations as the flags take them: a sum of number-unit pairs, or plain seconds.
#[test]
fn durations_parse_or_say_what_a_duration_looks_like() {
    arbtest(|u| {
        let mut text = String::new();
        let mut secs = 0f64;
        let mut exact = true;
        for _ in 0..u.int_in_range(0..=4)? {
            let n = u.int_in_range(0..=1000u32)?;
            let (unit, scale) =
                *u.choose(&[("ms", 0.001), ("s", 1.0), ("m", 60.0), ("h", 3600.0)])?;
            text.push_str(&format!("{n}{unit}"));
            secs += f64::from(n) * scale;
        }
        if u.ratio(1, 3)? {
            let junk = u.arbitrary::<String>()?;
            exact = junk.is_empty();
            text.push_str(&junk);
        }
        match parse_duration(&text) {
            Ok(d) if exact && !text.is_empty() => {
                assert!(
                    (d.as_secs_f64() - secs).abs() < 1e-6,
                    "{text:?}: {d:?} != {secs}s"
                )
            }
            Ok(_) => {}
            Err(e) => {
                assert!(!exact || text.is_empty(), "{text:?}: {e}");
                assert!(e.contains("expected a duration"), "{e}");
            }
        }
        for kind in [
            ParamKind::Bool,
            ParamKind::Int,
            ParamKind::Float,
            ParamKind::Duration,
        ] {
            if let Err(e) = kind.parse(&text) {
                assert!(
                    e.contains("expected") || e.contains("at most"),
                    "{kind:?} {text:?}: {e}"
                );
            }
        }
        Ok(())
    });
}
