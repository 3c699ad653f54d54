//! `edgecoder bench review`: the cloud-review round trip against a running review server — the
//! plan's KPI (at least 95% of cloud returns carry a valid diff the user can Accept, Reject or
//! Edit). HumanEval problems go out as user-requested reviews of their stub (the signature and
//! docstring with `pass`), through the same queue, client and sync as `edgecoder queue`; each
//! result counts as valid when its diff parses and turns the code sent into the code proposed,
//! and Accept writes exactly that code into a scratch workspace. The hidden tests of each
//! accepted file are run too, as a measure of the reviewer.

use super::bench::write_json;
use super::{Execute, Exit, Failure};
use crate::agent::{CloudQueue, NewEntry, Stage};
use crate::handshake::{self, Redactor, ReviewClient};
use clap::Args;
use edgecoder_executor::Limits;
use edgecoder_protocol::review::{ReviewReason, Verification};
use serde::Serialize;
use std::path::PathBuf;
use edgecoder_protocol::envelope::unix_time_s;
use std::time::{Duration, Instant};

/// Options of `edgecoder bench review`.
#[derive(Debug, Args)]
pub struct ReviewBench {
    /// The review server's base URL (https://, or http:// to loopback).
    #[arg(long)]
    pub url: String,
    /// The file holding the API key.
    #[arg(long, value_name = "FILE")]
    pub key_file: PathBuf,
    /// How many problems to send.
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=164))]
    pub tasks: u32,
    /// The first problem.
    #[arg(long, default_value_t = 0)]
    pub offset: usize,
    /// The problems (default: $EDGECODER_HUMANEVAL, else the test venv's HumanEval).
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Give up waiting for results after this many seconds.
    #[arg(long, default_value_t = 3600)]
    pub timeout: u64,
    /// Where to write the JSON results.
    #[arg(long, default_value = "bench-review.json")]
    pub json_out: PathBuf,
}

/// One problem's round trip.
#[derive(Debug, Serialize)]
pub struct ReviewCase {
    /// The problem.
    pub task_id: String,
    /// The queue's last stage for it.
    pub stage: String,
    /// Seconds from sending to the result.
    pub seconds: Option<f64>,
    /// The diff parses and turns the code sent into the code proposed.
    pub valid_diff: bool,
    /// Accept wrote exactly the proposed code.
    pub accepted: bool,
    /// The server ran the code in its executor.
    pub ran_on_server: bool,
    /// The accepted file passes the problem's hidden tests.
    pub passes_hidden_tests: bool,
    /// What went wrong, when something did.
    pub error: Option<String>,
}

/// The JSON file.
#[derive(Debug, Serialize)]
pub struct ReviewReport {
    /// The server.
    pub url: String,
    /// Problems sent.
    pub tasks: usize,
    /// Results that came back.
    pub answered: usize,
    /// Results with a valid diff.
    pub valid_diffs: usize,
    /// Valid diffs among the results, in percent (the KPI: at least 95).
    pub valid_diff_percent: f64,
    /// Results accepted into a workspace as proposed.
    pub accepted: usize,
    /// Accepted files passing their hidden tests.
    pub passing: usize,
    /// Median seconds from sending to the result.
    pub median_seconds: f64,
    /// Per problem.
    pub cases: Vec<ReviewCase>,
}

fn valid_diff(diff: &str, sent: &str, proposed: &str) -> bool {
    diffy::Patch::from_str(diff).ok().and_then(|patch| diffy::apply(sent, &patch).ok()).is_some_and(|applied| applied == proposed)
}

impl Execute for ReviewBench {
    fn execute(self) -> Result<Exit, Failure> {
        let failed = |e: String| Failure::new(Exit::Failed, anyhow::anyhow!(e));
        let io = |e: std::io::Error| Failure::new(Exit::Io, e);
        let data = match &self.data {
            Some(path) => path.clone(),
            None => edgecoder_eval::humaneval::data_path().map_err(|e| Failure::new(Exit::Usage, e))?,
        };
        let problems = edgecoder_eval::load_problems(&data).map_err(|e| Failure::new(Exit::Usage, e))?;
        let problems: Vec<_> = problems.into_iter().skip(self.offset).take(self.tasks as usize).collect();
        let mut client = ReviewClient::from_key_file(&self.url, &self.key_file, None).map_err(|e| Failure::new(Exit::Usage, e))?;
        let redactor = Redactor::new(&[]).map_err(|e| failed(e.to_string()))?;
        let scratch = tempfile::tempdir().map_err(io)?;
        let queue = CloudQueue::at(scratch.path().join("queue"));
        let mut ids = Vec::new();
        for problem in &problems {
            let workspace = scratch.path().join(problem.task_id.replace('/', "-"));
            std::fs::create_dir_all(&workspace).map_err(io)?;
            let stub = format!("{}    pass\n", problem.prompt);
            std::fs::write(workspace.join("solution.py"), &stub).map_err(io)?;
            let entry = queue
                .push(NewEntry {
                    task: format!("Complete the function `{}` so that it does what its docstring says.", problem.entry_point),
                    lang: problem.lang,
                    code: stub.clone(),
                    why: ReviewReason::UserRequest,
                    reason: None,
                    construct: String::new(),
                    line: 0,
                    message: "the function is a stub".into(),
                    model: String::new(),
                    workspace: Some(workspace.canonicalize().map_err(io)?),
                    file: Some("solution.py".into()),
                    before: Some(stub),
                })
                .map_err(|e| failed(e.to_string()))?;
            queue.update(&entry.id, |e| e.review.stage = Stage::Waiting).map_err(|e| failed(e.to_string()))?;
            ids.push(entry.id);
        }
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| failed(e.to_string()))?;
        let bar = indicatif::ProgressBar::new(ids.len() as u64);
        bar.set_style(indicatif::ProgressStyle::with_template("{spinner} reviews {pos}/{len} [{bar:30}] {elapsed} {msg}").expect("a valid template"));
        let started = Instant::now();
        let mut sent_at = std::collections::HashMap::new();
        let mut answered_at = std::collections::HashMap::new();
        loop {
            let synced = runtime.block_on(handshake::sync(&queue, &mut client, &redactor, unix_time_s())).map_err(|e| failed(e.to_string()))?;
            for id in synced.sent {
                sent_at.insert(id, Instant::now());
            }
            for id in synced.answered.iter().chain(synced.failed.iter().map(|(id, _)| id)) {
                answered_at.insert(id.clone(), Instant::now());
                bar.inc(1);
            }
            if let Some((_, why, _)) = synced.postponed.first() {
                bar.set_message(format!("postponed: {why}"));
            }
            if answered_at.len() == ids.len() || started.elapsed() > Duration::from_secs(self.timeout) {
                break;
            }
            std::thread::sleep(Duration::from_secs(1));
        }
        bar.finish_and_clear();

        let mut cases = Vec::new();
        for (problem, id) in problems.iter().zip(&ids) {
            let entry = queue.get(id).map_err(|e| failed(e.to_string()))?;
            let seconds = match (sent_at.get(id), answered_at.get(id)) {
                (Some(sent), Some(answered)) => Some(answered.duration_since(*sent).as_secs_f64()),
                _ => None,
            };
            let mut case = ReviewCase {
                task_id: problem.task_id.clone(),
                stage: entry.review.stage.as_str().to_owned(),
                seconds,
                valid_diff: false,
                accepted: false,
                ran_on_server: false,
                passes_hidden_tests: false,
                error: entry.review.last_error.clone(),
            };
            if let Some(result) = &entry.review.result {
                case.ran_on_server = matches!(result.verification, Verification::Ran { .. });
                let sent = handshake::outgoing(&entry, &redactor).request.code;
                case.valid_diff = valid_diff(&result.diff, &sent, &result.code);
                match handshake::accept(&queue, id, &redactor, None, None) {
                    Ok(written) => {
                        let on_disk = std::fs::read_to_string(&written.file).unwrap_or_default();
                        case.accepted = on_disk == result.code;
                        case.passes_hidden_tests = edgecoder_eval::hidden_check(problem, &on_disk, &Limits::default()).all_passed();
                    }
                    Err(e) => case.error = Some(e.to_string()),
                }
            }
            cases.push(case);
        }
        // The decisions reach the server, which then forgets the reviews.
        runtime.block_on(handshake::sync(&queue, &mut client, &redactor, unix_time_s())).map_err(|e| failed(e.to_string()))?;

        let answered = cases.iter().filter(|c| c.stage != "failed" && c.seconds.is_some()).count();
        let valid = cases.iter().filter(|c| c.valid_diff).count();
        let mut times: Vec<f64> = cases.iter().filter_map(|c| c.seconds).collect();
        times.sort_by(f64::total_cmp);
        let report = ReviewReport {
            url: self.url.clone(),
            tasks: cases.len(),
            answered,
            valid_diffs: valid,
            valid_diff_percent: if answered == 0 { 0.0 } else { 100.0 * valid as f64 / answered as f64 },
            accepted: cases.iter().filter(|c| c.accepted).count(),
            passing: cases.iter().filter(|c| c.passes_hidden_tests).count(),
            median_seconds: times.get(times.len() / 2).copied().unwrap_or(0.0),
            cases,
        };
        println!("| problems | answered | valid diffs | accepted as proposed | pass hidden tests | median s/review |");
        println!("|---|---|---|---|---|---|");
        println!(
            "| {} | {} | {} ({:.1}%) | {} | {} | {:.1} |",
            report.tasks, report.answered, report.valid_diffs, report.valid_diff_percent, report.accepted, report.passing, report.median_seconds
        );
        write_json(&self.json_out, &report)?;
        Ok(if report.answered == report.tasks { Exit::Ok } else { Exit::Failed })
    }
}
