//! Selection: Ginkgo's label-filter grammar ([`filter`]) and which specs run, in which order and
//! on which shard ([`selection`]).

pub mod filter;
pub mod selection;
