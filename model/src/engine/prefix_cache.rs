//! Prompt-prefix reuse: KV caches of earlier sequences, kept so that a new prompt sharing a
//! prefix with one of them (an agent's next iteration, a chat's next turn) only prefills the
//! tokens after the shared prefix. Memory is bounded; the least recently used entry goes first.

use crate::arch::KvCache;

/// Bounds of a [`PrefixCache`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PrefixCacheConfig {
    /// Most bytes of KV memory kept across all entries.
    pub max_bytes: usize,
    /// Most entries kept.
    pub max_entries: usize,
}

impl Default for PrefixCacheConfig {
    fn default() -> Self {
        Self { max_bytes: 256 << 20, max_entries: 8 }
    }
}

#[derive(Debug)]
struct Entry {
    tokens: Vec<u32>,
    cache: KvCache,
    last_used: u64,
}

/// A reusable KV cache taken out of the [`PrefixCache`].
#[derive(Debug)]
pub struct Reuse {
    /// The cache, truncated to `reused` positions.
    pub cache: KvCache,
    /// How many leading prompt tokens it already holds.
    pub reused: usize,
}

/// LRU store of KV caches keyed by the token sequences they hold.
#[derive(Debug, Default)]
pub struct PrefixCache {
    config: PrefixCacheConfig,
    entries: Vec<Entry>,
    clock: u64,
}

impl PrefixCache {
    /// An empty store with the given bounds.
    pub fn new(config: PrefixCacheConfig) -> Self {
        Self { config, entries: Vec::new(), clock: 0 }
    }

    /// Takes the entry sharing the longest prefix with `prompt`, truncated to the shared part and
    /// to at most `prompt.len() - 1` positions (the last prompt token must run to give logits).
    /// Returns `None` when no entry shares at least one token.
    pub fn take(&mut self, prompt: &[u32]) -> Option<Reuse> {
        let limit = prompt.len().saturating_sub(1);
        let (index, common) = self
            .entries
            .iter()
            .enumerate()
            .map(|(i, e)| (i, common_prefix(&e.tokens, prompt).min(limit)))
            .max_by_key(|&(i, common)| (common, self.entries[i].last_used))?;
        if common == 0 {
            return None;
        }
        let mut entry = self.entries.swap_remove(index);
        entry.cache.truncate(common);
        Some(Reuse { cache: entry.cache, reused: common })
    }

    /// Keeps `cache`, which holds the keys and values of `tokens`, evicting least recently used
    /// entries to stay within bounds. A cache larger than the whole budget is dropped.
    pub fn put(&mut self, tokens: Vec<u32>, cache: KvCache) {
        if tokens.is_empty() || cache.allocated_bytes() > self.config.max_bytes {
            return;
        }
        self.clock += 1;
        // An entry whose tokens are a prefix of the new one is now redundant.
        self.entries.retain(|e| common_prefix(&e.tokens, &tokens) < e.tokens.len());
        self.entries.push(Entry { tokens, cache, last_used: self.clock });
        while self.entries.len() > self.config.max_entries || self.bytes() > self.config.max_bytes {
            let oldest = self
                .entries
                .iter()
                .enumerate()
                .min_by_key(|(_, e)| e.last_used)
                .map(|(i, _)| i)
                .expect("the loop only runs while there are entries");
            self.entries.swap_remove(oldest);
        }
    }

    /// Bytes of KV memory held.
    pub fn bytes(&self) -> usize {
        self.entries.iter().map(|e| e.cache.allocated_bytes()).sum()
    }

    /// Number of entries held.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when nothing is held.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Drops every entry.
    pub fn clear(&mut self) {
        self.entries.clear();
    }
}

fn common_prefix(a: &[u32], b: &[u32]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arch::kv_cache::KvCacheConfig;
    use burn::tensor::{Device, Tensor};

    fn cache_with(len: usize) -> KvCache {
        let device = Device::flex();
        let mut cache = KvCacheConfig { n_layers: 2, n_kv_heads: 1, head_dim: 4, initial_capacity: 8 }
            .init(&device);
        for layer in 0..2 {
            let t = Tensor::<4>::ones([1, 1, len, 4], &device);
            cache.layer_mut(layer).append(t.clone(), t, 8);
        }
        cache
    }

    #[test]
    fn longest_prefix_wins_and_is_truncated() {
        let mut store = PrefixCache::new(PrefixCacheConfig::default());
        store.put(vec![1, 2, 3], cache_with(3));
        store.put(vec![1, 2, 9, 9, 9], cache_with(5));
        let reuse = store.take(&[1, 2, 9, 9, 4, 5]).unwrap();
        assert_eq!(reuse.reused, 4);
        assert_eq!(reuse.cache.len(), 4);
        assert_eq!(store.len(), 1);
    }

    #[test]
    fn identical_prompt_keeps_one_token_to_run() {
        let mut store = PrefixCache::new(PrefixCacheConfig::default());
        store.put(vec![5, 6, 7], cache_with(3));
        let reuse = store.take(&[5, 6, 7]).unwrap();
        assert_eq!(reuse.reused, 2);
        assert!(store.take(&[8]).is_none());
    }

    #[test]
    fn no_shared_prefix_gives_nothing() {
        let mut store = PrefixCache::new(PrefixCacheConfig::default());
        store.put(vec![1, 2], cache_with(2));
        assert!(store.take(&[3, 4]).is_none());
        assert_eq!(store.len(), 1);
    }

    #[test]
    fn lru_eviction_by_count_and_bytes() {
        let mut store = PrefixCache::new(PrefixCacheConfig { max_bytes: usize::MAX, max_entries: 2 });
        store.put(vec![1], cache_with(1));
        store.put(vec![2], cache_with(1));
        store.put(vec![3], cache_with(1));
        assert_eq!(store.len(), 2);
        assert!(store.take(&[1, 0]).is_none(), "the oldest entry was evicted");
        let one = cache_with(1).allocated_bytes();
        let mut store = PrefixCache::new(PrefixCacheConfig { max_bytes: one * 2, max_entries: 10 });
        for t in 0..5 {
            store.put(vec![t], cache_with(1));
        }
        assert!(store.bytes() <= one * 2);
        assert_eq!(store.len(), 2);
        let mut store = PrefixCache::new(PrefixCacheConfig { max_bytes: one - 1, max_entries: 10 });
        store.put(vec![1], cache_with(1));
        assert!(store.is_empty(), "an entry over the whole budget is not kept");
    }

    #[test]
    fn superseded_prefix_entry_is_replaced() {
        let mut store = PrefixCache::new(PrefixCacheConfig::default());
        store.put(vec![1, 2], cache_with(2));
        store.put(vec![1, 2, 3], cache_with(3));
        assert_eq!(store.len(), 1);
    }
}
