//! Redaction of credential material from text that goes into reports: PEM blocks, JWTs (such
//! as service-account tokens), bearer tokens and `token=`/`password:`-style values. The failure
//! dump (`kube-e2e`'s `namespace::dump`) and `report.html` pass everything they write through
//! [`redact`].

use std::sync::LazyLock;

static SECRETS: LazyLock<Vec<(regex::Regex, &'static str)>> = LazyLock::new(|| {
    [
        (
            r"-----BEGIN [A-Z ]*(PRIVATE KEY|CERTIFICATE)-----[\s\S]*?-----END [A-Z ]*(PRIVATE KEY|CERTIFICATE)-----",
            "[REDACTED PEM BLOCK]",
        ),
        (
            r"eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}",
            "[REDACTED JWT]",
        ),
        (r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]{8,}", "${1}[REDACTED]"),
        (
            r#"(?i)((?:token|password|secret)["']?\s*[:=]\s*["']?)[^\s"',}]{6,}"#,
            "${1}[REDACTED]",
        ),
    ]
    .into_iter()
    .map(|(re, with)| (regex::Regex::new(re).expect("valid pattern"), with))
    .collect()
});

/// A cheap first look: text without any of these (case-insensitively) holds nothing to redact.
static HINTS: LazyLock<regex::Regex> = LazyLock::new(|| {
    regex::Regex::new(r"(?i)-----BEGIN|eyJ|bearer|token|password|secret").expect("valid pattern")
});

/// Removes credential material from `text`: PEM blocks, JWTs (service-account tokens), bearer
/// tokens and `token=`/`password:`-style values.
pub fn redact(text: &str) -> String {
    if !HINTS.is_match(text) {
        return text.to_string();
    }
    let mut out = text.to_string();
    for (re, with) in SECRETS.iter() {
        out = re.replace_all(&out, *with).into_owned();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_redacted() {
        let text = "Authorization: Bearer abcdefghijklmnop\n\
            token: eyJhbGciOiJSUzI1NiIs.eyJpc3MiOiJrdWJlcm5ldGVz.c2lnbmF0dXJlc2ln\n\
            -----BEGIN EC PRIVATE KEY-----\nMHcCAQEEI\n-----END EC PRIVATE KEY-----\n\
            password=hunter2hunter2 and a normal line";
        let r = redact(text);
        assert!(!r.contains("abcdefghijklmnop"), "{r}");
        assert!(!r.contains("eyJhbGciOiJSUzI1NiIs"), "{r}");
        assert!(!r.contains("MHcCAQEEI"), "{r}");
        assert!(!r.contains("hunter2"), "{r}");
        assert!(r.contains("a normal line"));
        assert_eq!(redact("nothing to hide"), "nothing to hide");
    }
}
