//! `edgecoder distill`: the distillation pipeline from a teacher to a small student.
//!
//! - `data`: the teacher answers each seed task several times through the engine; every
//!   answer runs against the task's hidden tests in the executor; only answers that pass and
//!   stay inside the on-device subset are kept, with the teacher's top-k logits for each answer
//!   token (`data.jsonl`); the rest go to `rejected.jsonl` with their reason; `data-card.md` and
//!   `data-card.json` count both.
//! - `train`: a student (TOML config) learns from the data with Burn's autodiff (token-level
//!   distillation + cross-entropy), checkpoints resumable, `loss.csv` written as it goes.
//! - `export`: the student as GGUF (f16, q8_0, q4_0) for the engine and llama.cpp, or as
//!   safetensors + `config.json` for MLX/transformers.

use super::{Execute, Exit, Failure};
use anyhow::anyhow;
use clap::{Args, Subcommand};
use edgecoder_eval::humaneval::{DISTILL_SEED_SOURCE, distill_seed, hidden_check, load_problems, visible_task};
use edgecoder_executor::{Lang, Limits};
use edgecoder_model::chat::ChatMessage;
use edgecoder_model::distill::export::{ExportFormat, export_gguf, export_safetensors};
use edgecoder_model::distill::train::{load_checkpoint, train};
use edgecoder_model::distill::{DistillConfig, DistillSample, TeacherTopK, data::read_samples};
use edgecoder_model::engine::{GenerateParams, Model, Prompt};
use edgecoder_model::gguf::GgufFile;
use edgecoder_model::sampling::SamplingParams;
use serde::Serialize;
use std::collections::BTreeMap;
use std::io::Write;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Distil a teacher model into a small student: data, train, export.
#[derive(Debug, Args)]
pub struct DistillArgs {
    /// The stage.
    #[command(subcommand)]
    pub stage: Stage,
}

/// The stages of the pipeline.
#[derive(Debug, Subcommand)]
pub enum Stage {
    /// Sample the teacher on seed tasks, keep only answers that pass their tests in the
    /// executor (inside the subset), with the teacher's top-k logits; write a data card.
    Data(DataArgs),
    /// Train a student on a data set (resumable), writing checkpoints and loss.csv.
    Train(TrainArgs),
    /// Export a trained student as GGUF (f16, q8_0, q4_0) or safetensors.
    Export(ExportArgs),
}

/// Options of `edgecoder distill data`.
#[derive(Debug, Args)]
pub struct DataArgs {
    /// The teacher: a model id or GGUF path (it must share the student's tokenizer).
    #[arg(long, default_value = "qwen2.5-coder-1.5b")]
    pub teacher: String,
    /// Seed tasks, one JSON object a line in HumanEval's format (default: the bundled set).
    #[arg(long)]
    pub tasks: Option<PathBuf>,
    /// Use only the first N tasks.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub limit: Option<u64>,
    /// Answers sampled per task.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=64))]
    pub samples: u32,
    /// Sampling temperature of the teacher (0: greedy, which makes every sample the same).
    #[arg(long, default_value_t = 0.8)]
    pub temperature: f32,
    /// Most tokens per answer.
    #[arg(long, default_value_t = 384)]
    pub max_tokens: usize,
    /// Teacher logits kept per answer token.
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u32).range(1..=256))]
    pub top_k: u32,
    /// Seed of the sampling.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// Engine threads (default: all cores).
    #[arg(long)]
    pub threads: Option<u32>,
    /// Output directory (data.jsonl, rejected.jsonl, data-card.md, data-card.json).
    #[arg(long)]
    pub out: PathBuf,
    /// Print the data card as JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// Options of `edgecoder distill train`.
#[derive(Debug, Args)]
pub struct TrainArgs {
    /// The run's TOML configuration ([student] and [train]).
    #[arg(long)]
    pub config: PathBuf,
    /// The data set written by `edgecoder distill data`.
    #[arg(long)]
    pub data: PathBuf,
    /// Output directory (checkpoint/, loss.csv, train-summary.json).
    #[arg(long)]
    pub out: PathBuf,
    /// Go on from the checkpoint in --out (same config) instead of starting afresh.
    #[arg(long)]
    pub resume: bool,
    /// Burn backend to train on: flex (CPU) or wgpu (a GPU; needs the `gpu` feature).
    #[arg(long, default_value = "flex")]
    pub backend: String,
    /// Print the summary as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Options of `edgecoder distill export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// A checkpoint directory (`OUT/checkpoint` of `edgecoder distill train`).
    #[arg(long)]
    pub checkpoint: PathBuf,
    /// f16, q8_0 or q4_0 (GGUF), or safetensors (a directory with config.json).
    #[arg(long, default_value = "q8_0")]
    pub format: String,
    /// The file (GGUF) or directory (safetensors) to write.
    #[arg(long)]
    pub out: PathBuf,
    /// The name written into the GGUF's general.name.
    #[arg(long, default_value = "edgecoder-student")]
    pub name: String,
}

impl Execute for DistillArgs {
    fn execute(self) -> Result<Exit, Failure> {
        match self.stage {
            Stage::Data(args) => args.execute(),
            Stage::Train(args) => args.execute(),
            Stage::Export(args) => args.execute(),
        }
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> Failure + '_ {
    move |e| Failure::new(Exit::Io, anyhow!("cannot write {}: {e}", path.display()))
}

/// Why a sample was not kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Rejection {
    /// The answer held no code block.
    NoCode,
    /// The code is outside the on-device subset.
    OutsideSubset,
    /// The code ran but its tests did not all pass.
    TestsFailed,
    /// The same code was already kept for this task.
    Duplicate,
}

/// One rejected sample, as written to `rejected.jsonl`.
#[derive(Debug, Serialize)]
struct Rejected<'a> {
    task_id: &'a str,
    sample: usize,
    reason: Rejection,
    detail: String,
    response: &'a str,
}

/// The data card: what the data set holds and what was filtered out.
#[derive(Debug, Default, Serialize)]
pub struct DataCard {
    /// The teacher (id and file sha256).
    pub teacher: String,
    /// Where the tasks came from.
    pub tasks_source: String,
    /// Tasks sampled.
    pub tasks: usize,
    /// Answers sampled per task.
    pub samples_per_task: u32,
    /// Answers generated.
    pub generated: usize,
    /// Answers kept.
    pub kept: usize,
    /// Kept / generated.
    pub pass_rate: f64,
    /// Rejections by reason.
    pub rejected: BTreeMap<String, usize>,
    /// Subset reason codes of the `outside_subset` rejections.
    pub subset_reasons: BTreeMap<String, usize>,
    /// Tasks with at least one kept answer.
    pub tasks_covered: usize,
    /// Response tokens in the kept answers.
    pub response_tokens: usize,
    /// Teacher logits kept per token.
    pub top_k: u32,
    /// Sampling temperature.
    pub temperature: f32,
    /// Seconds the stage took.
    pub seconds: f64,
}

impl DataCard {
    fn markdown(&self) -> String {
        let mut s = format!(
            "# Data card: EdgeCoder distillation set\n\n\
             Teacher answers to seed coding tasks, kept only when they pass the task's hidden tests in \
             EdgeCoder's executor and stay inside the on-device subset.\n\n\
             | field | value |\n|---|---|\n\
             | teacher | {} |\n| tasks | {} ({}) |\n| samples per task | {} (temperature {}) |\n\
             | generated | {} |\n| kept | {} ({:.1}%) |\n| tasks with a kept answer | {} |\n\
             | response tokens kept | {} |\n| teacher logits per token | top {} |\n| seconds | {:.0} |\n\n## Rejected\n\n| reason | samples |\n|---|---|\n",
            self.teacher, self.tasks, self.tasks_source, self.samples_per_task, self.temperature, self.generated,
            self.kept, 100.0 * self.pass_rate, self.tasks_covered, self.response_tokens, self.top_k, self.seconds
        );
        for (reason, n) in &self.rejected {
            s.push_str(&format!("| {reason} | {n} |\n"));
        }
        if !self.subset_reasons.is_empty() {
            s.push_str("\n## Outside the subset, by reason code\n\n| code | samples |\n|---|---|\n");
            for (code, n) in &self.subset_reasons {
                s.push_str(&format!("| {code} | {n} |\n"));
            }
        }
        s.push_str("\nFormat: one JSON object per line (`edgecoder_model::distill::data`); license of the tasks: the project's own.\n");
        s
    }
}

impl Execute for DataArgs {
    fn execute(self) -> Result<Exit, Failure> {
        let usage = |e: anyhow::Error| Failure::new(Exit::Usage, e);
        let (mut tasks, source) = match &self.tasks {
            Some(path) => (load_problems(path).map_err(|e| usage(e.into()))?, path.display().to_string()),
            None => (distill_seed().map_err(|e| usage(e.into()))?, DISTILL_SEED_SOURCE.to_owned()),
        };
        if let Some(limit) = self.limit {
            tasks.truncate(limit as usize);
        }
        if !(self.temperature >= 0.0 && self.temperature.is_finite()) {
            return Err(usage(anyhow!("--temperature must be 0 or more, got {}", self.temperature)));
        }
        let resolved = crate::providers::local::resolve(&self.teacher).map_err(|e| {
            usage(anyhow!(e).context(format!("cannot use teacher {:?} (see `edgecoder model list`)", self.teacher)))
        })?;
        let path = resolved.path;
        let options = super::generate::load_options("flex", self.threads)?;
        let teacher = Model::load_with(&path, options)
            .map_err(|e| Failure::new(Exit::Failed, anyhow!("cannot load the teacher {}: {e}", path.display())))?;
        if !teacher.has_chat_template() {
            return Err(usage(anyhow!("the teacher {} has no chat template: use an instruct model", self.teacher)));
        }
        std::fs::create_dir_all(&self.out).map_err(io(&self.out))?;
        let data_path = self.out.join("data.jsonl");
        let rejected_path = self.out.join("rejected.jsonl");
        let mut data = std::io::BufWriter::new(std::fs::File::create(&data_path).map_err(io(&data_path))?);
        let mut rejected = std::io::BufWriter::new(std::fs::File::create(&rejected_path).map_err(io(&rejected_path))?);
        let teacher_id = if resolved.digest.is_empty() { resolved.id } else { format!("{} sha256:{}", resolved.id, resolved.digest) };
        let mut card = DataCard {
            teacher: teacher_id.clone(),
            tasks_source: source,
            tasks: tasks.len(),
            samples_per_task: self.samples,
            top_k: self.top_k,
            temperature: self.temperature,
            ..DataCard::default()
        };
        let limits = Limits::default();
        let started = Instant::now();
        let bar = indicatif::ProgressBar::new(tasks.len() as u64 * u64::from(self.samples));
        bar.set_style(indicatif::ProgressStyle::with_template("{msg} {bar:30} {pos}/{len} answers, eta {eta}").expect("a valid template"));
        for task in &tasks {
            bar.set_message(task.task_id.clone());
            let fence = crate::agent::prompt::fence(task.lang);
            let messages = vec![
                ChatMessage::system(crate::agent::prompt::system(task.lang, false)),
                ChatMessage::user(visible_task(task)),
            ];
            let prompt = Prompt::ChatReply { messages, reply_start: format!("```{fence}\n") };
            let prompt_tokens = teacher.tokenize(&prompt).map_err(|e| Failure::new(Exit::Failed, anyhow!("{}: {e}", task.task_id)))?;
            let mut kept_code: Vec<String> = Vec::new();
            for sample in 0..self.samples as usize {
                let _span = tracing::info_span!("distill_sample", task = %task.task_id, sample).entered();
                let params = GenerateParams {
                    sampling: SamplingParams {
                        temperature: self.temperature,
                        top_p: 0.95,
                        seed: self.seed.wrapping_add(sample as u64).wrapping_add(hash(&task.task_id)),
                        ..SamplingParams::default()
                    },
                    max_tokens: self.max_tokens,
                    reuse_prefix: true,
                    ..GenerateParams::default()
                };
                let failed = |e: edgecoder_model::engine::EngineError| Failure::new(Exit::Failed, anyhow!("{}: {e}", task.task_id));
                let mut generation = teacher.generate(Prompt::Tokens(prompt_tokens.clone()), params).map_err(failed)?;
                let mut response = String::new();
                for event in generation.by_ref() {
                    response.push_str(&event.map_err(failed)?.text);
                }
                let tokens = generation.tokens().to_vec();
                drop(generation);
                card.generated += 1;
                bar.inc(1);
                let answer = format!("```{fence}\n{response}");
                let verdict = judge(task, &answer, &kept_code, &limits);
                match verdict {
                    Ok(code) => {
                        let top_k = teacher
                            .top_logits(&tokens, prompt_tokens.len(), self.top_k as usize)
                            .map_err(failed)?
                            .into_iter()
                            .map(|(ids, logits)| TeacherTopK { ids, logits })
                            .collect();
                        let record = DistillSample {
                            task_id: task.task_id.clone(),
                            lang: lang_name(task.lang).into(),
                            teacher: teacher_id.clone(),
                            sample,
                            prompt: teacher.tokenizer().decode(&prompt_tokens, true).unwrap_or_default(),
                            response: response.clone(),
                            response_start: prompt_tokens.len(),
                            tokens,
                            top_k,
                        };
                        card.response_tokens += record.tokens.len() - record.response_start;
                        let line = serde_json::to_string(&record).map_err(|e| Failure::new(Exit::Failed, e))?;
                        writeln!(data, "{line}").map_err(io(&data_path))?;
                        kept_code.push(code);
                        card.kept += 1;
                    }
                    Err((reason, detail)) => {
                        if reason == Rejection::OutsideSubset {
                            let code = detail.split_whitespace().next().unwrap_or("?").to_owned();
                            *card.subset_reasons.entry(code).or_default() += 1;
                        }
                        let name = serde_json::to_value(reason).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
                        *card.rejected.entry(name).or_default() += 1;
                        let line = serde_json::to_string(&Rejected { task_id: &task.task_id, sample, reason, detail, response: &response })
                            .map_err(|e| Failure::new(Exit::Failed, e))?;
                        writeln!(rejected, "{line}").map_err(io(&rejected_path))?;
                    }
                }
            }
            card.tasks_covered += usize::from(!kept_code.is_empty());
        }
        bar.finish_and_clear();
        data.flush().map_err(io(&data_path))?;
        rejected.flush().map_err(io(&rejected_path))?;
        card.pass_rate = card.kept as f64 / card.generated.max(1) as f64;
        card.seconds = started.elapsed().as_secs_f64();
        let card_json = self.out.join("data-card.json");
        let text = serde_json::to_string_pretty(&card).map_err(|e| Failure::new(Exit::Failed, e))?;
        std::fs::write(&card_json, &text).map_err(io(&card_json))?;
        let card_md = self.out.join("data-card.md");
        std::fs::write(&card_md, card.markdown()).map_err(io(&card_md))?;
        if self.json {
            println!("{text}");
        } else {
            print!("{}", card.markdown());
            println!("wrote {}, {}, {}", data_path.display(), rejected_path.display(), card_md.display());
        }
        if card.kept == 0 {
            return Err(Failure::new(
                Exit::Failed,
                anyhow!("no answer passed its tests: sample more (--samples), raise --max-tokens, or use a stronger --teacher"),
            ));
        }
        Ok(Exit::Ok)
    }
}

/// Decides whether an answer is kept: its code (the prompt's imports and helpers first, as
/// HumanEval answers often omit them), inside the subset, passing the hidden tests, and not a
/// copy of one already kept.
fn judge(task: &edgecoder_eval::Problem, answer: &str, kept: &[String], limits: &Limits) -> Result<String, (Rejection, String)> {
    let Some(extracted) = edgecoder_executor::extract::extract_code(answer, task.lang) else {
        return Err((Rejection::NoCode, "no code block in the answer".into()));
    };
    let code = extracted.code;
    if let Err(violation) = edgecoder_executor::check(&code, task.lang) {
        return Err((Rejection::OutsideSubset, violation.to_string()));
    }
    let report = hidden_check(task, &code, limits);
    if !report.all_passed() {
        return Err((Rejection::TestsFailed, report.failure_summary()));
    }
    if kept.iter().any(|k| k.trim() == code.trim()) {
        return Err((Rejection::Duplicate, "the same code was kept for this task already".into()));
    }
    Ok(code)
}

fn lang_name(lang: Lang) -> &'static str {
    match lang {
        Lang::Python => "python",
        Lang::JavaScript => "javascript",
    }
}

/// A stable 64-bit hash (FNV-1a) of a task id, so each task samples with its own seed.
fn hash(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

/// The base model's GGUF (tokenizer, chat template, vocabulary) named by a config.
fn open_base(base: &str) -> Result<GgufFile, Failure> {
    let path = super::generate::resolve_model(base)?;
    GgufFile::open(&path).map_err(|e| Failure::new(Exit::Failed, anyhow!("cannot read {}: {e}", path.display())))
}

fn vocab_of(base: &GgufFile) -> Result<usize, Failure> {
    base.get_str_array("tokenizer.ggml.tokens")
        .map(<[String]>::len)
        .map_err(|e| Failure::new(Exit::Usage, anyhow!("the base model has no tokenizer: {e}")))
}

impl Execute for TrainArgs {
    fn execute(self) -> Result<Exit, Failure> {
        let usage = |e: anyhow::Error| Failure::new(Exit::Usage, e);
        let config = DistillConfig::load(&self.config).map_err(|e| usage(e.into()))?;
        let base = open_base(&config.student.base)?;
        let vocab = vocab_of(&base)?;
        let samples = read_samples(&self.data, vocab).map_err(|e| usage(e.into()))?;
        let init = match &config.student.init_from {
            Some(model) => Some(open_base(model)?),
            None => None,
        };
        let backend = edgecoder_model::engine::Backend::from_name(&self.backend)
            .ok_or_else(|| usage(anyhow!("unknown --backend {:?}: use flex or wgpu", self.backend)))?;
        let device = backend.device().map_err(|e| usage(anyhow!(e)))?.autodiff();
        let bar = indicatif::ProgressBar::new(config.train.steps as u64);
        bar.set_style(
            indicatif::ProgressStyle::with_template("step {pos}/{len} {bar:30} loss {msg} eta {eta}").expect("a valid template"),
        );
        let _span = tracing::info_span!("distill_train", out = %self.out.display()).entered();
        let summary = train(&config, init.as_ref(), vocab, &samples, &self.out, self.resume, &device, &mut |step| {
            bar.set_position(step.step as u64);
            bar.set_message(format!("{:.4} (kd {:.4}, ce {:.4})", step.loss, step.kd, step.ce));
            ControlFlow::Continue(())
        })
        .map_err(|e| Failure::new(Exit::Failed, anyhow!(e)))?;
        bar.finish_and_clear();
        let plot = self.out.join("loss.png");
        let labelled = plot_losses(&summary.steps, &plot).map_err(|e| Failure::new(Exit::Io, anyhow!("cannot draw {}: {e}", plot.display())))?;
        if !labelled {
            tracing::warn!("no TrueType font found (DejaVu, Liberation, Arial): {} is drawn without labels", plot.display());
        }
        let path = self.out.join("train-summary.json");
        let text = serde_json::to_string_pretty(&summary).map_err(|e| Failure::new(Exit::Failed, e))?;
        std::fs::write(&path, &text).map_err(io(&path))?;
        if self.json {
            println!("{text}");
        } else {
            let first = summary.steps.first().map_or(f32::NAN, |s| s.loss);
            let last = summary.steps.last().map_or(f32::NAN, |s| s.loss);
            println!(
                "{} samples ({} skipped as too long), {} parameters, {} steps{}: loss {first:.4} -> {last:.4}, {:.1} tokens/s",
                summary.samples,
                summary.skipped_long,
                summary.parameters,
                summary.steps.len(),
                if summary.resumed_from > 0 { format!(" (resumed at {})", summary.resumed_from) } else { String::new() },
                summary.tokens_per_s
            );
            println!(
                "checkpoint {}; loss log {}; plot {}",
                summary.checkpoint.display(),
                self.out.join("loss.csv").display(),
                plot.display()
            );
        }
        Ok(Exit::Ok)
    }
}

impl Execute for ExportArgs {
    fn execute(self) -> Result<Exit, Failure> {
        let format = ExportFormat::from_name(&self.format)
            .ok_or_else(|| Failure::new(Exit::Usage, anyhow!("unknown --format {:?}: use f16, q8_0, q4_0 or safetensors", self.format)))?;
        let device = edgecoder_model::engine::Backend::Flex.device().map_err(|e| Failure::new(Exit::Failed, anyhow!(e)))?;
        let checkpoint = load_checkpoint(&self.checkpoint, &device).map_err(|e| Failure::new(Exit::Usage, anyhow!(e)))?;
        let bytes = match format {
            ExportFormat::Safetensors => export_safetensors(&checkpoint.student, &checkpoint.config.student, &self.out),
            _ => {
                let base = open_base(&checkpoint.config.student.base)?;
                export_gguf(&checkpoint.student, &checkpoint.config.student, &base, format, &self.name, &self.out)
            }
        }
        .map_err(|e| Failure::new(Exit::Io, anyhow!(e)))?;
        println!("wrote {} ({} bytes, {} after {} steps)", self.out.display(), bytes, format.name(), checkpoint.step);
        Ok(Exit::Ok)
    }
}

/// Fonts tried for the plot's text, first found wins (Debian/Ubuntu, Fedora, macOS, Windows).
const FONTS: &[&str] = &[
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    "/usr/share/fonts/dejavu-sans-fonts/DejaVuSans.ttf",
    "/System/Library/Fonts/Supplemental/Arial.ttf",
    "C:\\Windows\\Fonts\\arial.ttf",
];

/// Registers the first font of [`FONTS`] for the plot's text; false when none could be used.
fn register_font() -> bool {
    static REGISTERED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *REGISTERED.get_or_init(|| {
        FONTS.iter().filter_map(|path| std::fs::read(path).ok()).any(|bytes| {
            let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
            plotters::style::register_font("sans-serif", plotters::style::FontStyle::Normal, bytes).is_ok()
        })
    })
}

/// Draws the loss, its distillation and cross-entropy terms over the steps into a PNG at
/// `path`; returns whether it has text (axis labels, legend), which needs a system font.
fn plot_losses(steps: &[edgecoder_model::distill::train::StepLog], path: &Path) -> Result<bool, String> {
    use plotters::prelude::*;
    let (width, height) = (900u32, 520u32);
    let mut pixels = vec![255u8; (width * height * 3) as usize];
    let text = register_font();
    {
        let root = BitMapBackend::with_buffer(&mut pixels, (width, height)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let last = steps.last().map_or(1, |s| s.step).max(2) as f32;
        let top = steps.iter().flat_map(|s| [s.loss, s.kd, s.ce]).filter(|v| v.is_finite()).fold(0.0f32, f32::max).max(1e-3) * 1.05;
        let mut builder = ChartBuilder::on(&root);
        builder.margin(20);
        if text {
            builder.caption("edgecoder distill train", ("sans-serif", 22)).x_label_area_size(40).y_label_area_size(60);
        }
        let mut chart = builder.build_cartesian_2d(1f32..last, 0f32..top).map_err(|e| e.to_string())?;
        let mut mesh = chart.configure_mesh();
        if text {
            mesh.x_desc("step").y_desc("loss per response token");
        } else {
            mesh.x_labels(0).y_labels(0);
        }
        mesh.draw().map_err(|e| e.to_string())?;
        let curves: [(&str, RGBColor, fn(&edgecoder_model::distill::train::StepLog) -> f32); 3] =
            [("loss", BLACK, |s| s.loss), ("kd (KL, T)", BLUE, |s| s.kd), ("ce", RED, |s| s.ce)];
        for (name, color, value) in curves {
            let series = chart
                .draw_series(LineSeries::new(steps.iter().map(|s| (s.step as f32, value(s))), color.stroke_width(2)))
                .map_err(|e| e.to_string())?;
            if text {
                series.label(name).legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2)));
            }
        }
        if text {
            chart.configure_series_labels().background_style(WHITE.mix(0.8)).border_style(BLACK).draw().map_err(|e| e.to_string())?;
        }
        root.present().map_err(|e| e.to_string())?;
    }
    let file = std::fs::File::create(path).map_err(|e| e.to_string())?;
    let mut encoder = png::Encoder::new(std::io::BufWriter::new(file), width, height);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().map_err(|e| e.to_string())?;
    writer.write_image_data(&pixels).map_err(|e| e.to_string())?;
    writer.finish().map_err(|e| e.to_string())?;
    Ok(text)
}
