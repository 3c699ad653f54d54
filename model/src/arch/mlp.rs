//! Gated feed-forward network: `down(act(gate(x)) * up(x))` (SwiGLU or GeGLU).

use burn::tensor::Tensor;
use burn::tensor::activation::{gelu_approximate, silu};

use super::config::Activation;
use super::linear::Linear;
use super::profile::{self, Op};

/// Configuration of a [`FeedForward`] layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FeedForwardConfig {
    /// Activation applied to the gate.
    pub activation: Activation,
}

impl FeedForwardConfig {
    /// Builds the layer from its three projections.
    pub fn init(&self, gate: Linear, up: Linear, down: Linear) -> FeedForward {
        FeedForward { activation: self.activation, gate, up, down }
    }
}

/// A gated feed-forward network.
#[derive(Debug, Clone)]
pub struct FeedForward {
    activation: Activation,
    gate: Linear,
    up: Linear,
    down: Linear,
}

impl FeedForward {
    /// The activation and the gate, up and down projections.
    pub fn parts(&self) -> (Activation, &Linear, &Linear, &Linear) {
        (self.activation, &self.gate, &self.up, &self.down)
    }

    /// Applies the network to `x` of shape `[seq, hidden]`.
    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        let gate = profile::time(Op::Linear, || self.gate.forward(x.clone()));
        let up = profile::time(Op::Linear, || self.up.forward(x));
        let hidden = profile::time(Op::Activation, || match self.activation {
            Activation::Silu => silu(gate) * up,
            Activation::GeluTanh => gelu_approximate(gate) * up,
        });
        profile::time(Op::Linear, || self.down.forward(hidden))
    }
}
