//! The label filter: Ginkgo v2's `--label-filter` grammar.
//!
//! ```text
//! expr    := or
//! or      := and (("||" | ",") and)*
//! and     := unary ("&&" unary)*
//! unary   := "!" unary | primary
//! primary := "(" expr ")" | "/" regex "/" | label | key ":" set-op
//! set-op  := "isEmpty" | ("containsAny" | "containsAll" | "consistsOf" | "isSubsetOf") "{" values "}"
//! ```
//!
//! Labels match case-insensitively, a `/regex/` matches when any label matches it, and the set
//! operators look at the values of `key:value` labels (so `Feature: containsAny {SELinux}` matches
//! a spec tagged `[Feature:SELinux]`). An empty filter matches everything.

use crate::spec::tag::{Labels, same_label};
use regex::Regex;
use std::collections::BTreeSet;

/// A label filter expression could not be parsed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error(
    "invalid label filter {}: {message} (at column {column})",
    crate::config::param::quote(.expr)
)]
pub struct FilterError {
    /// The whole expression.
    pub expr: String,
    /// What is wrong.
    pub message: String,
    /// 1-based character column where the problem is.
    pub column: usize,
}

/// A parsed label filter.
#[derive(Clone, Debug)]
pub struct LabelFilter {
    source: String,
    root: Option<Expr>,
}

#[derive(Clone, Debug)]
enum Expr {
    Label(String),
    Regex(Regex),
    Not(Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Set {
        key: String,
        op: SetOp,
        values: BTreeSet<String>,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SetOp {
    IsEmpty,
    ContainsAny,
    ContainsAll,
    ConsistsOf,
    IsSubsetOf,
}

impl SetOp {
    fn parse(word: &str) -> Option<SetOp> {
        Some(match word {
            "isEmpty" => SetOp::IsEmpty,
            "containsAny" => SetOp::ContainsAny,
            "containsAll" => SetOp::ContainsAll,
            "consistsOf" => SetOp::ConsistsOf,
            "isSubsetOf" => SetOp::IsSubsetOf,
            _ => return None,
        })
    }
}

impl LabelFilter {
    /// Parses a filter expression.
    ///
    /// # Errors
    ///
    /// Returns a [`FilterError`] naming the column and what was expected there.
    pub fn parse(expr: &str) -> Result<Self, FilterError> {
        let chars: Vec<char> = expr.chars().collect();
        let mut p = Parser {
            src: expr,
            chars,
            pos: 0,
            depth: 0,
        };
        p.skip_ws();
        if p.pos == p.chars.len() {
            return Ok(LabelFilter {
                source: expr.into(),
                root: None,
            });
        }
        let root = p.or()?;
        p.skip_ws();
        if p.pos < p.chars.len() {
            let c = p.chars[p.pos];
            let msg = if c == ')' {
                "unexpected `)` without a matching `(`".to_string()
            } else {
                format!("unexpected `{c}`; expected `&&`, `||` or `,`")
            };
            return Err(p.err(msg));
        }
        Ok(LabelFilter {
            source: expr.into(),
            root: Some(root),
        })
    }

    /// The expression as written.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// Whether a spec with these labels is selected.
    pub fn matches(&self, labels: &Labels) -> bool {
        self.root.as_ref().is_none_or(|e| e.eval(labels))
    }
}

impl Expr {
    fn eval(&self, labels: &Labels) -> bool {
        match self {
            Expr::Label(l) => labels.contains(l),
            Expr::Regex(r) => labels.iter().any(|l| r.is_match(l)),
            Expr::Not(e) => !e.eval(labels),
            Expr::And(a, b) => a.eval(labels) && b.eval(labels),
            Expr::Or(a, b) => a.eval(labels) || b.eval(labels),
            Expr::Set { key, op, values } => {
                let have: BTreeSet<String> = labels
                    .iter()
                    .filter_map(|l| {
                        let (k, v) = l.split_once(':')?;
                        same_label(k.trim(), key).then(|| v.trim().to_lowercase())
                    })
                    .collect();
                match op {
                    SetOp::IsEmpty => have.is_empty(),
                    SetOp::ContainsAny => values.iter().any(|v| have.contains(v)),
                    SetOp::ContainsAll => values.iter().all(|v| have.contains(v)),
                    SetOp::ConsistsOf => &have == values,
                    SetOp::IsSubsetOf => have.is_subset(values),
                }
            }
        }
    }
}

struct Parser<'a> {
    src: &'a str,
    chars: Vec<char>,
    pos: usize,
    /// Open `(` and `!` around the current position.
    depth: usize,
}

/// How deeply `(` and `!` may nest: far beyond any real filter, well within the stack.
const MAX_DEPTH: usize = 100;

const STOP: &[char] = &['&', '|', '!', ',', '(', ')', '/', '{', '}'];

impl Parser<'_> {
    fn err(&self, message: impl Into<String>) -> FilterError {
        FilterError {
            expr: self.src.into(),
            message: message.into(),
            column: self.pos + 1,
        }
    }

    fn skip_ws(&mut self) {
        while self.pos < self.chars.len() && self.chars[self.pos].is_whitespace() {
            self.pos += 1;
        }
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn or(&mut self) -> Result<Expr, FilterError> {
        let mut left = self.and()?;
        loop {
            self.skip_ws();
            match self.peek() {
                Some(',') => self.pos += 1,
                Some('|') if self.chars.get(self.pos + 1) == Some(&'|') => self.pos += 2,
                Some('|') => return Err(self.err("single `|`; use `||` for or")),
                _ => return Ok(left),
            }
            let right = self.and()?;
            left = Expr::Or(Box::new(left), Box::new(right));
        }
    }

    fn and(&mut self) -> Result<Expr, FilterError> {
        let mut left = self.unary()?;
        loop {
            self.skip_ws();
            match self.peek() {
                Some('&') if self.chars.get(self.pos + 1) == Some(&'&') => self.pos += 2,
                Some('&') => return Err(self.err("single `&`; use `&&` for and")),
                _ => return Ok(left),
            }
            let right = self.unary()?;
            left = Expr::And(Box::new(left), Box::new(right));
        }
    }

    fn nest(&mut self) -> Result<(), FilterError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.err(format!(
                "`(` and `!` nest deeper than {MAX_DEPTH} levels here"
            )));
        }
        Ok(())
    }

    fn unary(&mut self) -> Result<Expr, FilterError> {
        self.skip_ws();
        if self.peek() == Some('!') {
            self.nest()?;
            self.pos += 1;
            let inner = self.unary()?;
            self.depth -= 1;
            return Ok(Expr::Not(Box::new(inner)));
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<Expr, FilterError> {
        self.skip_ws();
        match self.peek() {
            None => Err(self.err("expression ends where a label was expected")),
            Some('(') => {
                self.nest()?;
                let open = self.pos;
                self.pos += 1;
                let inner = self.or()?;
                self.depth -= 1;
                self.skip_ws();
                if self.peek() != Some(')') {
                    let mut e = self.err(format!(
                        "missing `)` to close the `(` opened at column {}",
                        open + 1
                    ));
                    e.column = self.pos + 1;
                    return Err(e);
                }
                self.pos += 1;
                Ok(inner)
            }
            Some('/') => self.regex(),
            Some(c @ ('&' | '|' | ',' | ')')) => {
                Err(self.err(format!("unexpected `{c}` where a label was expected")))
            }
            Some(c @ ('{' | '}')) => Err(self.err(format!(
                "unexpected `{c}`; sets follow a set operator such as `key: containsAny`"
            ))),
            Some(_) => self.label(),
        }
    }

    fn regex(&mut self) -> Result<Expr, FilterError> {
        let start = self.pos;
        self.pos += 1;
        let mut pattern = String::new();
        loop {
            match self.peek() {
                None => {
                    self.pos = start;
                    return Err(self.err("regex is missing its closing `/`"));
                }
                Some('\\') if self.chars.get(self.pos + 1) == Some(&'/') => {
                    pattern.push('/');
                    self.pos += 2;
                }
                Some('/') => {
                    self.pos += 1;
                    break;
                }
                Some(c) => {
                    pattern.push(c);
                    self.pos += 1;
                }
            }
        }
        if pattern.is_empty() {
            self.pos = start;
            return Err(self.err("empty regex `//`"));
        }
        Regex::new(&format!("(?i){pattern}"))
            .map(Expr::Regex)
            .map_err(|e| {
                let mut err = self.err(format!("invalid regex `/{pattern}/`: {e}"));
                err.column = start + 1;
                err
            })
    }

    fn label(&mut self) -> Result<Expr, FilterError> {
        let start = self.pos;
        while let Some(c) = self.peek() {
            if STOP.contains(&c) {
                break;
            }
            self.pos += 1;
        }
        let text: String = self.chars[start..self.pos].iter().collect();
        let text = text.trim();
        if let Some((key, op)) = text.rsplit_once(':')
            && let Some(op) = SetOp::parse(op.trim())
        {
            let key = key.trim();
            if key.is_empty() {
                let mut e = self.err("set operator without a key");
                e.column = start + 1;
                return Err(e);
            }
            let values = if op == SetOp::IsEmpty {
                BTreeSet::new()
            } else {
                self.set()?
            };
            return Ok(Expr::Set {
                key: key.to_string(),
                op,
                values,
            });
        }
        if let Some((_, tail)) = text.rsplit_once(':')
            && let Some((word, rest)) = tail.trim_start().split_once(char::is_whitespace)
            && SetOp::parse(word).is_some()
        {
            let raw: String = self.chars[start..self.pos].iter().collect();
            let offset = raw.rfind(rest.trim()).unwrap_or(0);
            let mut e = self.err(format!(
                "expected `{{` to start the value set after `{word}`"
            ));
            e.column = start + raw[..offset].chars().count() + 1;
            return Err(e);
        }
        Ok(Expr::Label(text.to_string()))
    }

    fn set(&mut self) -> Result<BTreeSet<String>, FilterError> {
        self.skip_ws();
        if self.peek() != Some('{') {
            return Err(self.err("expected `{` to start the value set"));
        }
        let open = self.pos;
        self.pos += 1;
        let start = self.pos;
        while let Some(c) = self.peek() {
            if c == '}' {
                break;
            }
            if STOP.contains(&c) && c != ',' {
                return Err(self.err(format!("unexpected `{c}` inside a value set")));
            }
            self.pos += 1;
        }
        if self.peek() != Some('}') {
            self.pos = open;
            return Err(self.err("value set is missing its closing `}`"));
        }
        let body: String = self.chars[start..self.pos].iter().collect();
        self.pos += 1;
        let values: BTreeSet<String> = body
            .split(',')
            .map(|v| v.trim().to_lowercase())
            .filter(|v| !v.is_empty())
            .collect();
        if values.is_empty() {
            self.pos = open;
            return Err(self.err("empty value set"));
        }
        Ok(values)
    }
}

#[cfg(test)]
mod fuzz;

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(l: &[&str]) -> Labels {
        Labels::new(l.iter().map(|s| s.to_string()))
    }

    #[test]
    fn grammar_table() {
        let spec = labels(&[
            "Conformance",
            "sig-storage",
            "Feature:SELinux",
            "env:prod",
            "Slow",
        ]);
        let table: &[(&str, bool)] = &[
            ("", true),
            ("Conformance", true),
            ("conformance", true),
            ("Serial", false),
            ("!Serial", true),
            ("!!Serial", false),
            ("Conformance && Slow", true),
            ("Conformance && Serial", false),
            ("Serial || Slow", true),
            ("Serial, Slow", true),
            ("Serial, Disruptive", false),
            ("(Serial || Slow) && !Flaky", true),
            ("Conformance && (Serial || Disruptive)", false),
            ("!(Serial || Disruptive) && Conformance", true),
            ("/^sig-/", true),
            ("/STORAGE/", true),
            ("/^sig-node$/", false),
            ("Feature:SELinux", true),
            ("Feature: isEmpty", false),
            ("Team: isEmpty", true),
            ("Feature: containsAny {selinux, Other}", true),
            ("Feature: containsAll {SELinux, Other}", false),
            ("env: consistsOf {prod}", true),
            ("env: consistsOf {prod, dev}", false),
            ("env: isSubsetOf {prod, dev}", true),
            ("!Feature: containsAny {SELinux} || Slow", true),
            ("  Slow  ", true),
            ("a || b && c", false),
            ("Slow || Serial && Flaky", true),
        ];
        for (expr, want) in table {
            let f = LabelFilter::parse(expr).unwrap_or_else(|e| panic!("{expr:?}: {e}"));
            assert_eq!(f.matches(&spec), *want, "filter {expr:?} on {spec:?}");
        }
    }

    /// Found by `fuzz::generated_expressions_evaluate_as_the_reference_does`: labels matched
    /// only ASCII letters in any case, while set values matched any letter.
    #[test]
    fn non_ascii_labels_match_in_any_case() {
        let spec = labels(&["übung", "Stufe:Ärger"]);
        for expr in [
            "Übung\t",
            "ÜBUNG",
            "STUFE: containsAny {ärger}",
            "stufe: consistsOf {ÄRGER}",
        ] {
            let f = LabelFilter::parse(expr).unwrap();
            assert!(f.matches(&spec), "{expr:?} on {spec:?}");
        }
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_stack_overflow() {
        let deep = format!("{}a{}", "(".repeat(10_000), ")".repeat(10_000));
        let e = LabelFilter::parse(&deep).unwrap_err();
        assert!(e.message.contains("nest deeper than 100 levels"), "{e}");
        assert_eq!(e.column, 101);
        let nots = format!("{}a", "!".repeat(10_000));
        assert!(LabelFilter::parse(&nots).is_err());
        let fine = format!("{}a{}", "(".repeat(50), ")".repeat(50));
        assert!(LabelFilter::parse(&fine).unwrap().matches(&labels(&["a"])));
    }

    #[test]
    fn invalid_expressions_say_what_and_where() {
        let table: &[(&str, &str, usize)] = &[
            (
                "(Serial",
                "missing `)` to close the `(` opened at column 1",
                8,
            ),
            ("Serial)", "unexpected `)` without a matching `(`", 7),
            (
                "Serial &&",
                "expression ends where a label was expected",
                10,
            ),
            ("Serial & Slow", "single `&`; use `&&` for and", 8),
            ("Serial | Slow", "single `|`; use `||` for or", 8),
            ("&& Slow", "unexpected `&` where a label was expected", 1),
            ("/[/", "invalid regex `/[/`", 1),
            ("/abc", "regex is missing its closing `/`", 1),
            ("//", "empty regex `//`", 1),
            (
                "k: containsAny a",
                "expected `{` to start the value set",
                16,
            ),
            (
                "k: containsAny {a",
                "value set is missing its closing `}`",
                16,
            ),
            ("k: containsAny {}", "empty value set", 16),
            (
                "k: containsAny {a && b}",
                "unexpected `&` inside a value set",
                19,
            ),
            ("{a}", "unexpected `{`", 1),
            (": isEmpty", "set operator without a key", 1),
            ("a b ( c", "unexpected `(`", 5),
        ];
        for (expr, msg, col) in table {
            let err = LabelFilter::parse(expr).expect_err(expr);
            assert!(err.message.contains(msg), "{expr:?}: got `{}`", err.message);
            assert_eq!(err.column, *col, "{expr:?}: {err}");
            assert!(
                err.to_string().contains(expr),
                "error names the expression: {err}"
            );
        }
    }
}
