//! Linear (fully connected) layers: `y = x · Wᵀ + b`, with the weight either a dense Burn tensor
//! or a kernel that works on the quantized GGUF blocks directly.

use std::fmt;
use std::sync::Arc;

use burn::tensor::{Device, Tensor, TensorData};

use crate::quant::QuantMatrix;

/// A matrix multiplication kernel over weights kept in their own (usually quantized) format.
pub trait MatmulKernel: Send + Sync {
    /// Number of input features (columns of `W`).
    fn in_features(&self) -> usize;
    /// Number of output features (rows of `W`).
    fn out_features(&self) -> usize;
    /// Computes `y = x · Wᵀ` for `rows` row vectors: `x` is `rows × in`, `y` is `rows × out`.
    fn matmul(&self, x: &[f32], rows: usize, y: &mut [f32]);
    /// Bytes of weight memory this kernel keeps.
    fn weight_bytes(&self) -> usize;
    /// The GGUF block matrix behind the kernel, when there is one (lets callers quantize an
    /// input once for several matrices).
    fn quant_matrix(&self) -> Option<&QuantMatrix> {
        None
    }
}

/// The weight of a [`Linear`] layer.
#[derive(Clone)]
pub enum LinearWeight {
    /// A dense `in × out` f32 tensor (transposed GGUF layout, so `x.matmul(w)` is the layer).
    Dense(Tensor<2>),
    /// A kernel on the original (quantized) blocks.
    Kernel(Arc<dyn MatmulKernel>),
}

impl fmt::Debug for LinearWeight {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Dense(t) => write!(f, "Dense({:?})", t.dims()),
            Self::Kernel(k) => write!(f, "Kernel({}x{})", k.out_features(), k.in_features()),
        }
    }
}

/// Shape of a linear layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinearConfig {
    /// Input features.
    pub in_features: usize,
    /// Output features.
    pub out_features: usize,
}

/// A linear layer with an optional bias.
#[derive(Debug, Clone)]
pub struct Linear {
    config: LinearConfig,
    weight: LinearWeight,
    bias: Option<Tensor<1>>,
}

impl Linear {
    /// Builds the layer; the weight and bias shapes must match `config` (checked by the loader).
    pub fn new(config: LinearConfig, weight: LinearWeight, bias: Option<Tensor<1>>) -> Self {
        Self { config, weight, bias }
    }

    /// The layer's shape.
    pub fn config(&self) -> LinearConfig {
        self.config
    }

    /// Bytes of weight memory held by this layer.
    pub fn weight_bytes(&self) -> usize {
        match &self.weight {
            LinearWeight::Dense(t) => t.shape().num_elements() * 4,
            LinearWeight::Kernel(k) => k.weight_bytes(),
        }
    }

    /// The weight.
    pub fn weight(&self) -> &LinearWeight {
        &self.weight
    }

    /// The bias, if any.
    pub fn bias(&self) -> Option<&Tensor<1>> {
        self.bias.as_ref()
    }

    /// Applies the layer to `x` of shape `[rows, in_features]`, giving `[rows, out_features]`.
    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        let y = match &self.weight {
            LinearWeight::Dense(w) => x.matmul(w.clone()),
            LinearWeight::Kernel(kernel) => {
                let device = x.device();
                let [rows, _] = x.dims();
                let input = x.into_data();
                let input = input.as_slice::<f32>().expect("activations are f32");
                let mut out = vec![0.0f32; rows * self.config.out_features];
                kernel.matmul(input, rows, &mut out);
                from_vec(out, [rows, self.config.out_features], &device)
            }
        };
        match &self.bias {
            Some(b) => y + b.clone().unsqueeze::<2>(),
            None => y,
        }
    }
}

/// Makes a rank-`D` f32 tensor from host data.
pub fn from_vec<const D: usize>(data: Vec<f32>, shape: [usize; D], device: &Device) -> Tensor<D> {
    Tensor::from_data(TensorData::new(data, shape), device)
}
