//! A driver file as a tree of YAML nodes, each with the line and column it starts at, so that
//! every message about the file can point at the node it is about. JSON is YAML here, as it is
//! upstream (tabs, which JSON allows between tokens and YAML does not, are read as spaces).

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::{MessageFormatter as _, Spanned, UserMessageFormatter};
use std::fmt;

/// A 1-based line and column in the file (0 when unknown).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Pos {
    /// 1-based line.
    pub line: u64,
    /// 1-based column.
    pub column: u64,
}

impl fmt::Display for Pos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// One node of the file.
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    /// Where the node starts.
    pub pos: Pos,
    /// What it holds.
    pub value: Value,
}

/// What a node holds.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// `~`, `null` or nothing.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// An integer.
    Int(i128),
    /// A floating-point number.
    Float(f64),
    /// A string.
    Str(String),
    /// A sequence.
    Seq(Vec<Node>),
    /// A mapping, in file order; keys are nodes too, for their positions.
    Map(Vec<(Node, Node)>),
}

impl Value {
    /// What kind of value this is, for messages (`a mapping`, `the string \`x\``).
    pub fn describe(&self) -> String {
        match self {
            Value::Null => "nothing (null)".into(),
            Value::Bool(b) => format!("the boolean `{b}`"),
            Value::Int(i) => format!("the number `{i}`"),
            Value::Float(x) => format!("the number `{x}`"),
            Value::Str(s) => format!("the string {}", quote(s)),
            Value::Seq(_) => "a list".into(),
            Value::Map(_) => "a mapping".into(),
        }
    }

    /// The scalar as text (for keys): strings as they are, numbers and booleans as written.
    pub fn scalar_text(&self) -> Option<String> {
        match self {
            Value::Str(s) => Some(s.clone()),
            Value::Bool(b) => Some(b.to_string()),
            Value::Int(i) => Some(i.to_string()),
            Value::Float(x) => Some(x.to_string()),
            Value::Null => Some(String::new()),
            Value::Seq(_) | Value::Map(_) => None,
        }
    }
}

pub use kube_e2e::config::param::quote;

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any YAML value")
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Int(v.into()))
    }
    fn visit_i128<E: de::Error>(self, v: i128) -> Result<Value, E> {
        Ok(Value::Int(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Int(v.into()))
    }
    fn visit_u128<E: de::Error>(self, v: u128) -> Result<Value, E> {
        Ok(i128::try_from(v).map_or(Value::Float(v as f64), Value::Int))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        Ok(Value::Float(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        Ok(Value::Str(v.to_string()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        Ok(Value::Str(v))
    }
    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Value, E> {
        Ok(Value::Str(String::from_utf8_lossy(v).into_owned()))
    }
    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        Value::deserialize(d)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Node>()? {
            items.push(item);
        }
        Ok(Value::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = map.next_key::<Node>()? {
            let value = map.next_value::<Node>()?;
            entries.push((key, value));
        }
        Ok(Value::Map(entries))
    }
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ValueVisitor)
    }
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let spanned = Spanned::<Value>::deserialize(d)?;
        Ok(Node {
            pos: Pos {
                line: spanned.referenced.line(),
                column: spanned.referenced.column(),
            },
            value: spanned.value,
        })
    }
}

/// Why a file is not a tree of nodes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyntaxError {
    /// Where (0:0 when the parser did not say).
    pub pos: Pos,
    /// What is wrong, without the location.
    pub message: String,
}

/// A parsed file.
#[derive(Clone, Debug, PartialEq)]
pub struct Parsed {
    /// The first document.
    pub root: Node,
    /// Where a second document starts, if the file has one (it is not read, as upstream
    /// reads only the first).
    pub ignored_document: Option<Pos>,
}

/// The first document of `text` and where a second one starts, if any (a `---` line after
/// content; a trailing `---` with nothing after it does not count).
fn first_document(text: &str) -> (&str, Option<Pos>) {
    let mut seen_content = false;
    let mut offset = 0;
    for (n, line) in text.split_inclusive('\n').enumerate() {
        let t = line.trim_end();
        let separator = t == "---" || t.starts_with("--- ") || t == "...";
        if separator && seen_content {
            let rest = &text[offset + line.len()..];
            let more = rest.lines().any(|l| {
                let l = l.trim();
                !l.is_empty() && !l.starts_with('#') && l != "---" && l != "..."
            });
            let pos = more.then_some(Pos {
                line: n as u64 + 2,
                column: 1,
            });
            return (&text[..offset], pos);
        }
        let t = t.trim_start();
        if !separator && !t.is_empty() && !t.starts_with('#') {
            seen_content = true;
        }
        offset += line.len();
    }
    (text, None)
}

/// Parses `text` (YAML or JSON). An empty or comment-only file is an empty mapping. Only the
/// first document is read, as upstream reads it; duplicate keys are all passed on (the reader
/// warns and keeps the last, as upstream does); YAML 1.1 octal numbers (`010`) are octal, as
/// upstream's YAML reader takes them.
///
/// # Errors
///
/// The first syntax error, or a template placeholder that made the text unparsable.
pub fn parse(text: &str) -> Result<Parsed, SyntaxError> {
    // JSON allows tabs between tokens; in JSON strings a tab must be escaped, so replacing them
    // keeps the meaning and every column.
    let owned;
    let text = if text.trim_start().starts_with('{') && text.contains('\t') {
        owned = text.replace('\t', " ");
        owned.as_str()
    } else {
        text
    };
    let (text, ignored_document) = first_document(text);
    let only_comments = text
        .lines()
        .all(|l| l.trim().is_empty() || l.trim_start().starts_with('#') || l.trim() == "---");
    if only_comments {
        return Ok(Parsed {
            root: Node {
                pos: Pos { line: 1, column: 1 },
                value: Value::Map(Vec::new()),
            },
            ignored_document,
        });
    }
    // `{{ … }}` and `${…}` are never meant literally in a driver file (and may even parse).
    if let Some(found) = find_placeholder(text, |p| !p.starts_with("{{") && !p.starts_with("${")) {
        return Err(found);
    }
    let options = serde_saphyr::options! {
        duplicate_keys: serde_saphyr::DuplicateKeyPolicy::PassThrough,
        legacy_octal_numbers: true,
    };
    let last_line = text.lines().count().max(1) as u64;
    let root = serde_saphyr::from_str_with_options::<Node>(text, options).map_err(|e| {
        let pos = e
            .location()
            .map(|l| Pos {
                line: l.line(),
                column: l.column(),
            })
            .unwrap_or_default();
        // An error at the end of the text (`%DIRECTIVE` and nothing after it) is placed where
        // the next line would start; it belongs at the end of the last line.
        let pos = if pos.line > last_line {
            let end = text.lines().last().map_or(0, |l| l.chars().count() as u64);
            Pos {
                line: last_line,
                column: end + 1,
            }
        } else {
            pos
        };
        // A `{word}` on the line that failed is most likely a placeholder.
        let on_line = find_placeholder(text, |_| false).filter(|p| p.pos.line == pos.line);
        if let Some(placeholder) = on_line {
            return placeholder;
        }
        // The parser quotes a value it cannot read whole, however long.
        let message = kube_e2e::config::param::shorten_words(
            &UserMessageFormatter.format_message(e.without_snippet()),
        );
        SyntaxError { pos, message }
    })?;
    let mut root = root;
    let top = Pos { line: 1, column: 1 };
    keep_inside(&mut root, last_line, top);
    Ok(Parsed {
        root,
        ignored_document,
    })
}

/// Gives every node a place inside the file. An empty node (`? #…` at the end, a key without
/// text) has no place of its own, and the parser puts it where the next token would start —
/// which can be past the last line; it then takes its parent's place.
fn keep_inside(node: &mut Node, last_line: u64, parent: Pos) {
    if node.pos.line == 0 || node.pos.line > last_line {
        node.pos = parent;
    }
    let here = node.pos;
    match &mut node.value {
        Value::Map(entries) => {
            for (k, v) in entries {
                keep_inside(k, last_line, here);
                let key = k.pos;
                keep_inside(v, last_line, key);
            }
        }
        Value::Seq(items) => items
            .iter_mut()
            .for_each(|i| keep_inside(i, last_line, here)),
        _ => {}
    }
}

/// The first template placeholder in `text` — `{{ … }}` (Go, Helm, Jinja), `${…}` or `$VAR`
/// (shell, envsubst) or `{word}` (Python's `format`) — for which `skip` is false, as an error pointing
/// at it. Comments are not searched.
pub fn find_placeholder(text: &str, skip: impl Fn(&str) -> bool) -> Option<SyntaxError> {
    for (n, line) in text.lines().enumerate() {
        let code = match line.find(" #") {
            Some(i) if !line[..i].contains('"') && !line[..i].contains('\'') => &line[..i],
            _ if line.trim_start().starts_with('#') => continue,
            _ => line,
        };
        if let Some((col, found)) = placeholder_in(code)
            && !skip(found)
        {
            return Some(SyntaxError {
                pos: Pos {
                    line: n as u64 + 1,
                    column: code[..col].chars().count() as u64 + 1,
                },
                message: format!(
                    "{} looks like an unrendered template placeholder; render the template \
                     before passing the file",
                    quote(found)
                ),
            });
        }
    }
    None
}

/// Byte offset and text of the first placeholder in `s`.
pub fn placeholder_in(s: &str) -> Option<(usize, &str)> {
    if let Some(start) = s.find("{{") {
        let end = s[start..].find("}}").map_or(s.len(), |e| start + e + 2);
        return Some((start, &s[start..end]));
    }
    if let Some(start) = s.find("${") {
        let end = s[start..].find('}').map_or(s.len(), |e| start + e + 1);
        return Some((start, &s[start..end]));
    }
    // `$WORKDIR/sc.yaml`: an environment variable nothing expanded.
    if let Some(start) = s.match_indices('$').map(|(i, _)| i).find(|&i| {
        s[i + 1..]
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_uppercase() || c == '_')
    }) {
        let rest = &s[start + 1..];
        let len = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        return Some((start, &s[start..start + 1 + len]));
    }
    let bytes = s.as_bytes();
    let mut i = 0;
    while let Some(off) = s[i..].find('{') {
        let start = i + off;
        let rest = &s[start + 1..];
        let word_len = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '.'))
            .unwrap_or(rest.len());
        let word = &rest[..word_len];
        let closes = bytes.get(start + 1 + word_len) == Some(&b'}');
        // `{commit_tag}`, `{version}`: a lower-case word (JSON objects and YAML flow mappings
        // hold `"key": value` or `key: value`, never a bare word).
        if closes
            && !word.is_empty()
            && word
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        {
            return Some((start, &s[start..start + word_len + 2]));
        }
        i = start + 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(node: &Node) -> &Vec<(Node, Node)> {
        match &node.value {
            Value::Map(m) => m,
            other => panic!("expected a mapping, got {other:?}"),
        }
    }

    #[test]
    fn a_syntax_error_at_the_end_of_the_file_is_placed_on_its_last_line() {
        let e = parse("%W\n").unwrap_err();
        assert_eq!(e.pos, Pos { line: 1, column: 3 }, "{e:?}");
    }

    #[test]
    fn an_empty_key_at_the_end_of_the_file_is_placed_inside_it() {
        let parsed = parse("? #1.5hpersistence{Namepersistence---\n").unwrap();
        let Value::Map(entries) = &parsed.root.value else {
            panic!("a map: {:?}", parsed.root)
        };
        assert!(
            entries
                .iter()
                .all(|(k, v)| k.pos.line == 1 && v.pos.line == 1),
            "{entries:?}"
        );
    }

    #[test]
    fn nodes_carry_their_positions() {
        let root = parse("A:\n  b: 1\n  c: [x, y]\n").unwrap().root;
        let a = &map(&root)[0];
        assert_eq!(a.0.value, Value::Str("A".into()));
        assert_eq!(a.0.pos, Pos { line: 1, column: 1 });
        let inner = map(&a.1);
        assert_eq!(inner[0].0.pos, Pos { line: 2, column: 3 });
        assert_eq!(inner[0].1.value, Value::Int(1));
        assert_eq!(inner[0].1.pos, Pos { line: 2, column: 6 });
        match &inner[1].1.value {
            Value::Seq(items) => assert_eq!(
                items[1].pos,
                Pos {
                    line: 3,
                    column: 10
                }
            ),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn sets_in_all_three_spellings_are_mappings() {
        for text in [
            "S:\n  ext4: {}\n  xfs: {}\n",
            "S:\n  ext4:\n  xfs:\n",
            "S: {\"ext4\", \"xfs\"}\n",
            "S: {ext4, xfs}\n",
        ] {
            let root = parse(text).unwrap().root;
            let keys: Vec<String> = map(&map(&root)[0].1)
                .iter()
                .map(|(k, _)| k.value.scalar_text().unwrap())
                .collect();
            assert_eq!(keys, ["ext4", "xfs"], "{text}");
        }
    }

    #[test]
    fn json_with_tabs_parses() {
        let root = parse("{\n\t\"A\": {\n\t\t\"b\": true\n\t}\n}\n")
            .unwrap()
            .root;
        assert_eq!(map(&root)[0].0.value, Value::Str("A".into()));
    }

    #[test]
    fn empty_and_comment_only_files_are_empty_mappings() {
        for text in ["", "\n", "# nothing\n# here\n", "---\n"] {
            assert_eq!(
                parse(text).unwrap().root.value,
                Value::Map(Vec::new()),
                "{text:?}"
            );
        }
    }

    #[test]
    fn syntax_errors_have_a_position_and_no_location_in_the_message() {
        let e = parse("A:\n  b: [1, 2\n").unwrap_err();
        assert!(e.pos.line >= 2, "{e:?}");
        assert!(!e.message.contains("line"), "{e:?}");
    }

    #[test]
    fn duplicate_keys_are_all_passed_on() {
        let root = parse("A: 1\nA: 2\n").unwrap().root;
        assert_eq!(map(&root).len(), 2);
    }

    #[test]
    fn only_the_first_document_is_read() {
        let p = parse("A: 1\n---\n").unwrap();
        assert_eq!(map(&p.root).len(), 1);
        assert_eq!(
            p.ignored_document, None,
            "a trailing separator is no document"
        );
        let p = parse("---\nA: 1\n---\nB: 2\n").unwrap();
        assert_eq!(map(&p.root).len(), 1);
        assert_eq!(p.ignored_document, Some(Pos { line: 4, column: 1 }));
    }

    #[test]
    fn yaml_1_1_octal_is_octal() {
        let root = parse("A: 010\n").unwrap().root;
        assert_eq!(map(&root)[0].1.value, Value::Int(8));
    }

    #[test]
    fn placeholders_are_found_where_they_are() {
        let e = parse("A:\n  Name: {{ .Values.name }}\n").unwrap_err();
        assert_eq!(e.pos, Pos { line: 2, column: 9 });
        assert!(
            e.message
                .contains("`{{ .Values.name }}` looks like an unrendered template placeholder"),
            "{e:?}"
        );
        let e = parse("A:\n  Name: x-${TAG}\n# ${NOT_THIS}\n").unwrap_err();
        assert_eq!(
            e.pos,
            Pos {
                line: 2,
                column: 11
            }
        );
        let e = parse("A:\n  Name: {commit_tag}-v1\n").unwrap_err();
        assert_eq!(e.pos.line, 2, "{e:?}");
        assert!(e.message.contains("`{commit_tag}`"), "{e:?}");
        assert_eq!(
            placeholder_in("x: {{ .Values.name }}"),
            Some((3, "{{ .Values.name }}"))
        );
        assert_eq!(placeholder_in("x: ${DRIVER}"), Some((3, "${DRIVER}")));
        assert_eq!(placeholder_in("x: $WORKDIR/sc.yaml"), Some((3, "$WORKDIR")));
        assert_eq!(placeholder_in("x: pa$$word"), None);
        assert_eq!(placeholder_in("S: {\"ext4\", \"xfs\"}"), None);
        assert_eq!(placeholder_in("S: {ext4: {}}"), None);
        assert_eq!(placeholder_in("S: {}"), None);
    }

    #[test]
    fn long_values_are_cut_in_messages() {
        let q = quote(&"x".repeat(1000));
        assert!(q.len() < 260 && q.contains("1000 characters"), "{q}");
    }
}
