//! The manifest pipeline: test files looked up in ordered sources ([`testfiles`]), multi-document
//! YAML loaded and created with cleanups ([`load`]), and patched for the spec on the way
//! ([`patch`]).

pub mod load;
pub mod patch;
pub mod testfiles;

pub use load::*;
