//! (being written this session)
use crate::{Limits, RunResult, SubsetViolation, TestReport};

/// Subset check.
pub fn check(_code: &str) -> Result<(), SubsetViolation> { unimplemented!() }
/// Run.
pub fn run(_code: &str, _limits: &Limits) -> RunResult { unimplemented!() }
/// Run tests.
pub fn run_tests(_solution: &str, _tests: &str, _limits: &Limits) -> TestReport { unimplemented!() }
