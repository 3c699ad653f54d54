//! The distillation data set: one JSON object per line, each a teacher sample that passed its
//! task's tests in the executor and stayed inside the on-device subset.
//!
//! | field | meaning |
//! |---|---|
//! | `task_id` | the seed task it answers |
//! | `lang` | `python` or `javascript` |
//! | `teacher` | the teacher model's id and file sha256 |
//! | `sample` | which of the task's samples (0-based) |
//! | `prompt` | the chat prompt as rendered with the template |
//! | `response` | the teacher's answer (text) |
//! | `tokens` | prompt and response tokens (the base model's tokenizer) |
//! | `response_start` | index in `tokens` of the first response token |
//! | `top_k` | per response token, the teacher's `k` most likely next tokens with their logits (temperature 1), the distribution token-level distillation learns from |
//!
//! Rejected samples are not part of the set; `edgecoder distill data` writes them with their
//! reason beside it (`rejected.jsonl`) and counts them in the data card.

use std::io::{BufRead, BufReader};
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::DistillError;

/// One verified teacher sample.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DistillSample {
    /// The seed task it answers.
    pub task_id: String,
    /// `python` or `javascript`.
    pub lang: String,
    /// The teacher (model id and file sha256).
    pub teacher: String,
    /// Which of the task's samples it is.
    pub sample: usize,
    /// The rendered chat prompt.
    pub prompt: String,
    /// The teacher's answer.
    pub response: String,
    /// Prompt and response tokens.
    pub tokens: Vec<u32>,
    /// Index of the first response token in `tokens`.
    pub response_start: usize,
    /// The teacher's top tokens for each response token (`tokens.len() - response_start`
    /// entries; entry `i` is the distribution that predicted `tokens[response_start + i]`).
    pub top_k: Vec<TeacherTopK>,
}

/// The teacher's most likely next tokens at one position.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TeacherTopK {
    /// Token ids, most likely first.
    pub ids: Vec<u32>,
    /// Their logits at temperature 1.
    pub logits: Vec<f32>,
}

impl DistillSample {
    /// Checks the sample's internal consistency against a vocabulary of `vocab` tokens.
    pub fn validate(&self, vocab: usize) -> Result<(), String> {
        if self.response_start == 0 || self.response_start >= self.tokens.len() {
            return Err(format!("response_start {} outside 1..{}", self.response_start, self.tokens.len()));
        }
        if self.top_k.len() != self.tokens.len() - self.response_start {
            return Err(format!(
                "{} top_k entries for {} response tokens",
                self.top_k.len(),
                self.tokens.len() - self.response_start
            ));
        }
        if let Some(t) = self.tokens.iter().find(|&&t| t as usize >= vocab) {
            return Err(format!("token {t} outside the vocabulary of {vocab}"));
        }
        for (i, k) in self.top_k.iter().enumerate() {
            if k.ids.is_empty() || k.ids.len() != k.logits.len() {
                return Err(format!("top_k[{i}] has {} ids and {} logits", k.ids.len(), k.logits.len()));
            }
            if k.ids.iter().any(|&t| t as usize >= vocab) || k.logits.iter().any(|l| !l.is_finite()) {
                return Err(format!("top_k[{i}] holds a token outside the vocabulary or a non-finite logit"));
            }
        }
        Ok(())
    }
}

/// Reads a data set, checking every line against a vocabulary of `vocab` tokens.
pub fn read_samples(path: &Path, vocab: usize) -> Result<Vec<DistillSample>, DistillError> {
    let file = std::fs::File::open(path).map_err(DistillError::io("cannot open", path))?;
    let mut samples = Vec::new();
    for (n, line) in BufReader::new(file).lines().enumerate() {
        let line = line.map_err(DistillError::io("cannot read", path))?;
        if line.trim().is_empty() {
            continue;
        }
        let at = || format!("{} line {}", path.display(), n + 1);
        let sample: DistillSample =
            serde_json::from_str(&line).map_err(|e| DistillError::Data(format!("{}: {e}", at())))?;
        sample.validate(vocab).map_err(|why| DistillError::Data(format!("{}: {why}", at())))?;
        samples.push(sample);
    }
    if samples.is_empty() {
        return Err(DistillError::Data(format!(
            "{} holds no samples: run `edgecoder distill data` with more prompts or samples per prompt",
            path.display()
        )));
    }
    Ok(samples)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> DistillSample {
        DistillSample {
            task_id: "t".into(),
            lang: "python".into(),
            teacher: "m".into(),
            sample: 0,
            prompt: "p".into(),
            response: "r".into(),
            tokens: vec![1, 2, 3, 4],
            response_start: 2,
            top_k: vec![
                TeacherTopK { ids: vec![3, 9], logits: vec![2.0, 1.0] },
                TeacherTopK { ids: vec![4, 9], logits: vec![2.0, 1.0] },
            ],
        }
    }

    #[test]
    fn inconsistent_samples_are_refused_with_the_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("d.jsonl");
        let good = serde_json::to_string(&sample()).unwrap();
        let mut short = sample();
        short.top_k.pop();
        let mut outside = sample();
        outside.tokens[0] = 99;
        for (bad, why) in [
            (serde_json::to_string(&short).unwrap(), "1 top_k entries for 2"),
            (serde_json::to_string(&outside).unwrap(), "outside the vocabulary"),
            ("{\"task_id\": 1}".to_owned(), "line 2"),
        ] {
            std::fs::write(&path, format!("{good}\n{bad}\n")).unwrap();
            let err = read_samples(&path, 10).unwrap_err().to_string();
            assert!(err.contains(why) && err.contains("line 2"), "{err}");
        }
        std::fs::write(&path, format!("{good}\n\n{good}\n")).unwrap();
        assert_eq!(read_samples(&path, 10).unwrap().len(), 2);
        std::fs::write(&path, "\n").unwrap();
        assert!(read_samples(&path, 10).unwrap_err().to_string().contains("no samples"));
    }
}
