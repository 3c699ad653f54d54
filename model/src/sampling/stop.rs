//! Stop strings over streamed text: text that might be the start of a stop string is held back
//! until it is known not to be one, so a stop string never reaches the caller.

/// Matches stop strings against text that arrives piece by piece.
#[derive(Debug, Clone, Default)]
pub struct StopMatcher {
    stops: Vec<String>,
    pending: String,
    stopped: bool,
}

/// What [`StopMatcher::push`] decided for a new piece of text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StopStep {
    /// Text that is safe to hand to the caller now.
    pub emit: String,
    /// True when a stop string was found: generation must end (the stop string is not emitted).
    pub stopped: bool,
}

impl StopMatcher {
    /// Creates a matcher for the given stop strings (empty strings are ignored).
    pub fn new(stops: impl IntoIterator<Item = String>) -> Self {
        let stops = stops.into_iter().filter(|s| !s.is_empty()).collect();
        Self { stops, pending: String::new(), stopped: false }
    }

    /// Adds generated text; returns what can be emitted and whether a stop string was hit.
    pub fn push(&mut self, piece: &str) -> StopStep {
        if self.stopped {
            return StopStep { emit: String::new(), stopped: true };
        }
        self.pending.push_str(piece);
        let first_hit = self.stops.iter().filter_map(|s| self.pending.find(s.as_str())).min();
        if let Some(at) = first_hit {
            let emit = self.pending[..at].to_string();
            self.pending.clear();
            self.stopped = true;
            return StopStep { emit, stopped: true };
        }
        let hold = self.held_back_len();
        let cut = self.pending.len() - hold;
        let emit = self.pending[..cut].to_string();
        self.pending.drain(..cut);
        StopStep { emit, stopped: false }
    }

    /// Ends the stream: returns text still held back (it was not a stop string after all).
    pub fn finish(&mut self) -> String {
        std::mem::take(&mut self.pending)
    }

    /// Length in bytes of the longest suffix of the pending text that starts some stop string.
    fn held_back_len(&self) -> usize {
        let mut best = 0;
        for stop in &self.stops {
            let max = stop.len().saturating_sub(1).min(self.pending.len());
            for len in (best + 1..=max).rev() {
                let start = self.pending.len() - len;
                if self.pending.is_char_boundary(start) && stop.starts_with(&self.pending[start..]) {
                    best = len;
                    break;
                }
            }
        }
        best
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(stops: &[&str], pieces: &[&str]) -> (String, bool) {
        let mut m = StopMatcher::new(stops.iter().map(|s| s.to_string()));
        let mut out = String::new();
        for p in pieces {
            let step = m.push(p);
            out.push_str(&step.emit);
            if step.stopped {
                return (out, true);
            }
        }
        out.push_str(&m.finish());
        (out, false)
    }

    #[test]
    fn no_stops_passes_everything_through() {
        assert_eq!(run(&[], &["ab", "c"]), ("abc".into(), false));
    }

    #[test]
    fn stop_split_across_pieces_is_never_emitted() {
        assert_eq!(run(&["\n\n"], &["def f():", "\n", "\nmore"]), ("def f():".into(), true));
        assert_eq!(run(&["```"], &["code`", "`", "` after"]), ("code".into(), true));
    }

    #[test]
    fn partial_match_that_fails_is_released() {
        let mut m = StopMatcher::new(["END".to_string()]);
        assert_eq!(m.push("xEN").emit, "x");
        assert_eq!(m.push("x").emit, "ENx");
        assert_eq!(m.finish(), "");
    }

    #[test]
    fn earliest_of_several_stops_wins_and_later_pushes_are_ignored() {
        let mut m = StopMatcher::new(["b".to_string(), "a".to_string()]);
        let step = m.push("xxabyy");
        assert_eq!(step, StopStep { emit: "xx".into(), stopped: true });
        assert!(m.push("more").stopped);
    }

    #[test]
    fn multibyte_text_is_held_on_char_boundaries() {
        // "é" is two bytes; the stop starts with it.
        assert_eq!(run(&["é!"], &["caf", "é", "?"]), ("café?".into(), false));
        assert_eq!(run(&["é!"], &["café", "!"]), ("caf".into(), true));
    }
}
