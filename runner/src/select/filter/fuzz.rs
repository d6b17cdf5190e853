//! Property tests of the label filter: any text parses or fails with a located error, generated
//! expressions evaluate as a small reference evaluator does, and deep nesting is refused.
//!
//! Each property runs for arbtest's budget: 100 ms by default, `ARBTEST_BUDGET_MS` to search
//! longer, `ARBTEST_SEED` to replay a failure (see `docs/fuzzing.md`).

use super::*;
use arbitrary::{Result, Unstructured};
use arbtest::arbtest;

/// Tokens of the grammar and their near misses, so random text reaches deep into the parser.
const TOKENS: &[&str] = &[
    "(",
    ")",
    "!",
    "&&",
    "&",
    "||",
    "|",
    ",",
    "/",
    "\\/",
    "{",
    "}",
    ":",
    " ",
    "\t",
    "a",
    "Slow",
    "env",
    "isEmpty",
    "containsAny",
    "containsAll",
    "consistsOf",
    "isSubsetOf",
    "[",
    "*",
    "ü",
    "^",
    "$",
    ".",
    "\\",
];

fn token_soup(u: &mut Unstructured<'_>) -> Result<String> {
    let mut s = String::new();
    for _ in 0..u.int_in_range(0..=40)? {
        if u.ratio(1, 8)? {
            s.push(u.arbitrary::<char>()?);
        } else {
            s.push_str(u.choose(TOKENS)?);
        }
    }
    Ok(s)
}

fn check_error(expr: &str, e: &FilterError) {
    let chars = expr.chars().count();
    assert!(
        (1..=chars + 1).contains(&e.column),
        "column {} outside 1..={} for {expr:?}: {e}",
        e.column,
        chars + 1
    );
    assert!(!e.message.is_empty(), "{expr:?}: an empty message");
    assert_eq!(e.expr, expr, "the error names the whole expression");
}

#[test]
fn any_text_parses_or_fails_with_a_column() {
    arbtest(|u| {
        let expr = if u.arbitrary()? {
            u.arbitrary::<String>()?
        } else {
            token_soup(u)?
        };
        match LabelFilter::parse(&expr) {
            Ok(f) => {
                let labels = Labels::new(u.arbitrary::<Vec<String>>()?);
                f.matches(&labels);
                assert_eq!(f.as_str(), expr);
            }
            Err(e) => check_error(&expr, &e),
        }
        Ok(())
    });
}

/// Labels the generated expressions and label sets draw from: `key:value` labels, a label with
/// a space, one with a non-ASCII capital.
const LABELS: &[&str] = &[
    "Conformance",
    "Slow",
    "sig-storage",
    "Feature:SELinux",
    "env:prod",
    "env:dev",
    "Übung",
    "a b",
    "x.y",
];
const KEYS: &[&str] = &["env", "Feature", "team"];
const VALUES: &[&str] = &["prod", "dev", "selinux", "qa", "Übung"];
/// Regex bodies without metacharacters (a `/` inside is written `\/`).
const FRAGMENTS: &[&str] = &["sig-", "storage", "slow", "e/x", "übung", "conf"];

/// A filter expression as the reference evaluator sees it.
#[derive(Clone, Debug)]
enum Model {
    Label(String),
    Contains(String),
    Prefix(String),
    Suffix(String),
    Not(Box<Model>),
    And(Box<Model>, Box<Model>),
    Or(Box<Model>, Box<Model>),
    Set(String, SetOp, Vec<String>),
}

fn vary_case(u: &mut Unstructured<'_>, s: &str) -> Result<String> {
    Ok(match u.int_in_range(0..=3)? {
        0 => s.to_string(),
        1 => s.to_lowercase(),
        2 => s.to_uppercase(),
        _ => s.to_ascii_uppercase(),
    })
}

fn model(u: &mut Unstructured<'_>, depth: u32) -> Result<Model> {
    let leaf = depth == 0 || u.ratio(1, 3)?;
    if leaf {
        return Ok(match u.int_in_range(0..=4)? {
            0 | 1 => {
                let label = u.choose(LABELS)?;
                Model::Label(vary_case(u, label)?)
            }
            2 => {
                let fragment = u.choose(FRAGMENTS)?.to_string();
                match u.int_in_range(0..=2)? {
                    0 => Model::Contains(fragment),
                    1 => Model::Prefix(fragment),
                    _ => Model::Suffix(fragment),
                }
            }
            _ => {
                let key = u.choose(KEYS)?;
                let key = vary_case(u, key)?;
                let op = *u.choose(&[
                    SetOp::IsEmpty,
                    SetOp::ContainsAny,
                    SetOp::ContainsAll,
                    SetOp::ConsistsOf,
                    SetOp::IsSubsetOf,
                ])?;
                let mut values = Vec::new();
                if op != SetOp::IsEmpty {
                    for _ in 0..u.int_in_range(1..=3)? {
                        let v = u.choose(VALUES)?;
                        values.push(vary_case(u, v)?);
                    }
                }
                Model::Set(key, op, values)
            }
        });
    }
    Ok(match u.int_in_range(0..=2)? {
        0 => Model::Not(Box::new(model(u, depth - 1)?)),
        1 => Model::And(
            Box::new(model(u, depth - 1)?),
            Box::new(model(u, depth - 1)?),
        ),
        _ => Model::Or(
            Box::new(model(u, depth - 1)?),
            Box::new(model(u, depth - 1)?),
        ),
    })
}

fn space(u: &mut Unstructured<'_>) -> Result<&'static str> {
    u.choose(&["", "", " ", "  ", "\t", "\n"]).copied()
}

fn op_name(op: SetOp) -> &'static str {
    match op {
        SetOp::IsEmpty => "isEmpty",
        SetOp::ContainsAny => "containsAny",
        SetOp::ContainsAll => "containsAll",
        SetOp::ConsistsOf => "consistsOf",
        SetOp::IsSubsetOf => "isSubsetOf",
    }
}

/// Writes `m` in the filter grammar; `prec` is the binding of the context (0: or, 1: and,
/// 2: operand of `!`), and parentheses are added where the grammar needs them, and sometimes
/// where it does not.
fn render(u: &mut Unstructured<'_>, m: &Model, prec: u8, out: &mut String) -> Result<()> {
    let own = match m {
        Model::Or(..) => 0,
        Model::And(..) => 1,
        _ => 2,
    };
    let paren = own < prec || u.ratio(1, 6)?;
    if paren {
        out.push('(');
        out.push_str(space(u)?);
    }
    let regex = |out: &mut String, pre: &str, body: &str, post: &str| {
        out.push('/');
        out.push_str(pre);
        out.push_str(&body.replace('/', "\\/"));
        out.push_str(post);
        out.push('/');
    };
    match m {
        Model::Label(l) => out.push_str(l),
        Model::Contains(s) => regex(out, "", s, ""),
        Model::Prefix(s) => regex(out, "^", s, ""),
        Model::Suffix(s) => regex(out, "", s, "$"),
        Model::Not(inner) => {
            out.push('!');
            out.push_str(space(u)?);
            render(u, inner, 2, out)?;
        }
        Model::And(a, b) | Model::Or(a, b) => {
            render(u, a, own, out)?;
            out.push_str(space(u)?);
            out.push_str(if own == 1 {
                "&&"
            } else if u.arbitrary()? {
                "||"
            } else {
                ","
            });
            out.push_str(space(u)?);
            // Both operators are left-associative: a right operand of the same kind needs
            // no parentheses for its meaning, and `own + 1` would force them.
            render(u, b, own, out)?;
        }
        Model::Set(key, op, values) => {
            out.push_str(key);
            out.push_str(space(u)?);
            out.push(':');
            out.push_str(space(u)?);
            out.push_str(op_name(*op));
            if *op != SetOp::IsEmpty {
                out.push_str(space(u)?);
                out.push('{');
                for (i, v) in values.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(space(u)?);
                    out.push_str(v);
                    out.push_str(space(u)?);
                }
                out.push('}');
            }
        }
    }
    if paren {
        out.push_str(space(u)?);
        out.push(')');
    }
    Ok(())
}

/// Ginkgo's meaning, written without the parser's code: labels compare after lower-casing,
/// a regex matches when any label contains (starts, ends with) its text in any case, and set
/// operators look at the trimmed, lower-cased values of `key:value` labels.
fn reference(m: &Model, labels: &[String]) -> bool {
    let lower: Vec<String> = labels.iter().map(|l| l.to_lowercase()).collect();
    match m {
        Model::Label(l) => lower.contains(&l.to_lowercase()),
        Model::Contains(s) => lower.iter().any(|l| l.contains(&s.to_lowercase())),
        Model::Prefix(s) => lower.iter().any(|l| l.starts_with(&s.to_lowercase())),
        Model::Suffix(s) => lower.iter().any(|l| l.ends_with(&s.to_lowercase())),
        Model::Not(a) => !reference(a, labels),
        Model::And(a, b) => reference(a, labels) && reference(b, labels),
        Model::Or(a, b) => reference(a, labels) || reference(b, labels),
        Model::Set(key, op, values) => {
            let want: BTreeSet<String> = values.iter().map(|v| v.to_lowercase()).collect();
            let have: BTreeSet<String> = labels
                .iter()
                .filter_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    (k.trim().to_lowercase() == key.to_lowercase()).then(|| v.trim().to_lowercase())
                })
                .collect();
            match op {
                SetOp::IsEmpty => have.is_empty(),
                SetOp::ContainsAny => !want.is_disjoint(&have),
                SetOp::ContainsAll => want.is_subset(&have),
                SetOp::ConsistsOf => want == have,
                SetOp::IsSubsetOf => have.is_subset(&want),
            }
        }
    }
}

fn label_set(u: &mut Unstructured<'_>) -> Result<Vec<String>> {
    let mut labels = Vec::new();
    for _ in 0..u.int_in_range(0..=5)? {
        let label = u.choose(LABELS)?;
        let mut label = vary_case(u, label)?;
        // `env : prod`: set operators trim around the colon.
        if u.ratio(1, 4)?
            && let Some((k, v)) = label.split_once(':')
        {
            label = format!("{k} : {v}");
        }
        labels.push(label);
    }
    Ok(labels)
}

#[test]
fn generated_expressions_evaluate_as_the_reference_does() {
    arbtest(|u| {
        let m = model(u, 4)?;
        let mut expr = String::new();
        expr.push_str(space(u)?);
        render(u, &m, 0, &mut expr)?;
        expr.push_str(space(u)?);
        let filter = LabelFilter::parse(&expr)
            .unwrap_or_else(|e| panic!("generated {expr:?} from {m:?} does not parse: {e}"));
        for _ in 0..4 {
            let labels = label_set(u)?;
            assert_eq!(
                filter.matches(&Labels::new(labels.clone())),
                reference(&m, &labels),
                "filter {expr:?} on labels {labels:?} (model {m:?})"
            );
        }
        Ok(())
    });
}

#[test]
fn nesting_past_the_limit_is_an_error_at_any_mix_of_parentheses_and_nots() {
    arbtest(|u| {
        let levels = u.int_in_range(0..=3 * MAX_DEPTH)?;
        let mut expr = String::new();
        let mut open = 0;
        for _ in 0..levels {
            if u.arbitrary()? {
                expr.push('(');
                open += 1;
                // Still inside the `(`: an `&&` operand nests no less.
                if u.ratio(1, 10)? {
                    expr.push_str("x && ");
                }
            } else {
                expr.push('!');
            }
            expr.push_str(space(u)?);
        }
        expr.push('a');
        expr.push_str(&")".repeat(open));
        match LabelFilter::parse(&expr) {
            Ok(_) => assert!(levels <= MAX_DEPTH, "{levels} levels parsed: {expr:?}"),
            Err(e) => {
                check_error(&expr, &e);
                assert!(
                    levels > MAX_DEPTH && e.message.contains("nest deeper"),
                    "{levels} levels: {e}"
                );
            }
        }
        Ok(())
    });
}
