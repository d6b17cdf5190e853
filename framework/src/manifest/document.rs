//! Documents: multi-document YAML split and parsed, each with its origin (file, document,
//! line), and the errors of the whole manifest pipeline, which name that origin.

use crate::expect::eventually::WaitError;
use crate::manifest::testfiles::TestFileError;
use kube::api::DynamicObject;
use std::fmt;

/// Where a document came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Origin {
    /// The file (as asked for).
    pub file: String,
    /// 1-based document index in the file.
    pub document: usize,
    /// 1-based line where the document starts.
    pub line: usize,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: document {} (line {})",
            self.file, self.document, self.line
        )
    }
}

/// Errors of loading and creating manifests.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    /// The file was not found or not readable.
    #[error(transparent)]
    File(#[from] TestFileError),
    /// A document is not valid YAML.
    #[error("{file}: document {document}, line {line}, column {column}: {message}")]
    Parse {
        /// The file.
        file: String,
        /// 1-based document index.
        document: usize,
        /// 1-based line in the file.
        line: usize,
        /// 1-based column.
        column: usize,
        /// The parser's message.
        message: String,
    },
    /// A document lacks `apiVersion` or `kind`, or is not a mapping.
    #[error("{origin}: {message}")]
    Invalid {
        /// Where.
        origin: Origin,
        /// What is wrong.
        message: String,
    },
    /// Discovery does not know the kind.
    #[error("{origin}: unknown kind `{kind}` in `{api_version}`")]
    UnknownKind {
        /// Where.
        origin: Origin,
        /// The kind.
        kind: String,
        /// The apiVersion.
        api_version: String,
    },
    /// A caller patch failed.
    #[error("{origin}: patch failed: {message}")]
    Patch {
        /// Where.
        origin: Origin,
        /// The patch's error.
        message: String,
    },
    /// The API server refused to create an object.
    #[error("{origin}: failed to create {kind} `{name}`")]
    Create {
        /// Where.
        origin: Origin,
        /// Kind.
        kind: String,
        /// Name after patching.
        name: String,
        /// The API error.
        #[source]
        source: Box<kube::Error>,
    },
    /// The API server refused a server-side apply of an object.
    #[error("{origin}: failed to apply {kind} `{name}`")]
    Apply {
        /// Where.
        origin: Origin,
        /// Kind.
        kind: String,
        /// Name after patching.
        name: String,
        /// The API error.
        #[source]
        source: Box<kube::Error>,
    },
    /// Waiting (CRD established, rollout) failed.
    #[error(transparent)]
    Wait(#[from] Box<WaitError>),
    /// The spec that created the framework is no longer running.
    #[error("the spec is no longer running")]
    NoSpec,
}

impl From<WaitError> for ManifestError {
    fn from(e: WaitError) -> Self {
        ManifestError::Wait(Box::new(e))
    }
}

/// One parsed document.
#[derive(Clone, Debug)]
pub struct Document {
    /// Where it came from.
    pub origin: Origin,
    /// The object.
    pub object: DynamicObject,
}

/// Splits multi-document YAML and parses each document; empty documents (only comments or
/// whitespace, or `null`) are skipped. Line numbers are the file's.
///
/// # Errors
///
/// [`ManifestError::Parse`] with file, document, line and column; [`ManifestError::Invalid`] for
/// a document without `apiVersion`/`kind`.
pub fn parse_documents(file: &str, text: &str) -> Result<Vec<Document>, ManifestError> {
    let mut docs = Vec::new();
    let mut chunks: Vec<(usize, String)> = vec![(1, String::new())];
    for (i, line) in text.lines().enumerate() {
        let is_separator = line == "---" || line.starts_with("--- ") || line.starts_with("---\t");
        if is_separator {
            chunks.push((i + 2, String::new()));
            // Content after `--- ` on the same line belongs to the new document.
            let rest = line[3..].trim();
            if !rest.is_empty() && !rest.starts_with('#') {
                let last = chunks.last_mut().expect("just pushed");
                last.0 = i + 1;
                last.1.push_str(rest);
                last.1.push('\n');
            }
        } else {
            let last = chunks.last_mut().expect("never empty");
            last.1.push_str(line);
            last.1.push('\n');
        }
    }
    for (index, (start, chunk)) in chunks.into_iter().enumerate() {
        let document = index + 1;
        let meaningful = chunk.lines().any(|l| {
            let t = l.trim();
            !t.is_empty() && !t.starts_with('#') && t != "..."
        });
        if !meaningful {
            continue;
        }
        let value: serde_json::Value =
            serde_saphyr::from_str(&chunk).map_err(|e| parse_error(file, document, start, &e))?;
        if value.is_null() {
            continue;
        }
        let origin = Origin {
            file: file.to_string(),
            document,
            line: start,
        };
        let invalid = |message: &str| ManifestError::Invalid {
            origin: origin.clone(),
            message: message.to_string(),
        };
        if !value.is_object() {
            return Err(invalid("the document is not a mapping"));
        }
        for key in ["apiVersion", "kind"] {
            if !value.get(key).is_some_and(|v| v.is_string()) {
                return Err(invalid(&format!("the document has no `{key}`")));
            }
        }
        let object: DynamicObject = serde_json::from_value(value)
            .map_err(|e| invalid(&format!("not a Kubernetes object: {e}")))?;
        docs.push(Document { origin, object });
    }
    Ok(docs)
}

fn parse_error(
    file: &str,
    document: usize,
    start: usize,
    e: &serde_saphyr::Error,
) -> ManifestError {
    let (line, column) = e
        .location()
        .map(|l| (l.line() as usize, l.column() as usize))
        .unwrap_or((1, 1));
    let message = e
        .to_string()
        .lines()
        .next()
        .unwrap_or("invalid YAML")
        .to_string();
    ManifestError::Parse {
        file: file.to_string(),
        document,
        line: start + line.saturating_sub(1),
        column,
        message,
    }
}
