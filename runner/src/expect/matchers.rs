//! `expect(actual)`: assertions with matchers whose failures show actual against expected, and a
//! line diff (via `similar`) for multi-line values and Kubernetes objects (as YAML).
//!
//! ```
//! use kube_e2e_runner::expect::*;
//! # fn main() -> anyhow::Result<()> {
//! expect(vec![1, 2, 3]).to(have_len(3))?;
//! expect("pod-1 Running").to(contain_substring("Running"))?;
//! expect(2 + 2).to_equal(4)?;
//! expect(Some(1)).not_to(equal(None))?;
//! # Ok(()) }
//! ```
//!
//! An expectation returns `Result<(), ExpectError>`, so spec bodies use `?` and a failure ends
//! the spec with the message.

use serde::Serialize;
use std::fmt::Debug;

/// A failed expectation: the whole message, ready to print.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ExpectError(pub String);

/// Decides whether a value matches, and words the failure.
pub trait Matcher<T: ?Sized> {
    /// Whether `actual` matches.
    fn matches(&self, actual: &T) -> bool;
    /// The failure text for `actual`; `negated` for `not_to`.
    fn failure(&self, actual: &T, negated: bool) -> String;
}

/// The value under test; finish with [`Expectation::to`], [`Expectation::not_to`] or
/// [`Expectation::to_equal`].
#[derive(Debug)]
pub struct Expectation<T> {
    actual: T,
    what: Option<String>,
}

/// Starts an expectation about `actual`.
pub fn expect<T>(actual: T) -> Expectation<T> {
    Expectation { actual, what: None }
}

impl<T> Expectation<T> {
    /// Names the value in the failure text: `expect(n).described_as("ready replicas")`.
    pub fn described_as(mut self, what: impl Into<String>) -> Self {
        self.what = Some(what.into());
        self
    }

    fn finish(&self, ok: bool, text: impl FnOnce() -> String) -> Result<(), ExpectError> {
        if ok {
            return Ok(());
        }
        let text = text();
        Err(ExpectError(match &self.what {
            Some(w) => format!("{w}: {text}"),
            None => text,
        }))
    }

    /// Succeeds when `matcher` matches.
    ///
    /// # Errors
    ///
    /// [`ExpectError`] with the matcher's failure text.
    pub fn to<M: Matcher<T>>(&self, matcher: M) -> Result<(), ExpectError> {
        self.finish(matcher.matches(&self.actual), || {
            matcher.failure(&self.actual, false)
        })
    }

    /// Succeeds when `matcher` does not match.
    ///
    /// # Errors
    ///
    /// [`ExpectError`] with the matcher's negated failure text.
    pub fn not_to<M: Matcher<T>>(&self, matcher: M) -> Result<(), ExpectError> {
        self.finish(!matcher.matches(&self.actual), || {
            matcher.failure(&self.actual, true)
        })
    }

    /// Shorthand for `to(equal(expected))`. `expected` may be of any type the value compares
    /// with, so a `String` can be checked against a literal: `expect(name).to_equal("web")`.
    ///
    /// # Errors
    ///
    /// [`ExpectError`] showing both values (and a diff when they span several lines).
    pub fn to_equal<U>(&self, expected: U) -> Result<(), ExpectError>
    where
        T: PartialEq<U> + Debug,
        U: Debug,
    {
        self.to(equal(expected))
    }
}

/// A unified line diff of two texts (`-` expected, `+` actual).
pub fn diff(expected: &str, actual: &str) -> String {
    similar::TextDiff::from_lines(expected, actual)
        .unified_diff()
        .context_radius(3)
        .header("expected", "actual")
        .to_string()
}

fn show_pair(expected: &str, actual: &str, negated: bool) -> String {
    if negated {
        return format!("expected a value other than\n    {expected}");
    }
    if expected.contains('\n') || actual.contains('\n') {
        format!(
            "expected\n{}\nto equal\n{}\ndiff:\n{}",
            indent(actual),
            indent(expected),
            diff(expected, actual)
        )
    } else {
        format!("expected\n    {actual}\nto equal\n    {expected}")
    }
}

fn indent(text: &str) -> String {
    text.lines()
        .map(|l| format!("    {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Matches values equal to `expected` (`PartialEq`, also across types such as `String` and
/// `&str`); failures show both with `{:#?}`.
pub fn equal<U: Debug>(expected: U) -> Equal<U> {
    Equal(expected)
}

/// See [`equal`].
#[derive(Debug)]
pub struct Equal<U>(U);

impl<T: PartialEq<U> + Debug, U: Debug> Matcher<T> for Equal<U> {
    fn matches(&self, actual: &T) -> bool {
        *actual == self.0
    }
    fn failure(&self, actual: &T, negated: bool) -> String {
        show_pair(&format!("{:#?}", self.0), &format!("{actual:#?}"), negated)
    }
}

/// Matches objects whose serialized form equals `expected`'s; failures show a YAML diff. Use it
/// for Kubernetes objects: `expect(&cm).to(equal_object(&wanted))`.
pub fn equal_object<T: Serialize>(expected: T) -> EqualObject {
    EqualObject(serde_json::to_value(expected).unwrap_or(serde_json::Value::Null))
}

/// See [`equal_object`].
#[derive(Debug)]
pub struct EqualObject(serde_json::Value);

/// An object as YAML (JSON if it cannot be written as YAML).
pub fn to_yaml<T: Serialize>(value: &T) -> String {
    serde_saphyr::to_string(value)
        .unwrap_or_else(|_| serde_json::to_string_pretty(value).unwrap_or_default())
}

impl<T: Serialize> Matcher<T> for EqualObject {
    fn matches(&self, actual: &T) -> bool {
        serde_json::to_value(actual).is_ok_and(|v| v == self.0)
    }
    fn failure(&self, actual: &T, negated: bool) -> String {
        let mut e = to_yaml(&self.0);
        let mut a = to_yaml(actual);
        // A trailing newline on both keeps the diff free of "no newline" markers.
        for t in [&mut e, &mut a] {
            if !t.ends_with('\n') {
                t.push('\n');
            }
        }
        show_pair(&e, &a, negated)
    }
}

/// Matches by a predicate, with a description of what is expected:
/// `satisfy("an even number", |n: &i32| n % 2 == 0)`.
pub fn satisfy<T, F: Fn(&T) -> bool>(description: impl Into<String>, predicate: F) -> Satisfy<F> {
    Satisfy(description.into(), predicate)
}

/// See [`satisfy`].
#[derive(Debug)]
pub struct Satisfy<F>(String, F);

impl<T: Debug, F: Fn(&T) -> bool> Matcher<T> for Satisfy<F> {
    fn matches(&self, actual: &T) -> bool {
        (self.1)(actual)
    }
    fn failure(&self, actual: &T, negated: bool) -> String {
        let not = if negated { "not " } else { "" };
        format!("expected\n    {actual:?}\n{not}to be {}", self.0)
    }
}

/// Matches collections of length `n` (anything with `len`: `Vec`, slices, strings, maps).
pub fn have_len(n: usize) -> HaveLen {
    HaveLen(n)
}

/// See [`have_len`].
#[derive(Debug)]
pub struct HaveLen(usize);

/// Types with a length, for [`have_len`] and [`be_empty`].
pub trait Length {
    /// The length.
    fn length(&self) -> usize;
}

impl<T> Length for Vec<T> {
    fn length(&self) -> usize {
        self.len()
    }
}
impl<T> Length for &[T] {
    fn length(&self) -> usize {
        self.len()
    }
}
impl Length for String {
    fn length(&self) -> usize {
        self.len()
    }
}
impl Length for &str {
    fn length(&self) -> usize {
        self.len()
    }
}
impl<K, V> Length for std::collections::BTreeMap<K, V> {
    fn length(&self) -> usize {
        self.len()
    }
}

impl<T: Length + Debug> Matcher<T> for HaveLen {
    fn matches(&self, actual: &T) -> bool {
        actual.length() == self.0
    }
    fn failure(&self, actual: &T, negated: bool) -> String {
        let not = if negated { "not " } else { "" };
        format!(
            "expected\n    {actual:?}\n(length {}) {not}to have length {}",
            actual.length(),
            self.0
        )
    }
}

/// Matches empty collections.
pub fn be_empty() -> HaveLen {
    HaveLen(0)
}

/// Matches vectors containing `item`.
pub fn contain_element<T: PartialEq + Debug>(item: T) -> ContainElement<T> {
    ContainElement(item)
}

/// See [`contain_element`].
#[derive(Debug)]
pub struct ContainElement<T>(T);

impl<T: PartialEq + Debug> Matcher<Vec<T>> for ContainElement<T> {
    fn matches(&self, actual: &Vec<T>) -> bool {
        actual.contains(&self.0)
    }
    fn failure(&self, actual: &Vec<T>, negated: bool) -> String {
        let not = if negated { "not " } else { "" };
        format!(
            "expected\n    {actual:?}\n{not}to contain\n    {:?}",
            self.0
        )
    }
}

/// Matches strings containing `needle`.
pub fn contain_substring(needle: impl Into<String>) -> ContainSubstring {
    ContainSubstring(needle.into())
}

/// See [`contain_substring`].
#[derive(Debug)]
pub struct ContainSubstring(String);

impl<S: AsRef<str>> Matcher<S> for ContainSubstring {
    fn matches(&self, actual: &S) -> bool {
        actual.as_ref().contains(&self.0)
    }
    fn failure(&self, actual: &S, negated: bool) -> String {
        let not = if negated { "not " } else { "" };
        format!(
            "expected\n{}\n{not}to contain `{}`",
            indent(actual.as_ref()),
            self.0
        )
    }
}

/// Matches strings matching the regular expression `pattern` (an invalid pattern never matches
/// and says so).
pub fn match_regex(pattern: &str) -> MatchRegex {
    MatchRegex(
        regex::Regex::new(pattern).map_err(|e| e.to_string()),
        pattern.to_string(),
    )
}

/// See [`match_regex`].
#[derive(Debug)]
pub struct MatchRegex(Result<regex::Regex, String>, String);

impl<S: AsRef<str>> Matcher<S> for MatchRegex {
    fn matches(&self, actual: &S) -> bool {
        self.0.as_ref().is_ok_and(|re| re.is_match(actual.as_ref()))
    }
    fn failure(&self, actual: &S, negated: bool) -> String {
        if let Err(e) = &self.0 {
            return format!("invalid regular expression `{}`: {e}", self.1);
        }
        let not = if negated { "not " } else { "" };
        format!("expected `{}` {not}to match /{}/", actual.as_ref(), self.1)
    }
}

/// Matches `true`.
pub fn be_true() -> Equal<bool> {
    Equal(true)
}

/// Matches `Some(_)`.
pub fn be_some() -> BeSome {
    BeSome
}

/// See [`be_some`].
#[derive(Debug)]
pub struct BeSome;

impl<T: Debug> Matcher<Option<T>> for BeSome {
    fn matches(&self, actual: &Option<T>) -> bool {
        actual.is_some()
    }
    fn failure(&self, actual: &Option<T>, negated: bool) -> String {
        let want = if negated { "None" } else { "Some(_)" };
        format!("expected {want}, got {actual:?}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn scalar_failures_show_both_sides() {
        let e = expect(3).to_equal(4).unwrap_err().0;
        assert_eq!(e, "expected\n    3\nto equal\n    4");
        let e = expect(3)
            .described_as("ready replicas")
            .to_equal(4)
            .unwrap_err();
        assert!(e.0.starts_with("ready replicas: expected"));
        assert!(expect(3).not_to(equal(4)).is_ok());
        assert!(
            expect(3)
                .not_to(equal(3))
                .unwrap_err()
                .0
                .contains("other than")
        );
    }

    #[test]
    fn strings_compare_with_str_and_mismatches_show_a_diff() {
        let name = String::from("web");
        assert!(expect(&name).to_equal("web").is_ok());
        assert!(expect(name.clone()).to_equal("web").is_ok());
        assert!(expect("web").to_equal(name.clone()).is_ok());
        assert!(expect(vec![name.clone()]).to_equal(["web"]).is_ok());
        assert!(expect(name.clone()).to(equal("web")).is_ok());
        assert!(expect(name.clone()).not_to(equal("db")).is_ok());
        let e = expect(name).to_equal("db").unwrap_err().0;
        assert_eq!(e, "expected\n    \"web\"\nto equal\n    \"db\"");
        let e = expect(vec![String::from("a"), String::from("b")])
            .to_equal(["a", "c"])
            .unwrap_err()
            .0;
        assert!(
            e.contains("diff:\n") && e.contains("-    \"c\",") && e.contains("+    \"b\","),
            "{e}"
        );
    }

    #[test]
    fn objects_fail_with_a_yaml_diff() {
        let mut want = BTreeMap::new();
        want.insert("replicas", 3);
        want.insert("paused", 0);
        let mut got = want.clone();
        got.insert("replicas", 2);
        let e = expect(&got).to(equal_object(&want)).unwrap_err().0;
        assert!(
            e.contains("-replicas: 3") && e.contains("+replicas: 2"),
            "{e}"
        );
        assert!(expect(&want).to(equal_object(&want)).is_ok());
    }

    #[test]
    fn collection_and_string_matchers() {
        assert!(expect(vec![1, 2]).to(have_len(2)).is_ok());
        assert!(expect(Vec::<u8>::new()).to(be_empty()).is_ok());
        let e = expect(vec![1, 2]).to(contain_element(5)).unwrap_err().0;
        assert!(e.contains("to contain\n    5"), "{e}");
        assert!(expect("abc").to(contain_substring("b")).is_ok());
        assert!(expect("pod-12").to(match_regex(r"^pod-\d+$")).is_ok());
        assert!(
            expect("x")
                .to(match_regex("("))
                .unwrap_err()
                .0
                .contains("invalid regular expression")
        );
        let e = expect(7)
            .to(satisfy("even", |n: &i32| n % 2 == 0))
            .unwrap_err()
            .0;
        assert!(e.ends_with("to be even"), "{e}");
        assert!(expect(Some(1)).to(be_some()).is_ok());
        assert!(expect(true).to(be_true()).is_ok());
    }
}
