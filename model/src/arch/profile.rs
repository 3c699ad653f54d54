//! Per-operation timings of the forward pass, to show where the time goes (`edgecoder bench
//! model` prints them). Off by default; when off, timing costs one relaxed atomic load per op.
//!
//! The CPU backends run operations eagerly, so wall time around an operation is its cost.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The operation categories that are timed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// Token embedding lookup.
    Embedding,
    /// Linear layers inside the blocks (quantized kernels or f32 matmuls).
    Linear,
    /// The output head (hidden → vocabulary).
    OutputHead,
    /// RMSNorm.
    Norm,
    /// Rotary position embedding.
    Rope,
    /// KV-cache append and scaled dot-product attention.
    Attention,
    /// Feed-forward activation and gating product.
    Activation,
    /// Residual additions and reshapes between layers.
    Residual,
}

impl Op {
    /// Every category, in report order.
    pub const ALL: [Op; 8] = [
        Op::Embedding,
        Op::Linear,
        Op::OutputHead,
        Op::Norm,
        Op::Rope,
        Op::Attention,
        Op::Activation,
        Op::Residual,
    ];

    /// A short name for reports.
    pub fn name(self) -> &'static str {
        match self {
            Op::Embedding => "embedding",
            Op::Linear => "linear",
            Op::OutputHead => "output_head",
            Op::Norm => "rms_norm",
            Op::Rope => "rope",
            Op::Attention => "attention",
            Op::Activation => "activation",
            Op::Residual => "residual",
        }
    }
}

static ENABLED: AtomicBool = AtomicBool::new(false);
static NANOS: [AtomicU64; 8] = [const { AtomicU64::new(0) }; 8];
static CALLS: [AtomicU64; 8] = [const { AtomicU64::new(0) }; 8];

/// Turns timing on or off for the whole process.
pub fn set_enabled(enabled: bool) {
    ENABLED.store(enabled, Ordering::Relaxed);
}

/// Zeroes the counters.
pub fn reset() {
    for i in 0..Op::ALL.len() {
        NANOS[i].store(0, Ordering::Relaxed);
        CALLS[i].store(0, Ordering::Relaxed);
    }
}

/// Runs `f`, adding its wall time to `op` when timing is on.
#[inline]
pub fn time<T>(op: Op, f: impl FnOnce() -> T) -> T {
    if !ENABLED.load(Ordering::Relaxed) {
        return f();
    }
    let start = Instant::now();
    let out = f();
    let i = op as usize;
    NANOS[i].fetch_add(start.elapsed().as_nanos() as u64, Ordering::Relaxed);
    CALLS[i].fetch_add(1, Ordering::Relaxed);
    out
}

/// Total time and call count of every category since the last [`reset`].
pub fn snapshot() -> Vec<(Op, Duration, u64)> {
    Op::ALL
        .iter()
        .map(|&op| {
            let i = op as usize;
            (
                op,
                Duration::from_nanos(NANOS[i].load(Ordering::Relaxed)),
                CALLS[i].load(Ordering::Relaxed),
            )
        })
        .collect()
}
