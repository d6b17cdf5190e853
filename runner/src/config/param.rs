//! Parameters: typed, dotted settings that suites and drivers register with
//! [`param!`](crate::param), set by flag (`--storage.testdriver FILE`), environment variable
//! (`KUBE_E2E_STORAGE_TESTDRIVER`) or config file (`storage: {testdriver: FILE}`), in that order
//! of precedence. Values exist only after parsing: static spec definitions cannot read them,
//! generators receive them, and spec bodies read them from their context
//! ([`SpecContext::params`](crate::SpecContext::params)).

use std::collections::BTreeMap;
use std::time::Duration;

/// The type of a parameter's value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParamKind {
    /// `true` or `false`.
    Bool,
    /// A signed 64-bit integer.
    Int,
    /// A floating-point number.
    Float,
    /// Any text.
    String,
    /// A duration such as `90s`, `5m`, `1h30m` or `250ms`.
    Duration,
    /// Text, repeatable (a YAML sequence in the config file).
    List,
}

impl ParamKind {
    /// The kind's name as shown in help and errors.
    pub fn name(self) -> &'static str {
        match self {
            ParamKind::Bool => "bool",
            ParamKind::Int => "integer",
            ParamKind::Float => "number",
            ParamKind::String => "string",
            ParamKind::Duration => "duration",
            ParamKind::List => "list of strings",
        }
    }

    /// Parses one textual value.
    ///
    /// # Errors
    ///
    /// Returns what was expected when the text does not fit the kind.
    pub fn parse(self, text: &str) -> Result<ParamValue, String> {
        let t = text.trim();
        match self {
            ParamKind::Bool => match t {
                "true" => Ok(ParamValue::Bool(true)),
                "false" => Ok(ParamValue::Bool(false)),
                _ => Err(format!("expected `true` or `false`, found {}", quote(t))),
            },
            ParamKind::Int => t
                .parse()
                .map(ParamValue::Int)
                .map_err(|_| format!("expected an integer, found {}", quote(t))),
            ParamKind::Float => t
                .parse()
                .map(ParamValue::Float)
                .map_err(|_| format!("expected a number, found {}", quote(t))),
            ParamKind::String => Ok(ParamValue::String(text.to_string())),
            ParamKind::Duration => match parse_duration(t)? {
                d if d > crate::config::cli::MAX_DURATION => {
                    Err(format!("must be at most 365 days, found {}", quote(t)))
                }
                d => Ok(ParamValue::Duration(d)),
            },
            ParamKind::List => Ok(ParamValue::List(vec![text.to_string()])),
        }
    }
}

/// A parsed parameter value.
#[derive(Clone, Debug, PartialEq)]
pub enum ParamValue {
    /// A bool.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A number.
    Float(f64),
    /// Text.
    String(String),
    /// A duration.
    Duration(Duration),
    /// Several texts.
    List(Vec<String>),
}

/// A parameter definition; register with [`param!`](crate::param).
#[derive(Debug)]
pub struct ParamDef {
    /// Dotted name, e.g. `storage.testdriver`.
    pub name: &'static str,
    /// Value type.
    pub kind: ParamKind,
    /// Default value as text (parsed with `kind`); `None` for no value.
    pub default: Option<&'static str>,
    /// Help text shown by `--help`.
    pub help: &'static str,
}

inventory::collect!(ParamDef);

impl ParamDef {
    /// The environment variable that sets this parameter: `KUBE_E2E_` then the name in upper
    /// case with `.` and `-` as `_`.
    pub fn env_var(&self) -> String {
        env_var_for(self.name)
    }
}

/// `args` with `--<name>=<value>` appended for each default whose parameter is given neither
/// as a flag nor by its environment variable — for a suite's `main` that wants other defaults
/// (e.g. a real node for the local cluster).
pub fn with_defaults(
    mut args: Vec<std::ffi::OsString>,
    defaults: &[(&str, &str)],
) -> Vec<std::ffi::OsString> {
    for (name, value) in defaults {
        let flag = format!("--{name}");
        let given = args.iter().any(|a| {
            let a = a.to_string_lossy();
            a == flag || a.starts_with(&format!("{flag}="))
        }) || std::env::var_os(env_var_for(name)).is_some();
        if !given {
            args.push(format!("{flag}={value}").into());
        }
    }
    args
}

/// `KUBE_E2E_<NAME>` for a dotted name.
pub fn env_var_for(name: &str) -> String {
    let upper: String = name
        .chars()
        .map(|c| {
            if c == '.' || c == '-' {
                '_'
            } else {
                c.to_ascii_uppercase()
            }
        })
        .collect();
    format!("KUBE_E2E_{upper}")
}

/// Parsed parameter values.
#[derive(Clone, Debug, Default)]
pub struct Params {
    values: BTreeMap<String, ParamValue>,
}

impl Params {
    /// Values for the given name/value pairs (mostly for tests and tools).
    pub fn from_values(values: impl IntoIterator<Item = (String, ParamValue)>) -> Self {
        Params {
            values: values.into_iter().collect(),
        }
    }

    /// The value of `name`, if it has one.
    pub fn get(&self, name: &str) -> Option<&ParamValue> {
        self.values.get(name)
    }

    /// A string (or list, joined by `,`) parameter.
    pub fn string(&self, name: &str) -> Option<String> {
        match self.get(name)? {
            ParamValue::String(s) => Some(s.clone()),
            ParamValue::List(l) => Some(l.join(",")),
            _ => None,
        }
    }

    /// A bool parameter.
    pub fn bool(&self, name: &str) -> Option<bool> {
        match self.get(name)? {
            ParamValue::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// An integer parameter.
    pub fn int(&self, name: &str) -> Option<i64> {
        match self.get(name)? {
            ParamValue::Int(i) => Some(*i),
            _ => None,
        }
    }

    /// A duration parameter.
    pub fn duration(&self, name: &str) -> Option<Duration> {
        match self.get(name)? {
            ParamValue::Duration(d) => Some(*d),
            _ => None,
        }
    }

    /// A list parameter.
    pub fn list(&self, name: &str) -> Vec<String> {
        match self.get(name) {
            Some(ParamValue::List(l)) => l.clone(),
            Some(ParamValue::String(s)) => vec![s.clone()],
            _ => Vec::new(),
        }
    }
}

/// `text` in backquotes for a message, cut to 200 characters (a pasted blob must not flood the
/// terminal).
pub fn quote(text: &str) -> String {
    let count = text.chars().count();
    if count <= QUOTE_LIMIT {
        format!("`{text}`")
    } else {
        let head: String = text.chars().take(QUOTE_LIMIT).collect();
        format!("`{head}…` ({count} characters)")
    }
}

/// How many characters of a value a message shows.
pub const QUOTE_LIMIT: usize = 200;

/// `text` cut to [`QUOTE_LIMIT`] characters with its length said, or `text` itself when it is
/// short enough; for messages that quote values their own way (clap's).
pub fn shorten(text: &str) -> std::borrow::Cow<'_, str> {
    let count = text.chars().count();
    if count <= QUOTE_LIMIT {
        return text.into();
    }
    let head: String = text.chars().take(QUOTE_LIMIT).collect();
    format!("{head}…({count} characters)").into()
}

/// `text` with each space-separated word longer than [`QUOTE_LIMIT`] characters cut by
/// [`shorten`]: for a parser's message that repeats a pasted value whole.
pub fn shorten_words(text: &str) -> String {
    text.split(' ').map(shorten).collect::<Vec<_>>().join(" ")
}

/// Checks that `path` is a regular file (after symlinks): a FIFO would block a reader forever
/// and a device could be endless.
///
/// # Errors
///
/// The I/O error, or [`std::io::ErrorKind::InvalidInput`] saying what the path is instead.
pub fn ensure_regular_file(path: &std::path::Path) -> std::io::Result<()> {
    regular_file_len(path).map(drop)
}

/// The length of `path` if it is a regular file, else the error [`ensure_regular_file`] names.
fn regular_file_len(path: &std::path::Path) -> std::io::Result<u64> {
    use std::os::unix::fs::FileTypeExt as _;
    let meta = std::fs::metadata(path)?;
    let ft = meta.file_type();
    if ft.is_file() {
        return Ok(meta.len());
    }
    let kind = if ft.is_dir() {
        "a directory"
    } else if ft.is_fifo() {
        "a FIFO"
    } else if ft.is_socket() {
        "a socket"
    } else if ft.is_block_device() || ft.is_char_device() {
        "a device"
    } else {
        "something other than a file"
    };
    Err(std::io::Error::new(
        std::io::ErrorKind::InvalidInput,
        format!("not a regular file: it is {kind}"),
    ))
}

/// The largest file [`read_regular_file`] reads. Settings files (config, driver files) are a
/// few kilobytes; a blob of many megabytes would be parsed for seconds only to be refused.
pub const MAX_SETTINGS_FILE: u64 = 4 << 20;

/// Reads `path` as UTF-8 text only if it is a regular file ([`ensure_regular_file`]) of at most
/// [`MAX_SETTINGS_FILE`] bytes.
///
/// # Errors
///
/// As [`ensure_regular_file`], [`std::io::ErrorKind::FileTooLarge`] for a larger file, or the
/// read failing.
pub fn read_regular_file(path: &std::path::Path) -> std::io::Result<String> {
    let len = regular_file_len(path)?;
    if len > MAX_SETTINGS_FILE {
        return Err(std::io::Error::new(
            std::io::ErrorKind::FileTooLarge,
            format!("too large: {len} bytes, more than the 4 MiB a settings file may have"),
        ));
    }
    std::fs::read_to_string(path)
}

/// Parses `90s`, `5m`, `1h30m`, `250ms`, `1.5s`, or a bare number of seconds.
///
/// # Errors
///
/// Says what a duration looks like when the text is not one.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let bad = || {
        format!(
            "expected a duration such as `30s`, `5m` or `1h30m`, found {}",
            quote(text)
        )
    };
    let t = text.trim();
    if t.is_empty() {
        return Err(bad());
    }
    if let Ok(secs) = t.parse::<f64>() {
        return Duration::try_from_secs_f64(secs).map_err(|_| bad());
    }
    let mut total = 0f64;
    let mut rest = t;
    while !rest.is_empty() {
        let num_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(bad)?;
        let (num, tail) = rest.split_at(num_end);
        let n: f64 = num.parse().map_err(|_| bad())?;
        let unit_end = tail
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(tail.len());
        let (unit, tail) = tail.split_at(unit_end);
        total += n * match unit {
            "ms" => 0.001,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return Err(bad()),
        };
        rest = tail;
    }
    Duration::try_from_secs_f64(total).map_err(|_| bad())
}

/// Levenshtein distance, for "did you mean" suggestions.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur.push(sub.min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

/// The known name closest to `name`, if it is close enough to be a likely typo.
pub fn suggest<'a>(name: &str, known: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let count = name.chars().count();
    let limit = (count / 3).max(2);
    let name = name.to_lowercase();
    known
        .into_iter()
        // The length difference is a lower bound of the distance: a pasted blob is compared
        // with nothing.
        .filter(|k| k.chars().count().abs_diff(count) <= limit)
        .map(|k| (distance(&name, &k.to_lowercase()), k))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

#[cfg(test)]
mod tests {

    #[test]
    fn only_regular_files_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        assert!(
            std::process::Command::new("mkfifo")
                .arg(&fifo)
                .status()
                .unwrap()
                .success()
        );
        let e = read_regular_file(&fifo).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput);
        assert!(e.to_string().contains("a FIFO"), "{e}");
        assert!(
            read_regular_file(dir.path())
                .unwrap_err()
                .to_string()
                .contains("a directory")
        );
        let file = dir.path().join("f");
        std::fs::write(&file, "x: 1").unwrap();
        assert_eq!(read_regular_file(&file).unwrap(), "x: 1");
        let big = dir.path().join("big");
        std::fs::File::create(&big)
            .unwrap()
            .set_len(MAX_SETTINGS_FILE + 1)
            .unwrap();
        let e = read_regular_file(&big).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::FileTooLarge);
        assert!(e.to_string().contains("4194305 bytes"), "{e}");
    }

    #[test]
    fn long_words_of_a_message_are_cut() {
        let text = format!("line 1: non-finite float `{}` here", "9".repeat(3000));
        let cut = shorten_words(&text);
        assert!(cut.starts_with("line 1: non-finite float `999"), "{cut}");
        assert!(cut.ends_with("…(3002 characters) here"), "{cut}");
        assert_eq!(shorten_words("short words stay"), "short words stay");
    }

    #[test]
    fn long_values_are_cut_when_quoted() {
        assert_eq!(quote("abc"), "`abc`");
        let q = quote(&"x".repeat(50_000));
        assert!(q.len() < 260 && q.ends_with("(50000 characters)"), "{q}");
    }

    #[test]
    fn defaults_are_added_only_when_neither_flag_nor_environment_sets_them() {
        let args = |v: &[&str]| v.iter().map(std::ffi::OsString::from).collect::<Vec<_>>();
        let added = with_defaults(args(&["bin"]), &[("test.param-default-a", "x")]);
        assert_eq!(added, args(&["bin", "--test.param-default-a=x"]));
        for given in ["--test.param-default-a=y", "--test.param-default-a"] {
            let kept = with_defaults(args(&["bin", given]), &[("test.param-default-a", "x")]);
            assert_eq!(kept, args(&["bin", given]));
        }
    }

    use super::*;

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("2"), Ok(Duration::from_secs(2)));
        assert!(
            parse_duration("5 minutes")
                .unwrap_err()
                .contains("expected a duration")
        );
        assert!(parse_duration("5d").is_err());
        assert!(parse_duration("").is_err());
    }

    #[test]
    fn kinds_check_values() {
        assert_eq!(ParamKind::Int.parse("42"), Ok(ParamValue::Int(42)));
        assert!(
            ParamKind::Int
                .parse("4x")
                .unwrap_err()
                .contains("expected an integer")
        );
        assert!(ParamKind::Bool.parse("yes").is_err());
        assert_eq!(
            ParamKind::Duration.parse("5m"),
            Ok(ParamValue::Duration(Duration::from_secs(300)))
        );
    }

    #[test]
    fn suggestions_find_typos() {
        let known = [
            "storage.testdriver",
            "framework.delete-namespace",
            "runner.focus",
        ];
        assert_eq!(
            suggest("storge.testdriver", known),
            Some("storage.testdriver")
        );
        assert_eq!(suggest("runner.focs", known), Some("runner.focus"));
        assert_eq!(suggest("something.else", known), None);
        assert_eq!(
            env_var_for("framework.delete-namespace"),
            "KUBE_E2E_FRAMEWORK_DELETE_NAMESPACE"
        );
    }
}
