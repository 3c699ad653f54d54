//! The training loop: batches of verified samples, the distillation loss, AdamW with warm-up
//! and cosine decay, a loss log (`loss.csv`) and resumable checkpoints.
//!
//! The loss on each response token is `kd_weight · T² · KL(teacherᵀ ‖ studentᵀ)` over the
//! teacher's top-k tokens (both distributions softened by the temperature `T`, the teacher's
//! renormalised over its top k) plus `(1 - kd_weight) · CE` of the token the teacher wrote.
//! Prompt tokens carry no loss: the student learns to answer, not to write prompts.

use std::fs;
use std::io::Write;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::module::Module;
use burn::optim::{AdamWConfig, GradientsParams, ModuleOptimizer};
use burn::tensor::activation::log_softmax;
use burn::tensor::{Device, Int, Tensor, TensorData};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};

use super::DistillError;
use super::config::DistillConfig;
use super::data::DistillSample;
use super::student::Student;

/// One step's figures, as logged to `loss.csv`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepLog {
    /// Step number (1-based).
    pub step: usize,
    /// The combined loss.
    pub loss: f32,
    /// The distillation term: KL divergence over the teacher's top k at temperature T (per
    /// response token).
    pub kd: f32,
    /// Cross-entropy of the teacher's tokens (per response token).
    pub ce: f32,
    /// Learning rate of the step.
    pub lr: f64,
    /// Response tokens in the batch.
    pub tokens: usize,
    /// Seconds the step took.
    pub seconds: f64,
}

/// What a finished run reports.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrainSummary {
    /// Samples used.
    pub samples: usize,
    /// Samples skipped for being longer than `train.max_seq`.
    pub skipped_long: usize,
    /// Student parameters.
    pub parameters: usize,
    /// Step the run resumed from (0: a fresh start).
    pub resumed_from: usize,
    /// Whether the run was stopped before `train.steps` (its checkpoint resumes it).
    pub stopped: bool,
    /// Every step's figures (this run's and, when resumed, the earlier ones from the log).
    pub steps: Vec<StepLog>,
    /// Response tokens trained per second over this run's steps.
    pub tokens_per_s: f64,
    /// The final checkpoint directory.
    pub checkpoint: PathBuf,
}

/// Where a checkpoint keeps what it needs to resume.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct CheckpointState {
    step: usize,
    config: DistillConfig,
    vocab: usize,
}

/// The checkpoint directory inside a run's output directory.
pub fn checkpoint_dir(out: &Path) -> PathBuf {
    out.join("checkpoint")
}

/// A trained (or resumed) student with the configuration it was trained with.
pub struct Checkpoint {
    /// The student.
    pub student: Student,
    /// Its configuration.
    pub config: DistillConfig,
    /// Steps trained.
    pub step: usize,
}

/// Loads the student of a checkpoint directory onto `device` (for export or evaluation).
pub fn load_checkpoint(dir: &Path, device: &Device) -> Result<Checkpoint, DistillError> {
    let (state, student) = read_checkpoint(dir, device)?;
    Ok(Checkpoint { student, config: state.config, step: state.step })
}

fn read_checkpoint(dir: &Path, device: &Device) -> Result<(CheckpointState, Student), DistillError> {
    let fail = |why: String| DistillError::Checkpoint { path: dir.display().to_string(), why };
    let text = fs::read_to_string(dir.join("state.json"))
        .map_err(|e| fail(format!("no state.json ({e}): is this a `edgecoder distill train` output's checkpoint directory?")))?;
    let state: CheckpointState = serde_json::from_str(&text).map_err(|e| fail(format!("state.json: {e}")))?;
    let student = Student::new(&state.config.student, state.vocab, device)
        .try_load_file(dir.join("student.bpk"))
        .map_err(|e| fail(format!("student.bpk: {e}")))?;
    Ok((state, student))
}

fn write_checkpoint(
    dir: &Path,
    state: &CheckpointState,
    student: &Student,
    optimizer: &ModuleOptimizer,
) -> Result<(), DistillError> {
    let fail = |why: String| DistillError::Checkpoint { path: dir.display().to_string(), why };
    // Written beside the old one and swapped in, so a crash leaves the previous checkpoint.
    let parent = dir.parent().unwrap_or(Path::new("."));
    let staging = parent.join(".checkpoint.partial");
    let _ = fs::remove_dir_all(&staging);
    fs::create_dir_all(&staging).map_err(DistillError::io("cannot create", &staging))?;
    student.clone().save_file(staging.join("student.bpk")).map_err(|e| fail(format!("student.bpk: {e}")))?;
    optimizer.save(staging.join("optimizer.bpk")).map_err(|e| fail(format!("optimizer.bpk: {e}")))?;
    let json = serde_json::to_string_pretty(state).map_err(|e| fail(e.to_string()))?;
    fs::write(staging.join("state.json"), json).map_err(DistillError::io("cannot write", &staging))?;
    let old = parent.join(".checkpoint.old");
    let _ = fs::remove_dir_all(&old);
    if dir.exists() {
        fs::rename(dir, &old).map_err(DistillError::io("cannot move", dir))?;
    }
    fs::rename(&staging, dir).map_err(DistillError::io("cannot move", &staging))?;
    let _ = fs::remove_dir_all(&old);
    Ok(())
}

/// The learning rate of step `step` (0-based): linear warm-up, then cosine decay to a tenth.
pub fn learning_rate(config: &DistillConfig, step: usize) -> f64 {
    let t = &config.train;
    let peak = t.learning_rate;
    if step < t.warmup_steps {
        return peak * (step + 1) as f64 / t.warmup_steps as f64;
    }
    let span = (t.steps - t.warmup_steps.min(t.steps)).max(1) as f64;
    let progress = ((step - t.warmup_steps) as f64 / span).min(1.0);
    peak * (0.1 + 0.9 * 0.5 * (1.0 + (std::f64::consts::PI * progress).cos()))
}

/// The samples of step `step` (0-based): a fresh seeded shuffle of all samples per epoch, so a
/// resumed run sees the same batches as an uninterrupted one.
fn batch_indices(n: usize, batch: usize, seed: u64, step: usize) -> Vec<usize> {
    (0..batch)
        .map(|j| {
            let g = step * batch + j;
            let epoch = g / n;
            let mut order: Vec<usize> = (0..n).collect();
            order.shuffle(&mut rand::rngs::StdRng::seed_from_u64(seed ^ (epoch as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)));
            order[g % n]
        })
        .collect()
}

/// The tensors of one batch, right-padded to its longest sample.
struct Batch {
    tokens: Tensor<2, Int>,
    targets: Tensor<3, Int>,
    target_mask: Tensor<2>,
    top_ids: Tensor<3, Int>,
    top_probs: Tensor<3>,
    teacher_entropy: f32,
    count: usize,
}

fn make_batch(samples: &[&DistillSample], temperature: f32, device: &Device) -> Batch {
    let seq = samples.iter().map(|s| s.tokens.len() - 1).max().unwrap_or(1);
    let k = samples.iter().flat_map(|s| s.top_k.iter().map(|t| t.ids.len())).max().unwrap_or(1);
    let b = samples.len();
    let mut tokens = vec![0i64; b * seq];
    let mut targets = vec![0i64; b * seq];
    let mut mask = vec![0f32; b * seq];
    let mut ids = vec![0i64; b * seq * k];
    let mut probs = vec![0f32; b * seq * k];
    let mut entropy = 0f64;
    let mut count = 0;
    for (i, s) in samples.iter().enumerate() {
        for p in 0..s.tokens.len() - 1 {
            tokens[i * seq + p] = i64::from(s.tokens[p]);
            targets[i * seq + p] = i64::from(s.tokens[p + 1]);
            // Position p predicts token p + 1: it carries loss when that token is a response token.
            let Some(top) = (p + 1).checked_sub(s.response_start).and_then(|r| s.top_k.get(r)) else { continue };
            mask[i * seq + p] = 1.0;
            count += 1;
            let max = top.logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            let weights: Vec<f64> = top.logits.iter().map(|&l| f64::from((l - max) / temperature).exp()).collect();
            let total: f64 = weights.iter().sum();
            for (j, (&id, w)) in top.ids.iter().zip(&weights).enumerate() {
                let pr = w / total;
                ids[(i * seq + p) * k + j] = i64::from(id);
                probs[(i * seq + p) * k + j] = pr as f32;
                if pr > 0.0 {
                    entropy -= pr * pr.ln();
                }
            }
        }
    }
    let int = |v: Vec<i64>, shape: Vec<usize>| Tensor::<3, Int>::from_data(TensorData::new(v, shape), device);
    Batch {
        tokens: Tensor::<2, Int>::from_data(TensorData::new(tokens, [b, seq]), device),
        targets: int(targets, vec![b, seq, 1]),
        target_mask: Tensor::<2>::from_data(TensorData::new(mask, [b, seq]), device),
        top_ids: int(ids, vec![b, seq, k]),
        top_probs: Tensor::<3>::from_data(TensorData::new(probs, [b, seq, k]), device),
        teacher_entropy: (entropy / count.max(1) as f64) as f32,
        count,
    }
}

/// The loss of one batch: (combined, kd, ce) with `combined` carrying the graph.
fn loss(student: &Student, batch: &Batch, config: &DistillConfig) -> (Tensor<1>, f32, f32) {
    let t = &config.train;
    let logits = student.forward(batch.tokens.clone());
    let count = batch.count.max(1) as f32;
    let mask = batch.target_mask.clone();
    let log_probs = log_softmax(logits.clone(), 2);
    let picked: Tensor<2> = log_probs.gather(2, batch.targets.clone()).squeeze_dim(2);
    let ce = (picked * mask.clone()).sum().neg().div_scalar(count);
    let soft = if t.temperature == 1.0 { log_softmax(logits, 2) } else { log_softmax(logits.div_scalar(t.temperature), 2) };
    let cross: Tensor<2> = (soft.gather(2, batch.top_ids.clone()) * batch.top_probs.clone()).sum_dim(2).squeeze_dim(2);
    // Σ p·log p of the teacher (its entropy, a constant) turns the cross-entropy into the KL.
    let kd = (cross * mask).sum().neg().div_scalar(count).sub_scalar(batch.teacher_entropy);
    let kd_scaled = kd.clone().mul_scalar(t.temperature * t.temperature);
    let combined = kd_scaled.mul_scalar(t.kd_weight) + ce.clone().mul_scalar(1.0 - t.kd_weight);
    let scalar = |x: Tensor<1>| x.into_data().try_to_vec::<f32>().ok().and_then(|v| v.first().copied()).unwrap_or(f32::NAN);
    let (kd_value, ce_value) = (scalar(kd.detach()), scalar(ce.detach()));
    (combined, kd_value, ce_value)
}

/// Trains a student on `samples` into `out` (checkpoint, `loss.csv`), resuming from the
/// checkpoint there when `resume` is set and one exists. `device` must be an autodiff
/// device. `on_step` sees every step as it finishes; when it answers `Break` the run writes a
/// checkpoint and stops there (a later run with `resume` goes on from it).
pub fn train(
    config: &DistillConfig,
    init: Option<&crate::gguf::GgufFile>,
    vocab: usize,
    samples: &[DistillSample],
    out: &Path,
    resume: bool,
    device: &Device,
    on_step: &mut dyn FnMut(&StepLog) -> ControlFlow<()>,
) -> Result<TrainSummary, DistillError> {
    config.validate()?;
    fs::create_dir_all(out).map_err(DistillError::io("cannot create", out))?;
    let usable: Vec<&DistillSample> = samples.iter().filter(|s| s.tokens.len() <= config.train.max_seq).collect();
    let skipped_long = samples.len() - usable.len();
    if usable.is_empty() {
        return Err(DistillError::Data(format!(
            "all {} samples are longer than train.max_seq = {}: raise it",
            samples.len(),
            config.train.max_seq
        )));
    }
    let ckpt = checkpoint_dir(out);
    let log_path = out.join("loss.csv");
    let mut optimizer = AdamWConfig::new().with_weight_decay(config.train.weight_decay).init();
    let (mut student, start, mut history) = if resume && ckpt.join("state.json").is_file() {
        let (state, student) = read_checkpoint(&ckpt, device)?;
        if state.config != *config || state.vocab != vocab {
            return Err(DistillError::Checkpoint {
                path: ckpt.display().to_string(),
                why: "it was trained with another configuration: resume with the same config, or start afresh without --resume".into(),
            });
        }
        optimizer = optimizer.load(ckpt.join("optimizer.bpk")).map_err(|e| DistillError::Checkpoint {
            path: ckpt.display().to_string(),
            why: format!("optimizer.bpk: {e}"),
        })?;
        let history = read_log(&log_path)?.into_iter().filter(|l| l.step <= state.step).collect();
        (student, state.step, history)
    } else {
        device.seed(config.train.seed);
        let student = match init {
            Some(file) => Student::from_gguf(&config.student, file, device)?,
            None => Student::new(&config.student, vocab, device),
        };
        if student.vocab() != vocab {
            return Err(DistillError::Config(format!(
                "the initial weights have a vocabulary of {} but the base model's tokenizer has {vocab}",
                student.vocab()
            )));
        }
        (student, 0, Vec::new())
    };
    write_log(&log_path, &history)?;
    let parameters = student.parameters();
    let began = Instant::now();
    let mut trained_tokens = 0usize;
    let mut stopped = false;
    for step in start..config.train.steps {
        let clock = Instant::now();
        let picked: Vec<&DistillSample> = batch_indices(usable.len(), config.train.batch_size, config.train.seed, step)
            .into_iter()
            .map(|i| usable[i])
            .collect();
        let batch = make_batch(&picked, config.train.temperature, device);
        let (combined, kd, ce) = loss(&student, &batch, config);
        let value = combined.clone().detach().into_data().try_to_vec::<f32>().ok().and_then(|v| v.first().copied()).unwrap_or(f32::NAN);
        if !value.is_finite() {
            return Err(DistillError::Data(format!(
                "the loss became {value} at step {}: lower train.learning_rate",
                step + 1
            )));
        }
        let grads = GradientsParams::from_grads(combined.backward(), &student);
        let lr = learning_rate(config, step);
        student = optimizer.step(lr, student, grads);
        trained_tokens += batch.count;
        let entry = StepLog { step: step + 1, loss: value, kd, ce, lr, tokens: batch.count, seconds: clock.elapsed().as_secs_f64() };
        append_log(&log_path, &entry)?;
        let flow = on_step(&entry);
        history.push(entry);
        let done = step + 1;
        if done % config.train.checkpoint_every == 0 || done == config.train.steps || flow.is_break() {
            let state = CheckpointState { step: done, config: config.clone(), vocab };
            write_checkpoint(&ckpt, &state, &student, &optimizer)?;
        }
        if flow.is_break() {
            stopped = true;
            break;
        }
    }
    let seconds = began.elapsed().as_secs_f64();
    Ok(TrainSummary {
        samples: usable.len(),
        skipped_long,
        parameters,
        resumed_from: start,
        stopped,
        steps: history,
        tokens_per_s: if seconds > 0.0 { trained_tokens as f64 / seconds } else { 0.0 },
        checkpoint: ckpt,
    })
}

const LOG_HEADER: &str = "step,loss,kd,ce,lr,tokens,seconds";

fn write_log(path: &Path, entries: &[StepLog]) -> Result<(), DistillError> {
    let mut text = format!("{LOG_HEADER}\n");
    for e in entries {
        text.push_str(&log_line(e));
    }
    fs::write(path, text).map_err(DistillError::io("cannot write", path))
}

fn log_line(e: &StepLog) -> String {
    format!("{},{},{},{},{},{},{:.3}\n", e.step, e.loss, e.kd, e.ce, e.lr, e.tokens, e.seconds)
}

fn append_log(path: &Path, entry: &StepLog) -> Result<(), DistillError> {
    let mut file = fs::OpenOptions::new().append(true).open(path).map_err(DistillError::io("cannot open", path))?;
    file.write_all(log_line(entry).as_bytes()).map_err(DistillError::io("cannot write", path))
}

/// Reads a `loss.csv` (missing: empty).
pub fn read_log(path: &Path) -> Result<Vec<StepLog>, DistillError> {
    let Ok(text) = fs::read_to_string(path) else { return Ok(Vec::new()) };
    let bad = |n: usize| DistillError::Data(format!("{} line {}: not a loss.csv row", path.display(), n + 1));
    text.lines()
        .enumerate()
        .skip(1)
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(n, line)| {
            let f: Vec<&str> = line.split(',').collect();
            if f.len() != 7 {
                return Err(bad(n));
            }
            Ok(StepLog {
                step: f[0].parse().map_err(|_| bad(n))?,
                loss: f[1].parse().map_err(|_| bad(n))?,
                kd: f[2].parse().map_err(|_| bad(n))?,
                ce: f[3].parse().map_err(|_| bad(n))?,
                lr: f[4].parse().map_err(|_| bad(n))?,
                tokens: f[5].parse().map_err(|_| bad(n))?,
                seconds: f[6].parse().map_err(|_| bad(n))?,
            })
        })
        .collect()
}
