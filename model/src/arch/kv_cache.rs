//! Key/value cache: the keys and values of every position seen so far, per layer, so that decoding
//! a new token only computes that token's keys and values.
//!
//! Each layer keeps `[1, kv_heads, capacity, head_dim]` tensors that grow geometrically; only the
//! first `len` positions are valid. Truncating (for prompt-prefix reuse) just lowers `len`. The
//! CPU forward pass ([`super::host`]) keeps plain `len × kv_heads·head_dim` buffers instead; a
//! cache is only ever filled by one of the two.

use burn::tensor::{Device, Tensor};

/// Shape of a [`KvCache`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KvCacheConfig {
    /// Number of layers.
    pub n_layers: usize,
    /// Key/value heads per layer.
    pub n_kv_heads: usize,
    /// Width of one head.
    pub head_dim: usize,
    /// Positions allocated up front (grows on demand).
    pub initial_capacity: usize,
}

impl KvCacheConfig {
    /// Creates an empty cache on `device`.
    pub fn init(&self, device: &Device) -> KvCache {
        KvCache {
            config: *self,
            layers: (0..self.n_layers).map(|_| LayerKvCache::default()).collect(),
            device: device.clone(),
        }
    }
}

/// The cached keys and values of one layer.
#[derive(Debug, Clone, Default)]
pub struct LayerKvCache {
    keys: Option<Tensor<4>>,
    values: Option<Tensor<4>>,
    len: usize,
    capacity: usize,
    /// CPU path: keys, one row of `kv_heads·head_dim` per position.
    host_keys: Vec<f32>,
    /// CPU path: values, laid out like `host_keys`.
    host_values: Vec<f32>,
}

impl LayerKvCache {
    /// Appends `keys`/`values` of shape `[1, kv_heads, seq, head_dim]` and returns all valid keys
    /// and values (`[1, kv_heads, len, head_dim]`) including the new ones.
    pub fn append(
        &mut self,
        keys: Tensor<4>,
        values: Tensor<4>,
        initial_capacity: usize,
    ) -> (Tensor<4>, Tensor<4>) {
        let [_, heads, seq, dim] = keys.dims();
        let needed = self.len + seq;
        if needed > self.capacity || self.keys.is_none() {
            let capacity = needed.max(self.capacity * 2).max(initial_capacity);
            let device = keys.device();
            let grow = |old: Option<Tensor<4>>| {
                let fresh = Tensor::<4>::zeros([1, heads, capacity, dim], &device);
                match old {
                    Some(old) if self.len > 0 => fresh.slice_assign(
                        [0..1, 0..heads, 0..self.len, 0..dim],
                        old.narrow(2, 0, self.len),
                    ),
                    _ => fresh,
                }
            };
            self.keys = Some(grow(self.keys.take()));
            self.values = Some(grow(self.values.take()));
            self.capacity = capacity;
        }
        let range = [0..1, 0..heads, self.len..needed, 0..dim];
        let k = self.keys.take().map(|k| k.slice_assign(range.clone(), keys));
        let v = self.values.take().map(|v| v.slice_assign(range, values));
        self.keys = k;
        self.values = v;
        self.len = needed;
        let k_all = self.keys.clone().map(|k| k.narrow(2, 0, needed));
        let v_all = self.values.clone().map(|v| v.narrow(2, 0, needed));
        (k_all.expect("allocated above"), v_all.expect("allocated above"))
    }

    /// CPU path: appends the rows of `keys` and `values` (`seq × width` each, `width` =
    /// kv_heads·head_dim) after the valid positions and returns every valid row of both.
    pub fn append_host(&mut self, keys: &[f32], values: &[f32], width: usize) -> (&[f32], &[f32]) {
        self.host_keys.truncate(self.len * width);
        self.host_values.truncate(self.len * width);
        self.host_keys.extend_from_slice(keys);
        self.host_values.extend_from_slice(values);
        self.len += keys.len() / width;
        (&self.host_keys, &self.host_values)
    }

    /// Number of valid positions.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when no position is cached.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// The key/value cache of a whole model.
#[derive(Debug, Clone)]
pub struct KvCache {
    config: KvCacheConfig,
    layers: Vec<LayerKvCache>,
    device: Device,
}

impl KvCache {
    /// Number of cached positions.
    pub fn len(&self) -> usize {
        self.layers.first().map_or(0, LayerKvCache::len)
    }

    /// True when nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Forgets every position from `len` on (keeps the allocation).
    pub fn truncate(&mut self, len: usize) {
        for layer in &mut self.layers {
            layer.len = layer.len.min(len);
        }
    }

    /// The cache of layer `index`.
    pub fn layer_mut(&mut self, index: usize) -> &mut LayerKvCache {
        &mut self.layers[index]
    }

    /// The configuration the cache was created with.
    pub fn config(&self) -> &KvCacheConfig {
        &self.config
    }

    /// The device the cache lives on.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// Bytes allocated for keys and values.
    pub fn allocated_bytes(&self) -> usize {
        let per_position = self.config.n_kv_heads * self.config.head_dim * 4 * 2;
        let host = |l: &LayerKvCache| (l.host_keys.capacity() + l.host_values.capacity()) * 4;
        self.layers.iter().map(|l| l.capacity * per_position + host(l)).sum()
    }
}
