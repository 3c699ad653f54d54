//! EdgeCoder-Eval: executor-safe code benchmarks run through the agent. Not built yet: see the agent issue.
