//! Token sampling: greedy, temperature, top-k, top-p, min-p and repetition penalty with a seeded
//! random generator (repeatable runs), plus stop-string matching for streamed text.
//!
//! The order of the filters follows llama.cpp's default sampler chain: repetition penalty, top-k,
//! top-p, min-p, temperature, then a draw from the remaining distribution. A temperature of zero
//! (or below) means greedy decoding: the highest logit after the repetition penalty wins.

mod stop;

pub use stop::StopMatcher;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Errors raised when sampling parameters are invalid.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum SamplingError {
    /// A parameter is outside its valid range.
    #[error("invalid sampling parameter {name}: {reason}")]
    InvalidParam {
        /// The parameter's name.
        name: &'static str,
        /// Why the value is rejected.
        reason: String,
    },
    /// The logits contain no finite value, so no token can be chosen.
    #[error("no finite logit to sample from")]
    NoFiniteLogit,
}

/// Parameters of the sampler chain.
#[derive(Debug, Clone, PartialEq)]
pub struct SamplingParams {
    /// Softmax temperature; `<= 0` selects greedy decoding.
    pub temperature: f32,
    /// Keep only the `k` most likely tokens (`0` disables the filter).
    pub top_k: usize,
    /// Keep the smallest set of tokens whose probabilities sum to at least `top_p` (`1.0` disables).
    pub top_p: f32,
    /// Drop tokens whose probability is below `min_p` times the best token's (`0.0` disables).
    pub min_p: f32,
    /// Divide positive logits (multiply negative ones) of recently seen tokens by this (`1.0` disables).
    pub repetition_penalty: f32,
    /// How many of the most recent tokens the repetition penalty looks at.
    pub repeat_last_n: usize,
    /// Seed of the random generator: the same seed, prompt and parameters give the same output.
    pub seed: u64,
}

impl Default for SamplingParams {
    fn default() -> Self {
        Self {
            temperature: 0.0,
            top_k: 40,
            top_p: 0.95,
            min_p: 0.05,
            repetition_penalty: 1.0,
            repeat_last_n: 64,
            seed: 0,
        }
    }
}

impl SamplingParams {
    /// Greedy decoding (always the most likely token), no penalties.
    pub fn greedy() -> Self {
        Self { temperature: 0.0, ..Self::default() }
    }

    /// Checks that every parameter is in its valid range.
    pub fn validate(&self) -> Result<(), SamplingError> {
        let bad = |name, reason: &str| {
            Err(SamplingError::InvalidParam { name, reason: reason.to_string() })
        };
        if !self.temperature.is_finite() {
            return bad("temperature", "must be a finite number");
        }
        if !(self.top_p > 0.0 && self.top_p <= 1.0) {
            return bad("top_p", "must be in (0, 1]");
        }
        if !(0.0..=1.0).contains(&self.min_p) {
            return bad("min_p", "must be in [0, 1]");
        }
        if !(self.repetition_penalty.is_finite() && self.repetition_penalty > 0.0) {
            return bad("repetition_penalty", "must be a positive finite number");
        }
        Ok(())
    }
}

/// A stateful sampler: owns the seeded random generator so that a run is repeatable.
#[derive(Debug, Clone)]
pub struct Sampler {
    params: SamplingParams,
    rng: StdRng,
    scratch: Vec<(u32, f32)>,
}

impl Sampler {
    /// Creates a sampler after validating its parameters.
    pub fn new(params: SamplingParams) -> Result<Self, SamplingError> {
        params.validate()?;
        let rng = StdRng::seed_from_u64(params.seed);
        Ok(Self { params, rng, scratch: Vec::new() })
    }

    /// The parameters this sampler was created with.
    pub fn params(&self) -> &SamplingParams {
        &self.params
    }

    /// Picks the next token from `logits` (modified in place by the repetition penalty), given the
    /// tokens seen so far in `history` (prompt and generated).
    pub fn sample(&mut self, logits: &mut [f32], history: &[u32]) -> Result<u32, SamplingError> {
        self.apply_repetition_penalty(logits, history);
        if self.params.temperature <= 0.0 {
            return argmax(logits).ok_or(SamplingError::NoFiniteLogit);
        }
        let candidates = &mut self.scratch;
        candidates.clear();
        candidates.extend(
            logits
                .iter()
                .enumerate()
                .filter(|(_, l)| l.is_finite())
                .map(|(i, &l)| (i as u32, l)),
        );
        if candidates.is_empty() {
            return Err(SamplingError::NoFiniteLogit);
        }
        candidates.sort_unstable_by(|a, b| b.1.total_cmp(&a.1));
        if self.params.top_k > 0 && self.params.top_k < candidates.len() {
            candidates.truncate(self.params.top_k);
        }
        softmax_in_place(candidates, 1.0);
        if self.params.top_p < 1.0 {
            let mut cumulative = 0.0f32;
            let mut keep = candidates.len();
            for (i, &(_, p)) in candidates.iter().enumerate() {
                cumulative += p;
                if cumulative >= self.params.top_p {
                    keep = i + 1;
                    break;
                }
            }
            candidates.truncate(keep.max(1));
        }
        if self.params.min_p > 0.0 {
            let threshold = candidates[0].1 * self.params.min_p;
            let keep = candidates.iter().take_while(|c| c.1 >= threshold).count();
            candidates.truncate(keep.max(1));
        }
        // Back to logits of the survivors, then temperature and a fresh softmax.
        for c in candidates.iter_mut() {
            c.1 = logits[c.0 as usize];
        }
        softmax_in_place(candidates, self.params.temperature);
        let draw: f32 = self.rng.random();
        let mut cumulative = 0.0f32;
        for &(id, p) in candidates.iter() {
            cumulative += p;
            if draw < cumulative {
                return Ok(id);
            }
        }
        Ok(candidates[candidates.len() - 1].0)
    }

    fn apply_repetition_penalty(&self, logits: &mut [f32], history: &[u32]) {
        let penalty = self.params.repetition_penalty;
        if penalty == 1.0 || self.params.repeat_last_n == 0 {
            return;
        }
        let start = history.len().saturating_sub(self.params.repeat_last_n);
        let mut seen: Vec<u32> = history[start..].to_vec();
        seen.sort_unstable();
        seen.dedup();
        for id in seen {
            if let Some(l) = logits.get_mut(id as usize) {
                *l = if *l > 0.0 { *l / penalty } else { *l * penalty };
            }
        }
    }
}

/// The index of the largest finite logit (the first one on ties), or `None` when none is finite.
pub fn argmax(logits: &[f32]) -> Option<u32> {
    let mut best: Option<(usize, f32)> = None;
    for (i, &l) in logits.iter().enumerate() {
        if l.is_finite() && best.is_none_or(|(_, b)| l > b) {
            best = Some((i, l));
        }
    }
    best.map(|(i, _)| i as u32)
}

fn softmax_in_place(candidates: &mut [(u32, f32)], temperature: f32) {
    let max = candidates.iter().map(|c| c.1).fold(f32::NEG_INFINITY, f32::max);
    let mut sum = 0.0f32;
    for c in candidates.iter_mut() {
        c.1 = ((c.1 - max) / temperature).exp();
        sum += c.1;
    }
    for c in candidates.iter_mut() {
        c.1 /= sum;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(temperature: f32) -> SamplingParams {
        SamplingParams {
            temperature,
            top_k: 0,
            top_p: 1.0,
            min_p: 0.0,
            repetition_penalty: 1.0,
            repeat_last_n: 64,
            seed: 7,
        }
    }

    #[test]
    fn greedy_picks_the_largest_logit() {
        let mut s = Sampler::new(SamplingParams::greedy()).unwrap();
        let mut logits = vec![0.1, 3.0, -1.0, 2.9];
        assert_eq!(s.sample(&mut logits, &[]).unwrap(), 1);
    }

    #[test]
    fn greedy_skips_nan_and_fails_on_all_non_finite() {
        let mut s = Sampler::new(SamplingParams::greedy()).unwrap();
        let mut logits = vec![f32::NAN, 1.0, f32::NAN];
        assert_eq!(s.sample(&mut logits, &[]).unwrap(), 1);
        let mut logits = vec![f32::NAN, f32::NEG_INFINITY];
        assert_eq!(s.sample(&mut logits, &[]), Err(SamplingError::NoFiniteLogit));
        let mut empty: Vec<f32> = Vec::new();
        assert_eq!(s.sample(&mut empty, &[]), Err(SamplingError::NoFiniteLogit));
        let mut s = Sampler::new(params(0.8)).unwrap();
        let mut logits = vec![f32::NAN, f32::NAN];
        assert_eq!(s.sample(&mut logits, &[]), Err(SamplingError::NoFiniteLogit));
    }

    #[test]
    fn repetition_penalty_changes_the_greedy_choice() {
        let mut p = SamplingParams::greedy();
        p.repetition_penalty = 2.0;
        let mut s = Sampler::new(p).unwrap();
        let mut logits = vec![1.0, 3.0, 2.0];
        // Token 1 was seen: 3.0 / 2 = 1.5 < 2.0.
        assert_eq!(s.sample(&mut logits, &[1]).unwrap(), 2);
        // Negative logits get more negative.
        let mut logits = vec![-1.0, -0.5];
        s.sample(&mut logits, &[1]).unwrap();
        assert_eq!(logits[1], -1.0);
    }

    #[test]
    fn same_seed_same_draws_and_different_seed_differs() {
        let logits: Vec<f32> = (0..50).map(|i| (i % 7) as f32 * 0.3).collect();
        let run = |seed| {
            let mut p = params(1.0);
            p.seed = seed;
            let mut s = Sampler::new(p).unwrap();
            (0..40).map(|_| s.sample(&mut logits.clone(), &[]).unwrap()).collect::<Vec<_>>()
        };
        assert_eq!(run(1), run(1));
        assert_ne!(run(1), run(2));
    }

    #[test]
    fn top_k_one_is_greedy() {
        let mut p = params(5.0);
        p.top_k = 1;
        let mut s = Sampler::new(p).unwrap();
        for _ in 0..20 {
            assert_eq!(s.sample(&mut vec![0.0, 0.5, 0.4], &[]).unwrap(), 1);
        }
    }

    #[test]
    fn top_p_and_min_p_remove_the_tail() {
        // Probabilities after softmax: token 0 dominates, tokens 1..=3 are tiny.
        let logits = vec![10.0, 0.0, 0.0, 0.0];
        let mut p = params(1.0);
        p.top_p = 0.5;
        let mut s = Sampler::new(p).unwrap();
        for _ in 0..50 {
            assert_eq!(s.sample(&mut logits.clone(), &[]).unwrap(), 0);
        }
        let mut p = params(1.0);
        p.min_p = 0.01;
        let mut s = Sampler::new(p).unwrap();
        for _ in 0..50 {
            assert_eq!(s.sample(&mut logits.clone(), &[]).unwrap(), 0);
        }
    }

    #[test]
    fn temperature_sampling_follows_the_distribution() {
        // Two equal logits: both must appear in 200 draws.
        let mut s = Sampler::new(params(1.0)).unwrap();
        let mut counts = [0usize; 2];
        for _ in 0..200 {
            counts[s.sample(&mut vec![1.0, 1.0], &[]).unwrap() as usize] += 1;
        }
        assert!(counts[0] > 50 && counts[1] > 50, "{counts:?}");
    }

    #[test]
    fn invalid_params_are_rejected() {
        for (p, name) in [
            (SamplingParams { top_p: 0.0, ..params(1.0) }, "top_p"),
            (SamplingParams { top_p: 1.5, ..params(1.0) }, "top_p"),
            (SamplingParams { min_p: -0.1, ..params(1.0) }, "min_p"),
            (SamplingParams { repetition_penalty: 0.0, ..params(1.0) }, "repetition_penalty"),
            (SamplingParams { temperature: f32::NAN, ..params(1.0) }, "temperature"),
        ] {
            match Sampler::new(p) {
                Err(SamplingError::InvalidParam { name: n, .. }) => assert_eq!(n, name),
                other => panic!("expected an error for {name}, got {other:?}"),
            }
        }
    }
}
