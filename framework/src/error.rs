//! [`FrameworkError`]: what can go wrong setting up and tearing down a spec's framework, each
//! variant naming the thing (setting, namespace, provider, mapping file).

use crate::images::ImageError;
use crate::namespace::NamespaceError;
use crate::session::provider::ProviderError;

/// Errors of setting up and tearing down a [`Framework`](crate::Framework).
#[derive(Debug, thiserror::Error)]
pub enum FrameworkError {
    /// Connecting to the cluster failed.
    #[error(transparent)]
    Provider(#[from] Box<ProviderError>),
    /// A namespace operation failed.
    #[error(transparent)]
    Namespace(#[from] Box<NamespaceError>),
    /// The image mapping file is wrong.
    #[error(transparent)]
    Images(#[from] ImageError),
    /// A `framework.*` setting has a bad value.
    #[error("bad value {} for `{key}`: expected {expected}", crate::config::param::quote(.value))]
    Setting {
        /// The parameter.
        key: &'static str,
        /// The value given.
        value: String,
        /// What is allowed.
        expected: &'static str,
    },
    /// `cx.framework()` in a spec whose containers did not call `s.framework(...)`.
    #[error(
        "no Framework for this spec: call `s.framework(\"base-name\")` in an enclosing container"
    )]
    NotAttached,
    /// Deleting some namespaces at teardown failed.
    #[error("failed to delete namespaces: {0}")]
    Teardown(String),
}

/// An error with its sources, joined by `: `. A source whose text its error already ends
/// with (kube's `ServiceError: {0}` prints its source) is not repeated.
pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut src = e.source();
    while let Some(s) = src {
        let text = s.to_string();
        if !out.ends_with(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        src = s.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    enum Layer {
        #[error("ServiceError: {0}")]
        Service(#[source] Box<Layer>),
        #[error("client error (Connect)")]
        Client(#[source] std::io::Error),
    }

    #[test]
    fn a_source_already_printed_by_its_error_is_not_repeated() {
        let refused = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        let e = Layer::Service(Box::new(Layer::Client(refused)));
        assert_eq!(
            error_chain(&e),
            "ServiceError: client error (Connect): refused"
        );
    }
}
