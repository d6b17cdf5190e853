//! Redaction of credential material from text that goes into reports: PEM blocks, JWTs (such
//! as service-account tokens), bearer tokens and `token=`/`password:`-style values, and every
//! value registered with [`register_secret`] (the framework registers the kubeconfig's token,
//! password and key data when it connects), wherever it appears. Spec logs, failure messages,
//! `e2e.log` lines, the failure dump (`kube-e2e`'s `namespace::dump`) and `report.html` pass
//! through [`redact`], so `report.json`, JUnit and the console get the redacted text too.

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

/// Literal secrets of this process (see [`register_secret`]).
static KNOWN: std::sync::RwLock<Vec<String>> = std::sync::RwLock::new(Vec::new());

/// Shortest value [`register_secret`] takes: shorter ones would redact ordinary words.
pub const MIN_SECRET_LEN: usize = 8;

/// Registers a secret value (a token, a password, key data) that [`redact`] replaces wherever
/// it appears, even where no pattern would recognize it. Values shorter than
/// [`MIN_SECRET_LEN`] characters are ignored.
pub fn register_secret(value: &str) {
    let value = value.trim();
    if value.chars().count() < MIN_SECRET_LEN {
        return;
    }
    let mut known = KNOWN.write().unwrap_or_else(|p| p.into_inner());
    if !known.iter().any(|k| k == value) {
        known.push(value.to_string());
        // Longest first, so a secret containing another is replaced whole.
        known.sort_by_key(|k| std::cmp::Reverse(k.len()));
    }
}

/// Removes credential material from `text`: registered secrets, PEM blocks, JWTs
/// (service-account tokens), bearer tokens and `token=`/`password:`-style values.
pub fn redact(text: &str) -> String {
    let mut out = None::<String>;
    for secret in KNOWN.read().unwrap_or_else(|p| p.into_inner()).iter() {
        let current = out.as_deref().unwrap_or(text);
        if current.contains(secret.as_str()) {
            out = Some(current.replace(secret.as_str(), "[REDACTED]"));
        }
    }
    let text = out.as_deref().unwrap_or(text);
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

    #[test]
    fn registered_secrets_are_redacted_wherever_they_appear() {
        register_secret("short");
        register_secret("  plain-value-1234  ");
        register_secret("plain-value-1234-and-more");
        let r = redact("error: got plain-value-1234 and plain-value-1234-and-more; short stays");
        assert_eq!(r, "error: got [REDACTED] and [REDACTED]; short stays");
    }
}
