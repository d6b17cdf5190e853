//! Tags: the typed markers (`[Conformance]`, `[Serial]`, `[Feature:X]`, `[sig-x]`, free labels)
//! that appear both in a spec's full name and in its label set.
//!
//! Kubernetes users select specs in two ways: by regex on the full name (Sonobuoy, old CI jobs)
//! and by label expressions (Ginkgo v2). A tag therefore renders into both, so the two always
//! agree. Tags are added only through [`Tag`]; a hand-written `[Conformance]` in a name is a
//! definition error, because it would show in the name but not in the labels.

use std::fmt;

/// Characters a label may not contain: they are the label-filter grammar's operators, or the
/// brackets that delimit tags in names.
pub const RESERVED_LABEL_CHARS: &[char] = &['&', '|', '!', ',', '(', ')', '/', '{', '}', '[', ']'];

/// A typed tag attached to a container or a spec.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Tag {
    /// `[Conformance]`: part of the Kubernetes conformance suite.
    Conformance,
    /// `[NodeConformance]`: part of the node conformance suite.
    NodeConformance,
    /// `[Serial]`: must run alone, after all parallel specs.
    Serial,
    /// `[Slow]`: takes long (upstream: more than five minutes).
    Slow,
    /// `[Disruptive]`: disturbs the cluster for other specs; implies [`Tag::Serial`] scheduling.
    Disruptive,
    /// `[Flaky]`: known to fail intermittently; excluded by default.
    Flaky,
    /// `[LinuxOnly]`: needs Linux nodes.
    LinuxOnly,
    /// `[Feature:X]`: needs an optional feature; excluded by default. The feature must be
    /// declared with [`declare_feature!`](crate::declare_feature).
    Feature(String),
    /// `[sig-x]`: the owning special interest group; rendered as a prefix of the node text.
    Sig(String),
    /// Any other label, rendered as `[label]`. `key:value` labels feed the set operators of the
    /// label filter (`key: containsAny {a, b}`).
    Label(String),
}

/// `[Feature:name]`.
pub fn feature(name: impl Into<String>) -> Tag {
    Tag::Feature(name.into())
}

/// `[sig-name]`, e.g. `sig("storage")` gives `[sig-storage]`.
pub fn sig(name: impl Into<String>) -> Tag {
    Tag::Sig(name.into())
}

/// A free label, rendered as `[label]` in the name.
pub fn label(name: impl Into<String>) -> Tag {
    Tag::Label(name.into())
}

impl Tag {
    /// The label this tag contributes to the spec's label set.
    pub fn label(&self) -> String {
        match self {
            Tag::Conformance => "Conformance".into(),
            Tag::NodeConformance => "NodeConformance".into(),
            Tag::Serial => "Serial".into(),
            Tag::Slow => "Slow".into(),
            Tag::Disruptive => "Disruptive".into(),
            Tag::Flaky => "Flaky".into(),
            Tag::LinuxOnly => "LinuxOnly".into(),
            Tag::Feature(f) => format!("Feature:{f}"),
            Tag::Sig(s) => format!("sig-{s}"),
            Tag::Label(l) => l.clone(),
        }
    }

    /// Whether the tag renders before the node text (only `[sig-x]` does, as upstream's
    /// `SIGDescribe`).
    pub fn is_prefix(&self) -> bool {
        matches!(self, Tag::Sig(_))
    }

    /// Checks the tag's free text, returning what is wrong with it.
    pub(crate) fn validate(&self) -> Result<(), String> {
        let text = match self {
            Tag::Feature(t) | Tag::Sig(t) | Tag::Label(t) => t,
            _ => return Ok(()),
        };
        if text.trim().is_empty() {
            return Err("tag text is empty".into());
        }
        if text.trim() != text {
            return Err(format!("tag `{text}` has leading or trailing whitespace"));
        }
        if let Some(c) = text.chars().find(|c| RESERVED_LABEL_CHARS.contains(c)) {
            return Err(format!(
                "tag `{text}` contains the reserved character `{c}`"
            ));
        }
        if let Tag::Label(l) = self
            && reserved_tag_for(&format!("[{l}]")).is_some()
        {
            return Err(format!(
                "free label `{l}` spells a typed tag; use the typed helper instead"
            ));
        }
        Ok(())
    }
}

impl fmt::Display for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}]", self.label())
    }
}

/// If `text` contains a bracketed tag that only a typed helper may add, returns that tag text.
pub(crate) fn reserved_tag_for(text: &str) -> Option<String> {
    let mut rest = text;
    while let Some(start) = rest.find('[') {
        let after = &rest[start + 1..];
        let Some(end) = after.find(']') else { break };
        let inner = &after[..end];
        let reserved = matches!(
            inner,
            "Conformance"
                | "NodeConformance"
                | "Serial"
                | "Slow"
                | "Disruptive"
                | "Flaky"
                | "LinuxOnly"
        ) || inner.starts_with("Feature:")
            || inner.starts_with("sig-");
        if reserved {
            return Some(format!("[{inner}]"));
        }
        rest = &after[end + 1..];
    }
    None
}

/// Whether two labels (or label keys) are the same but for case. Ginkgo lower-cases both
/// sides, so `Übung` and `übung` are the same label, not only ASCII letters.
pub(crate) fn same_label(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
        || (!a.is_ascii() || !b.is_ascii()) && a.to_lowercase() == b.to_lowercase()
}

/// The sorted, de-duplicated label set of a spec.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Labels(Vec<String>);

impl Labels {
    /// Builds a label set from any strings; duplicates collapse.
    pub fn new(labels: impl IntoIterator<Item = String>) -> Self {
        let mut v: Vec<String> = labels.into_iter().collect();
        v.sort();
        v.dedup();
        Labels(v)
    }

    /// Whether the set holds `label`, compared case-insensitively as Ginkgo does.
    pub fn contains(&self, label: &str) -> bool {
        self.0.iter().any(|l| same_label(l, label))
    }

    /// Whether any label is a `Feature:X` label.
    pub fn has_feature(&self) -> bool {
        self.0.iter().any(|l| l.starts_with("Feature:"))
    }

    /// The labels, sorted.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }

    /// Number of labels.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are no labels.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_render_into_name_and_label() {
        assert_eq!(Tag::Conformance.to_string(), "[Conformance]");
        assert_eq!(feature("SELinux").to_string(), "[Feature:SELinux]");
        assert_eq!(feature("SELinux").label(), "Feature:SELinux");
        assert_eq!(sig("storage").to_string(), "[sig-storage]");
        assert!(sig("storage").is_prefix());
        assert_eq!(label("Slow-ish").to_string(), "[Slow-ish]");
    }

    #[test]
    fn reserved_tags_in_text_are_found() {
        assert_eq!(
            reserved_tag_for("works [Conformance]"),
            Some("[Conformance]".into())
        );
        assert_eq!(
            reserved_tag_for("x [Feature:Foo] y"),
            Some("[Feature:Foo]".into())
        );
        assert_eq!(
            reserved_tag_for("[sig-node] pods"),
            Some("[sig-node]".into())
        );
        assert_eq!(reserved_tag_for("array[0] is fine"), None);
        assert_eq!(reserved_tag_for("unclosed [Serial"), None);
    }

    #[test]
    fn bad_tag_text_is_rejected() {
        assert!(feature("").validate().is_err());
        assert!(label("a&b").validate().is_err());
        assert!(label(" x").validate().is_err());
        assert!(label("Serial").validate().is_err());
        assert!(label("env:prod").validate().is_ok());
    }

    #[test]
    fn labels_compare_case_insensitively() {
        let l = Labels::new(["Serial".to_string(), "Feature:X".to_string()]);
        assert!(l.contains("serial"));
        assert!(l.has_feature());
        assert_eq!(l.len(), 2);
    }
}
