//! Runs untrusted Python and JavaScript on the device.
//!
//! One API for both languages: [`run`] executes a program under [`Limits`] and returns a
//! [`RunResult`]; [`run_tests`] runs a solution against its tests and reports each test;
//! [`check`] only applies the subset check. Code outside the on-device subset is refused before
//! it runs with a stable [`ReasonCode`] (see `SUBSET.md`), and the run-time guards stay in place
//! behind that check.

pub use edgecoder_protocol::{
    Isolation, IsolationReport, Lang, Limits, Outcome, ReasonCode, RunResult, TestCase,
    TestReport, TestStatus,
};
