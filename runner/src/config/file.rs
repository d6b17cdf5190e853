//! Settings from flags, environment and a YAML config file, in that precedence.
//!
//! The config file holds dotted keys, nested or flat (`storage: {testdriver: x}` equals
//! `storage.testdriver: x`). Keys are registered parameters or `runner.<flag>` for the
//! framework's flags (`runner.label-filter: Conformance`). A file value applies only when neither
//! the flag nor its environment variable is given: file values are put in front of the command
//! line (flags override themselves, so a later flag wins) unless the variable is set. Unknown
//! keys and wrongly typed values are errors naming the file, line and key, with a suggestion.

use crate::config::cli::Cli;
use crate::config::param::{
    ParamDef, ParamKind, ParamValue, Params, QUOTE_LIMIT, quote, shorten, suggest,
};
use clap::{Arg, ArgAction, CommandFactory, FromArgMatches};
use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::Spanned;
use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};

/// A configuration problem. All of them end the run with exit code 2.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The command line is wrong, or help was asked for (clap prints it).
    #[error(transparent)]
    Cli(#[from] clap::Error),
    /// The config file could not be read.
    #[error("failed to read config file {}", quote(&.path.display().to_string()))]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The config file is not valid YAML.
    #[error(
        "config file {} is not valid YAML: {message}",
        quote(&.path.display().to_string())
    )]
    Yaml {
        /// The file.
        path: PathBuf,
        /// The parser's message, with the location.
        message: String,
    },
    /// An argument or a flag's environment variable is not UTF-8 (clap would not say which).
    #[error("{what} is not valid UTF-8: {}", quote(.shown))]
    NotUtf8 {
        /// The argument or variable, e.g. "the value of `--focus`".
        what: String,
        /// The text with the invalid bytes replaced.
        shown: String,
    },
    /// A flag's environment variable has a bad value (clap names only the flag).
    #[error("environment variable `{var}`: {message}")]
    Environment {
        /// The variable.
        var: String,
        /// clap's message.
        message: String,
    },
    /// A key is not a known parameter or `runner.<flag>`.
    #[error("unknown key {} in {path}:{line}{hint}", quote(.key))]
    UnknownKey {
        /// The dotted key.
        key: String,
        /// The file.
        path: String,
        /// 1-based line.
        line: u64,
        /// "; did you mean `x`?" or empty.
        hint: String,
    },
    /// A value has the wrong type.
    #[error("wrong value for {} in {path}:{line}: {message}", quote(.key))]
    WrongType {
        /// The dotted key.
        key: String,
        /// The file.
        path: String,
        /// 1-based line.
        line: u64,
        /// What was expected.
        message: String,
    },
}

/// A YAML node with locations kept for error messages.
enum Yaml {
    Scalar(String),
    Seq(Vec<Spanned<Yaml>>),
    Map(Vec<(Spanned<String>, Spanned<Yaml>)>),
}

impl<'de> Deserialize<'de> for Yaml {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Yaml;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a YAML value")
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Yaml, E> {
                Ok(Yaml::Scalar(v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Yaml, E> {
                Ok(Yaml::Scalar(v.to_string()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Yaml, E> {
                Ok(Yaml::Scalar(v.to_string()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Yaml, E> {
                Ok(Yaml::Scalar(v.to_string()))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Yaml, E> {
                Ok(Yaml::Scalar(v.to_string()))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Yaml, E> {
                Ok(Yaml::Scalar(String::new()))
            }
            fn visit_none<E: de::Error>(self) -> Result<Yaml, E> {
                Ok(Yaml::Scalar(String::new()))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut a: A) -> Result<Yaml, A::Error> {
                let mut v = Vec::new();
                while let Some(x) = a.next_element()? {
                    v.push(x);
                }
                Ok(Yaml::Seq(v))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<Yaml, A::Error> {
                let mut v = Vec::new();
                while let Some(kv) = a.next_entry()? {
                    v.push(kv);
                }
                Ok(Yaml::Map(v))
            }
        }
        d.deserialize_any(V)
    }
}

/// One flattened config entry.
#[derive(Debug, PartialEq)]
pub(crate) struct Entry {
    pub key: String,
    pub values: Vec<String>,
    pub is_list: bool,
    pub line: u64,
}

fn flatten(prefix: &str, node: Spanned<Yaml>, line: u64, out: &mut Vec<Entry>) {
    let line = match &node.value {
        // A missing value has no place of its own: the parser may put it where the next token
        // starts, even past the end of the file (`? key` with no `:`). The key's line is meant.
        Yaml::Scalar(s) if s.is_empty() => line,
        _ if node.referenced.line() > 0 => node.referenced.line(),
        _ => line,
    };
    match node.value {
        Yaml::Map(entries) => {
            for (k, v) in entries {
                let key = if prefix.is_empty() {
                    k.value
                } else {
                    format!("{prefix}.{}", k.value)
                };
                flatten(&key, v, k.referenced.line(), out);
            }
        }
        Yaml::Seq(items) => {
            let values = items
                .into_iter()
                .map(|i| match i.value {
                    Yaml::Scalar(s) => s,
                    _ => String::from("<nested value>"),
                })
                .collect();
            out.push(Entry {
                key: prefix.into(),
                values,
                is_list: true,
                line,
            });
        }
        Yaml::Scalar(s) => out.push(Entry {
            key: prefix.into(),
            values: vec![s],
            is_list: false,
            line,
        }),
    }
}

/// Reads a config file into flattened entries.
pub(crate) fn read_entries(text: &str, path: &Path) -> Result<Vec<Entry>, ConfigError> {
    let nothing = text.lines().all(|l| {
        let t = l.trim();
        t.is_empty() || t.starts_with('#') || t == "---" || t == "..."
    });
    if nothing {
        return Ok(Vec::new());
    }
    let root: Spanned<Yaml> = serde_saphyr::from_str(text).map_err(|e| ConfigError::Yaml {
        path: path.into(),
        // The parser quotes a value it cannot read whole, however long.
        message: crate::config::param::shorten_words(&e.to_string()),
    })?;
    if matches!(&root.value, Yaml::Scalar(_) | Yaml::Seq(_)) {
        return Err(ConfigError::WrongType {
            key: "(top level)".into(),
            path: path.display().to_string(),
            line: root.referenced.line().max(1),
            message: "the config file must be a mapping of keys to values".into(),
        });
    }
    let mut out = Vec::new();
    flatten("", root, 1, &mut out);
    for e in &out {
        if let Some(tag) = unquoted_tag(text, e) {
            return Err(ConfigError::WrongType {
                key: e.key.clone(),
                path: path.display().to_string(),
                line: e.line,
                message: format!(
                    "`{tag}` is read by YAML as a tag, not as text (the value becomes empty); quote it: \"{tag}\""
                ),
            });
        }
    }
    Ok(out)
}

/// The YAML tag (`!Flaky`) an empty value of `e` came from, if its line has one: a label
/// filter such as `!Flaky` written without quotes is a tag to YAML, and the value is empty.
fn unquoted_tag(text: &str, e: &Entry) -> Option<String> {
    if e.is_list || e.values.iter().any(|v| !v.is_empty()) {
        return None;
    }
    let line = text
        .lines()
        .nth(usize::try_from(e.line).ok()?.checked_sub(1)?)?;
    let last = e.key.rsplit('.').next()?;
    let after_key = &line[line.find(last)? + last.len()..];
    let value = after_key.trim_start().strip_prefix(':')?.trim_start();
    value
        .starts_with('!')
        .then(|| value.split_whitespace().next().unwrap_or(value).to_string())
}

fn param_arg(def: &'static ParamDef) -> Arg {
    let kind = def.kind;
    let mut help = format!("{} [{}", def.help, kind.name());
    if let Some(d) = def.default {
        help.push_str(&format!(", default: {d}"));
    }
    help.push(']');
    let arg = Arg::new(def.name)
        .long(def.name)
        .env(def.env_var())
        .help(help)
        .help_heading("Parameters")
        .value_name(kind.name().to_uppercase().replace(' ', "_"))
        .value_parser(move |s: &str| kind.parse(s).map(|_| s.to_string()));
    match kind {
        ParamKind::List => arg.action(ArgAction::Append),
        _ => arg.action(ArgAction::Set),
    }
}

fn file_args(
    entries: Vec<Entry>,
    path: &Path,
    cmd: &clap::Command,
    defs: &[&'static ParamDef],
) -> Result<Vec<OsString>, ConfigError> {
    let shown = path.display().to_string();
    let known: Vec<String> = defs
        .iter()
        .map(|d| d.name.to_string())
        .chain(runner_args(cmd).map(|a| format!("runner.{}", a.get_long().unwrap_or_default())))
        .collect();
    let mut out = Vec::new();
    for e in entries {
        let long = match e.key.strip_prefix("runner.") {
            Some(flag) if runner_args(cmd).any(|a| a.get_long() == Some(flag)) => flag.to_string(),
            _ if defs.iter().any(|d| d.name == e.key) => e.key.clone(),
            // `runner.fail-fast: {a: 1}` flattens to `runner.fail-fast.a`: a mapping given where
            // a value belongs.
            _ if let Some(parent) = known.iter().find(|k| e.key.starts_with(&format!("{k}."))) => {
                return Err(ConfigError::WrongType {
                    key: parent.clone(),
                    path: shown,
                    line: e.line,
                    message: "expected a value, found a mapping".into(),
                });
            }
            _ => {
                let hint = suggest(&e.key, known.iter().map(String::as_str))
                    .map(|s| format!("; did you mean `{s}`?"))
                    .unwrap_or_default();
                return Err(ConfigError::UnknownKey {
                    key: e.key,
                    path: shown,
                    line: e.line,
                    hint,
                });
            }
        };
        let arg = cmd
            .get_arguments()
            .find(|a| a.get_long() == Some(long.as_str()))
            .expect("known flag");
        if let Some(env) = arg.get_env()
            && std::env::var_os(env).is_some()
        {
            continue;
        }
        let wrong = |message: String| ConfigError::WrongType {
            key: e.key.clone(),
            path: shown.clone(),
            line: e.line,
            message,
        };
        let takes_value = arg.get_action().takes_values();
        let multiple = matches!(arg.get_action(), ArgAction::Append);
        if e.is_list && !multiple {
            return Err(wrong("expected a single value, found a list".into()));
        }
        if !takes_value {
            match e.values[0].as_str() {
                "true" => out.push(OsString::from(format!("--{long}"))),
                "false" => {}
                other => {
                    return Err(wrong(format!(
                        "expected `true` or `false`, found {}",
                        quote(other)
                    )));
                }
            }
            continue;
        }
        for v in &e.values {
            clap::Command::new("config")
                .no_binary_name(true)
                .arg(arg.clone().env(None::<&str>).required(false))
                .try_get_matches_from([format!("--{long}"), v.clone()])
                .map_err(|err| wrong(clap_message(&err)))?;
            out.push(OsString::from(format!("--{long}")));
            out.push(OsString::from(v));
        }
    }
    Ok(out)
}

fn clap_message(err: &clap::Error) -> String {
    let text = cut_clap_error(err).unwrap_or_else(|| err.to_string());
    let first = text.lines().next().unwrap_or_default();
    first.trim_start_matches("error: ").to_string()
}

/// clap's message for `err` with every value in it longer than [`QUOTE_LIMIT`] characters cut
/// (clap repeats a pasted blob whole, even twice); `None` when nothing needs cutting.
pub(crate) fn cut_clap_error(err: &clap::Error) -> Option<String> {
    use clap::error::ContextValue;
    let long: Vec<&str> = err
        .context()
        .flat_map(|(_, value)| match value {
            ContextValue::String(s) => vec![s.as_str()],
            ContextValue::Strings(v) => v.iter().map(String::as_str).collect(),
            _ => Vec::new(),
        })
        .filter(|s| s.chars().count() > QUOTE_LIMIT)
        .collect();
    if long.is_empty() {
        return None;
    }
    let mut text = err.to_string();
    for value in long {
        text = text.replace(value, &shorten(value));
    }
    Some(text)
}

/// clap's error, or — when the flag it names was not on the command line but its environment
/// variable is set — the same message naming the variable, which is where the value came from.
fn blame_environment(err: clap::Error, cmd: &clap::Command, argv: &[OsString]) -> ConfigError {
    use clap::error::{ContextKind, ContextValue};
    let Some(ContextValue::String(shown)) = err.get(ContextKind::InvalidArg) else {
        return err.into();
    };
    let long = shown
        .trim_start_matches("--")
        .split([' ', '='])
        .next()
        .unwrap_or_default();
    let flag = format!("--{long}");
    let given = argv.iter().skip(1).any(|a| {
        a.to_str()
            .is_some_and(|a| a == flag || a.starts_with(&format!("{flag}=")))
    });
    let var = cmd
        .get_arguments()
        .find(|a| a.get_long() == Some(long))
        .and_then(|a| a.get_env())
        .filter(|var| std::env::var_os(var).is_some());
    match var {
        Some(var) if !given => ConfigError::Environment {
            var: var.to_string_lossy().into_owned(),
            message: clap_message(&err),
        },
        _ => err.into(),
    }
}

/// The first argument, or environment variable of a flag, that is not UTF-8, named: clap only
/// says that one is.
fn find_non_utf8(args: &[OsString], cmd: &clap::Command) -> Option<ConfigError> {
    for (i, arg) in args.iter().enumerate().skip(1) {
        if arg.to_str().is_some() {
            continue;
        }
        let shown = arg.to_string_lossy().into_owned();
        let takes_value = |flag: &&str| {
            flag.strip_prefix("--")
                .and_then(|long| cmd.get_arguments().find(|a| a.get_long() == Some(long)))
                .is_some_and(|a| a.get_action().takes_values())
        };
        let previous = args[i - 1].to_str().filter(takes_value);
        let what = match (shown.split_once('='), previous) {
            (Some((flag, _)), _) if flag.starts_with('-') => format!("the value of `{flag}`"),
            _ if shown.starts_with('-') => "a flag".to_string(),
            (_, Some(flag)) => format!("the value of `{flag}`"),
            _ => format!("argument {i}"),
        };
        return Some(ConfigError::NotUtf8 { what, shown });
    }
    cmd.get_arguments()
        .filter_map(|a| a.get_env())
        .find_map(|env| {
            let value = std::env::var_os(env)?;
            value.to_str().is_none().then(|| ConfigError::NotUtf8 {
                what: format!("environment variable `{}`", env.to_string_lossy()),
                shown: value.to_string_lossy().into_owned(),
            })
        })
}

fn runner_args(cmd: &clap::Command) -> impl Iterator<Item = &Arg> {
    cmd.get_arguments().filter(|a| {
        a.get_help_heading() == Some("Framework") && a.get_long().is_some_and(|l| l != "config")
    })
}

/// The suite's command: the framework's flags and one flag per parameter.
fn command(defs: &[&'static ParamDef]) -> clap::Command {
    defs.iter()
        .fold(Cli::command(), |cmd, def| cmd.arg(param_arg(def)))
}

fn config_path(args: &[OsString]) -> Option<PathBuf> {
    let mut it = args.iter().skip(1);
    while let Some(a) = it.next() {
        let s = a.to_string_lossy();
        if s == "--config" {
            return it.next().map(PathBuf::from);
        }
        if let Some(v) = s.strip_prefix("--config=") {
            return Some(PathBuf::from(v));
        }
    }
    std::env::var_os("KUBE_E2E_CONFIG").map(PathBuf::from)
}

/// Parses the command line, environment and config file.
///
/// # Errors
///
/// Returns [`ConfigError`] for bad flags, unreadable or invalid files, unknown keys and wrongly
/// typed values; `--help` comes back as a [`ConfigError::Cli`] that prints the help.
pub fn parse(
    args: Vec<OsString>,
    defs: &[&'static ParamDef],
) -> Result<(Cli, Params), ConfigError> {
    let mut cmd = command(defs);
    if let Some(name) = args.first().and_then(|a| Path::new(a).file_name()) {
        cmd = cmd.name(name.to_string_lossy().into_owned());
    }
    cmd.build();
    let mut argv = args;
    if argv.is_empty() {
        argv.push("suite".into());
    }
    if let Some(e) = find_non_utf8(&argv, &cmd) {
        return Err(e);
    }
    if let Some(path) = config_path(&argv) {
        let text =
            crate::config::param::read_regular_file(&path).map_err(|source| ConfigError::Read {
                path: path.clone(),
                source,
            })?;
        let extra = file_args(read_entries(&text, &path)?, &path, &cmd, defs)?;
        argv.splice(1..1, extra);
    }
    let matches = cmd
        .try_get_matches_from_mut(argv.clone())
        .map_err(|e| blame_environment(e, &cmd, &argv))?;
    let cli = Cli::from_arg_matches(&matches)?;
    let mut values = Vec::new();
    for def in defs {
        let given: Vec<String> = matches
            .get_many::<String>(def.name)
            .map(|v| v.cloned().collect())
            .unwrap_or_default();
        let value = match (def.kind, given.is_empty()) {
            (ParamKind::List, false) => Some(ParamValue::List(given)),
            (_, false) => def.kind.parse(&given[given.len() - 1]).ok(),
            (ParamKind::List, true) => def.default.map(|d| ParamValue::List(vec![d.to_string()])),
            (_, true) => def.default.and_then(|d| def.kind.parse(d).ok()),
        };
        if let Some(v) = value {
            values.push((def.name.to_string(), v));
        }
    }
    Ok((cli, Params::from_values(values)))
}

#[cfg(test)]
mod fuzz;

#[cfg(test)]
mod tests {
    use super::*;

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
    ];

    fn defs() -> Vec<&'static ParamDef> {
        DEFS.iter().collect()
    }

    fn parse_with(file: &str, args: &[&str]) -> Result<(Cli, Params), ConfigError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("e2e.yaml");
        std::fs::write(&path, file).unwrap();
        let mut argv: Vec<OsString> = vec!["suite".into(), "--config".into(), path.clone().into()];
        argv.extend(args.iter().map(OsString::from));
        parse(argv, &defs())
    }

    #[test]
    fn nested_and_flat_keys_set_params_and_flags() {
        let file = "storage:\n  testdriver: [a.yaml, b.yaml]\nmy.count: 3\nrunner:\n  fail-fast: true\n  label-filter: Conformance\n";
        let (cli, params) = parse_with(file, &[]).unwrap();
        assert_eq!(params.list("storage.testdriver"), ["a.yaml", "b.yaml"]);
        assert_eq!(params.int("my.count"), Some(3));
        assert_eq!(
            params.duration("framework.pod-start-timeout"),
            Some(std::time::Duration::from_secs(300))
        );
        assert!(cli.run.fail_fast);
        assert_eq!(cli.run.label_filter.as_deref(), Some("Conformance"));
    }

    #[test]
    fn flags_beat_the_file() {
        let (cli, params) = parse_with(
            "my.count: 3\nrunner.label-filter: Slow\n",
            &["--my.count", "7", "--label-filter", "Fast"],
        )
        .unwrap();
        assert_eq!(params.int("my.count"), Some(7));
        assert_eq!(cli.run.label_filter.as_deref(), Some("Fast"));
    }

    #[test]
    fn typos_name_file_line_and_suggestion() {
        let err = parse_with("storage:\n  testdriver: x\nstorge:\n  testdriver: y\n", &[])
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown key `storge.testdriver`"), "{err}");
        assert!(err.contains("e2e.yaml:4"), "{err}");
        assert!(err.contains("did you mean `storage.testdriver`?"), "{err}");
        let err = parse_with("runner:\n  focs: x\n", &[])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("`runner.focs`") && err.contains("did you mean `runner.focus`?"),
            "{err}"
        );
    }

    #[test]
    fn comment_only_files_are_empty_and_mappings_where_values_belong_are_wrong_types() {
        let (cli, _) = parse_with("# nothing yet\n\n# at all\n", &[]).unwrap();
        assert!(!cli.run.fail_fast);
        let err = parse_with("runner:\n  fail-fast:\n    a: 1\n", &[])
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            format!(
                "wrong value for `runner.fail-fast` in {}:3: expected a value, found a mapping",
                err.split(" in ").nth(1).unwrap().split(':').next().unwrap()
            )
        );
        let err = parse_with("- a\n- b\n", &[]).unwrap_err().to_string();
        assert!(err.contains("must be a mapping"), "{err}");
    }

    /// Found by `fuzz::any_text_is_read_or_refused_with_a_location`: a key without a value was
    /// reported at the line of whatever came next (or past the end of the file).
    #[test]
    fn a_tag_where_a_label_filter_was_meant_is_refused_with_the_fix() {
        let path = Path::new("e2e.yaml");
        for text in [
            "runner:\n  label-filter: !Flaky\n",
            "runner.label-filter: !Flaky\n",
        ] {
            let err = read_entries(text, path).unwrap_err().to_string();
            assert!(
                err.contains("label-filter")
                    && err.contains("e2e.yaml:")
                    && err.contains("\"!Flaky\""),
                "{text:?}: {err}"
            );
        }
        let quoted = read_entries("runner:\n  label-filter: \"!Flaky\"\n", path).unwrap();
        assert_eq!(quoted[0].values, ["!Flaky"]);
        let empty = read_entries("runner:\n  label-filter:\n", path).unwrap();
        assert_eq!(empty[0].values, [""]);
    }

    #[test]
    fn keys_without_a_value_are_reported_at_their_own_line() {
        for (file, line) in [
            ("storge:\nmy.count: 3\n", 1),
            ("my.count: 3\nstorge:\n", 2),
            ("&a \n    ? countfail-fast---\n", 2),
        ] {
            let err = parse_with(file, &[]).unwrap_err().to_string();
            assert!(err.contains(&format!("e2e.yaml:{line}")), "{file:?}: {err}");
        }
    }

    #[test]
    fn a_fifo_as_config_file_is_refused_not_read_forever() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("e2e.yaml");
        assert!(
            std::process::Command::new("mkfifo")
                .arg(&fifo)
                .status()
                .unwrap()
                .success()
        );
        let argv: Vec<OsString> = vec!["suite".into(), "--config".into(), fifo.clone().into()];
        let err = parse(argv, &defs()).unwrap_err();
        let chain = format!("{err}: {}", std::error::Error::source(&err).unwrap());
        assert!(chain.contains("a FIFO"), "{chain}");
    }

    #[test]
    fn wrong_types_name_file_line() {
        let err = parse_with("\nmy.count: many\n", &[])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("wrong value for `my.count`")
                && err.contains("e2e.yaml:2")
                && err.contains("expected an integer"),
            "{err}"
        );
        let err = parse_with("runner.spec-timeout: soon\n", &[])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("runner.spec-timeout") && err.contains("expected a duration"),
            "{err}"
        );
        let err = parse_with("runner.fail-fast: maybe\n", &[])
            .unwrap_err()
            .to_string();
        assert!(err.contains("expected `true` or `false`"), "{err}");
        let err = parse_with("my.count: [1, 2]\n", &[])
            .unwrap_err()
            .to_string();
        assert!(err.contains("expected a single value"), "{err}");
    }

    #[test]
    fn unknown_flags_and_bad_param_values_are_clap_errors() {
        let err = parse(vec!["s".into(), "--my.cont".into(), "3".into()], &defs())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("--my.cont") && err.contains("--my.count"),
            "{err}"
        );
        let err = parse(vec!["s".into(), "--my.count".into(), "x".into()], &defs())
            .unwrap_err()
            .to_string();
        assert!(err.contains("expected an integer"), "{err}");
    }
}
