//! Gomega's part: `expect(actual).to(matcher)` ([`matchers`]) and `eventually`/`consistently`
//! ([`eventually`]).

pub mod eventually;
pub mod matchers;

pub use eventually::*;
pub use matchers::*;
