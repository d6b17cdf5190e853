//! The spec model: the tree a suite builds ([`container`]), the context a spec runs with
//! ([`context`]), typed tags ([`tag`]), conformance metadata ([`conformance`]), typed skips
//! ([`skip`]), and registration into a validated, sorted [`SpecSet`](registry::SpecSet)
//! ([`registry`]).

pub mod conformance;
pub mod container;
pub mod context;
pub mod info;
pub mod registry;
pub mod skip;
pub mod suite;
pub mod tag;
