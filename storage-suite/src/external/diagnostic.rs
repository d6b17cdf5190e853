//! What reading a driver file has to say: errors and warnings, each with one location, and the
//! policy for keys upstream would silently ignore.

use super::tree::Pos;
use std::fmt;

/// How bad a [`Diagnostic`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// The file is used; the author should know.
    Warning,
    /// The file is refused.
    Error,
}

/// One message about a driver file, at one place in it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// Where (0:0 when the whole file is meant).
    pub pos: Pos,
    /// What, with a suggestion where there is one.
    pub message: String,
}

impl Diagnostic {
    /// Renders the diagnostic for `file` as `FILE:LINE:COLUMN: warning: MESSAGE`.
    pub fn render(&self, file: &str) -> String {
        let kind = match self.severity {
            Severity::Warning => "warning",
            Severity::Error => "error",
        };
        if self.pos.line == 0 {
            format!("{file}: {kind}: {}", self.message)
        } else {
            format!("{file}:{}: {kind}: {}", self.pos, self.message)
        }
    }
}

/// What to do with keys the file has and upstream's driver definition does not
/// (`--storage.testdriver-unknown-keys`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum UnknownKeys {
    /// Refuse the file (the default): a key upstream ignores never takes effect, which is
    /// rarely what its author meant.
    #[default]
    Error,
    /// Warn and ignore the key, as upstream does: migrate first, fix the file after.
    Warn,
}

impl UnknownKeys {
    /// Parses `error` or `warn`.
    ///
    /// # Errors
    ///
    /// Any other value, named.
    pub fn parse(text: &str) -> Result<Self, String> {
        match text.trim() {
            "error" => Ok(UnknownKeys::Error),
            "warn" | "warning" => Ok(UnknownKeys::Warn),
            other => Err(format!(
                "--storage.testdriver-unknown-keys: expected `error` or `warn`, found `{other}`"
            )),
        }
    }

    /// The severity an ignorable problem gets under this policy.
    pub fn severity(self) -> Severity {
        match self {
            UnknownKeys::Error => Severity::Error,
            UnknownKeys::Warn => Severity::Warning,
        }
    }
}

impl fmt::Display for UnknownKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            UnknownKeys::Error => "error",
            UnknownKeys::Warn => "warn",
        })
    }
}

/// Errors reading a driver file.
#[derive(Debug, thiserror::Error)]
pub enum ExternalDriverError {
    /// The file cannot be read (or is not a regular file: a FIFO or a device would block or
    /// never end).
    #[error("failed to read driver file {}: {source}", kube_e2e::config::param::quote(.file))]
    Read {
        /// The file.
        file: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The file does not describe a driver; every error found, one per line.
    #[error("{}", render_all(.file, .diagnostics))]
    Invalid {
        /// The file.
        file: String,
        /// The errors (and the warnings found with them), in file order.
        diagnostics: Vec<Diagnostic>,
    },
    /// The same driver is defined twice.
    #[error(
        "driver `{name}` is defined twice: by {first} and by {second}; give each driver file once"
    )]
    Duplicate {
        /// `DriverInfo.Name`.
        name: String,
        /// The first file.
        first: String,
        /// The second file.
        second: String,
    },
}

fn render_all(file: &str, diagnostics: &[Diagnostic]) -> String {
    // Errors first: they are why the file is refused.
    let mut sorted: Vec<&Diagnostic> = diagnostics.iter().collect();
    sorted.sort_by_key(|d| std::cmp::Reverse(d.severity));
    sorted
        .into_iter()
        .map(|d| d.render(file))
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_diagnostic_names_its_place_once() {
        let d = Diagnostic {
            severity: Severity::Error,
            pos: Pos { line: 9, column: 3 },
            message: "unknown key `shared`; did you mean `Shared`?".into(),
        };
        assert_eq!(
            d.render("driver.yaml"),
            "driver.yaml:9:3: error: unknown key `shared`; did you mean `Shared`?"
        );
    }

    #[test]
    fn the_policy_parses_and_names_bad_values() {
        assert_eq!(UnknownKeys::parse("warn"), Ok(UnknownKeys::Warn));
        assert_eq!(UnknownKeys::parse("error"), Ok(UnknownKeys::Error));
        let e = UnknownKeys::parse("loud").unwrap_err();
        assert!(e.contains("`loud`") && e.contains("--storage.testdriver-unknown-keys"));
    }
}
