//! Selection: which specs run, and in which order.
//!
//! The framework's filters are ANDed: `--focus` (any regex matches the full name), not
//! `--skip-regex`, `--label-filter`; then `--shard`. With none of the first three given, `[Flaky]`
//! and `[Feature:*]` specs are excluded the way upstream's default skip does it, by marking them
//! ignored: they still show in `--list` (as libtest's ignored tests do), and `--ignored` or
//! `--include-ignored` run them. libtest's own name filter, `--exact`, `--skip` and `--ignored`
//! are applied on top by the runner.
//!
//! Order: specs sorted by name (ordered containers as one unit, in definition order), parallel
//! units first and serial units last; `--randomize` shuffles each of the two lists with a ChaCha8
//! generator seeded by `--seed`, so the same seed gives the same order.

use crate::config::cli::RunFlags;
use crate::config::param::quote;
use crate::select::filter::{FilterError, LabelFilter};
use crate::spec::registry::SpecSet;
use rand::SeedableRng;
use rand::seq::SliceRandom;
use regex::Regex;
use std::collections::HashMap;

/// The selection could not be made.
#[derive(Debug, thiserror::Error)]
pub enum SelectionError {
    /// A `--focus` or `--skip-regex` value is not a regex.
    #[error(
        "invalid regex {} given to `--{flag}`: {reason}",
        crate::config::param::quote(.regex)
    )]
    BadRegex {
        /// `focus` or `skip-regex`.
        flag: &'static str,
        /// The value.
        regex: String,
        /// Why, in one line.
        reason: String,
        /// The regex error.
        #[source]
        source: Box<regex::Error>,
    },
    /// The label filter does not parse.
    #[error(transparent)]
    LabelFilter(#[from] FilterError),
    /// The filters selected no spec.
    #[error(
        "{filters} selected none of the {total} registered specs; pass --allow-empty (KUBE_E2E_ALLOW_EMPTY=true) if that is intended"
    )]
    Empty {
        /// The filters given, for the message.
        filters: String,
        /// How many specs exist.
        total: usize,
    },
}

/// A scheduling unit: one spec, or the selected specs of one ordered container in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unit {
    /// Indices into [`SpecSet::specs`].
    pub specs: Vec<usize>,
    /// Runs alone, after the parallel units.
    pub serial: bool,
}

/// The outcome of selection.
#[derive(Clone, Debug)]
pub struct Selection {
    /// Units in run order.
    pub units: Vec<Unit>,
    /// Per spec (index into [`SpecSet::specs`]): excluded by default (shown as ignored).
    pub default_excluded: Vec<bool>,
    /// The seed used when shuffling.
    pub seed: Option<u64>,
}

impl Selection {
    /// Spec indices in run order.
    pub fn order(&self) -> impl Iterator<Item = usize> + '_ {
        self.units.iter().flat_map(|u| u.specs.iter().copied())
    }

    /// Number of selected specs.
    pub fn len(&self) -> usize {
        self.units.iter().map(|u| u.specs.len()).sum()
    }

    /// Whether nothing is selected.
    pub fn is_empty(&self) -> bool {
        self.units.is_empty()
    }
}

fn regexes(flag: &'static str, values: &[String]) -> Result<Vec<Regex>, SelectionError> {
    values
        .iter()
        .map(|r| {
            Regex::new(r).map_err(|e| SelectionError::BadRegex {
                flag,
                regex: r.clone(),
                reason: e
                    .to_string()
                    .lines()
                    .rev()
                    .find(|l| !l.trim().is_empty())
                    .unwrap_or_default()
                    .trim()
                    .trim_start_matches("error: ")
                    .to_string(),
                source: Box::new(e),
            })
        })
        .collect()
}

/// Selects and orders specs according to the framework's flags.
///
/// # Errors
///
/// Bad regexes or label filters, and an empty selection unless `--allow-empty`.
pub fn select(set: &SpecSet, flags: &RunFlags) -> Result<Selection, SelectionError> {
    let focus = regexes("focus", &flags.focus)?;
    let skip = regexes("skip-regex", &flags.skip_regex)?;
    let label = flags
        .label_filter
        .as_deref()
        .map(LabelFilter::parse)
        .transpose()?;
    let any_filter =
        !focus.is_empty() || !skip.is_empty() || label.is_some() || flags.mode.is_some();

    let mut units: Vec<Unit> = Vec::new();
    let mut group_unit: HashMap<usize, usize> = HashMap::new();
    let mut default_excluded = vec![false; set.specs.len()];
    for (i, spec) in set.specs.iter().enumerate() {
        let name = &spec.info.name;
        let chosen = (focus.is_empty() || focus.iter().any(|r| r.is_match(name)))
            && !skip.iter().any(|r| r.is_match(name))
            && label.as_ref().is_none_or(|f| f.matches(&spec.info.labels))
            && flags.mode.is_none_or(|m| m.selects(&spec.info));
        if !chosen {
            continue;
        }
        default_excluded[i] =
            !any_filter && (spec.info.labels.contains("Flaky") || spec.info.labels.has_feature());
        match &spec.group {
            Some((gid, _)) => {
                let u = *group_unit.entry(*gid).or_insert_with(|| {
                    units.push(Unit {
                        specs: Vec::new(),
                        serial: false,
                    });
                    units.len() - 1
                });
                units[u].specs.push(i);
                units[u].serial |= spec.info.serial;
            }
            None => units.push(Unit {
                specs: vec![i],
                serial: spec.info.serial,
            }),
        }
    }
    for u in &mut units {
        u.specs.sort_by_key(|&i| set.specs[i].position);
    }
    if let Some(shard) = flags.shard {
        units = units
            .into_iter()
            .enumerate()
            .filter(|(k, _)| k % shard.total == shard.index - 1)
            .map(|(_, u)| u)
            .collect();
    }
    if units.is_empty() && (any_filter || flags.shard.is_some()) && !flags.allow_empty {
        let mut given = Vec::new();
        given.extend(flags.focus.iter().map(|f| format!("--focus {}", quote(f))));
        given.extend(
            flags
                .skip_regex
                .iter()
                .map(|f| format!("--skip-regex {}", quote(f))),
        );
        given.extend(
            flags
                .label_filter
                .iter()
                .map(|f| format!("--label-filter {}", quote(f))),
        );
        given.extend(flags.mode.iter().map(|m| format!("--mode {m}")));
        given.extend(
            flags
                .shard
                .iter()
                .map(|s| format!("--shard {}/{}", s.index, s.total)),
        );
        // Thousands of `--focus` values (a generated config file) are not all repeated.
        const SHOWN: usize = 5;
        let more = given.len().saturating_sub(SHOWN);
        given.truncate(SHOWN);
        if more > 0 {
            given.push(format!("(and {more} more filters)"));
        }
        return Err(SelectionError::Empty {
            filters: given.join(" "),
            total: set.specs.len(),
        });
    }
    let (mut parallel, mut serial): (Vec<Unit>, Vec<Unit>) =
        units.into_iter().partition(|u| !u.serial);
    let seed = (flags.randomize || flags.seed.is_some()).then(|| {
        flags.seed.unwrap_or_else(|| {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default();
            now.as_nanos() as u64 ^ u64::from(std::process::id())
        })
    });
    if let Some(seed) = seed {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        parallel.shuffle(&mut rng);
        serial.shuffle(&mut rng);
    }
    parallel.extend(serial);
    Ok(Selection {
        units: parallel,
        default_excluded,
        seed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::cli::Cli;
    use crate::spec::registry::Registry;
    use crate::spec::tag::{Tag, feature, sig};
    use clap::Parser;

    fn ok(_: crate::SpecContext) -> std::future::Ready<anyhow::Result<()>> {
        std::future::ready(Ok(()))
    }

    fn suite() -> SpecSet {
        let mut r = Registry::new();
        r.declare_feature("Gpu");
        r.add(|s| {
            s.describe("pods", |s| {
                for i in 0..20 {
                    s.it(format!("spec {i:02}"), ok);
                }
                s.it("conformant", ok)
                    .conformance(crate::conformance::ConformanceMeta {
                        testname: "Pods, conformant",
                        description: "A pod MUST conform.",
                        release: "v1.9",
                    });
                s.it("serial one", ok).tag(Tag::Serial);
                s.it("breaks things", ok).tag(Tag::Disruptive);
                s.it("flaky", ok).tag(Tag::Flaky);
                s.it("gpu", ok).tag(feature("Gpu"));
                s.ordered("ordered", |s| {
                    s.it("z first", ok);
                    s.it("a second", ok);
                });
            })
            .tag(sig("node"));
        });
        r.build().unwrap()
    }

    fn flags(args: &[&str]) -> RunFlags {
        let mut v = vec!["suite"];
        v.extend(args);
        Cli::try_parse_from(v).unwrap().run
    }

    fn names(set: &SpecSet, sel: &Selection) -> Vec<String> {
        sel.order()
            .map(|i| set.specs[i].info.name.clone())
            .collect()
    }

    #[test]
    fn focus_and_skip_regexes_and_default_exclusion() {
        let set = suite();
        let sel = select(&set, &flags(&[])).unwrap();
        let excluded: Vec<_> = sel
            .order()
            .filter(|&i| sel.default_excluded[i])
            .map(|i| set.specs[i].info.name.clone())
            .collect();
        assert_eq!(
            excluded,
            [
                "[sig-node] pods flaky [Flaky]",
                "[sig-node] pods gpu [Feature:Gpu]"
            ]
        );
        let sel = select(
            &set,
            &flags(&[
                "--focus",
                "spec 0[1-3]",
                "--focus",
                "conformant",
                "--skip-regex",
                "02",
            ]),
        )
        .unwrap();
        assert_eq!(
            names(&set, &sel),
            [
                "[sig-node] pods conformant [Conformance]",
                "[sig-node] pods spec 01",
                "[sig-node] pods spec 03"
            ]
        );
        let sel = select(
            &set,
            &flags(&["--label-filter", "Flaky || Feature: containsAny {gpu}"]),
        )
        .unwrap();
        assert_eq!(sel.len(), 2);
        assert!(
            sel.default_excluded.iter().all(|e| !e),
            "explicit filters lift the default exclusion"
        );
    }

    #[test]
    fn serial_units_come_last_and_ordered_keep_definition_order() {
        let set = suite();
        let sel = select(&set, &flags(&[])).unwrap();
        let n = names(&set, &sel);
        assert_eq!(
            &n[n.len() - 2..],
            [
                "[sig-node] pods breaks things [Disruptive]",
                "[sig-node] pods serial one [Serial]"
            ]
        );
        let z = n.iter().position(|x| x.ends_with("z first")).unwrap();
        assert!(n[z + 1].ends_with("a second"));
    }

    #[test]
    fn same_seed_same_order_and_different_seed_differs() {
        let set = suite();
        let a = names(&set, &select(&set, &flags(&["--seed", "42"])).unwrap());
        let b = names(
            &set,
            &select(&set, &flags(&["--randomize", "--seed", "42"])).unwrap(),
        );
        let c = names(&set, &select(&set, &flags(&["--seed", "43"])).unwrap());
        let plain = names(&set, &select(&set, &flags(&[])).unwrap());
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_ne!(a, plain);
        assert!(
            a[a.len() - 2..]
                .iter()
                .all(|n| n.contains("[Serial]") || n.contains("[Disruptive]"))
        );
    }

    #[test]
    fn shards_cover_every_spec_exactly_once() {
        let set = suite();
        let all = select(&set, &flags(&[])).unwrap();
        for total in 1..=5 {
            let mut seen: Vec<usize> = Vec::new();
            for index in 1..=total {
                let sel = select(&set, &flags(&["--shard", &format!("{index}/{total}")])).unwrap();
                seen.extend(sel.order());
            }
            seen.sort();
            let mut want: Vec<usize> = all.order().collect();
            want.sort();
            assert_eq!(seen, want, "{total} shards");
        }
    }

    #[test]
    fn empty_selection_is_an_error_unless_allowed() {
        let set = suite();
        let err = select(&set, &flags(&["--focus", "nothing matches"]))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("--focus `nothing matches` selected none of the 27 registered specs"),
            "{err}"
        );
        assert!(
            select(&set, &flags(&["--focus", "nothing", "--allow-empty"]))
                .unwrap()
                .is_empty()
        );
        let err = select(&set, &flags(&["--focus", "("]))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("invalid regex `(` given to `--focus`: unclosed group"),
            "{err}"
        );
        let err = select(&set, &flags(&["--label-filter", "a &&"]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("invalid label filter"), "{err}");
    }
}
