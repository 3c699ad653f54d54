//! Escalation: the larger model does a subtask the agents could not; its code is run against
//! the subtask's tests in the executor before it is returned, and fixed when they fail.

use crate::backend::{Backend, BackendError, Turn, ask_until, lang_names};
use tracing::Instrument;
use edgecoder_executor::extract::{answer_shape, extract_code};
use edgecoder_protocol::inference::{EditedFile, EscalateRequest, EscalateResponse};
use edgecoder_protocol::run::{Lang, Limits};

/// Why a subtask could not be escalated.
#[derive(Debug, thiserror::Error)]
pub enum EscalateError {
    /// The request itself is unusable.
    #[error("{0}")]
    BadRequest(String),
    /// The backend gave no text.
    #[error(transparent)]
    Backend(#[from] BackendError),
    /// Every answer failed (no code, outside the subset, or failing tests).
    #[error("the model's code failed {attempts} times; the last failure: {last}")]
    Failed {
        /// How many answers were tried.
        attempts: u32,
        /// How the last one failed.
        last: String,
    },
}

fn system_prompt(lang: Lang, editing: bool) -> String {
    let (name, fence) = lang_names(lang);
    let keep = if editing { "Keep what the file already has unless the subtask asks to change it. " } else { "" };
    let answer = format!("{keep}Answer with {}", answer_shape(lang, editing));
    format!(
        "You are an expert {name} programmer. Write the code the subtask asks for. It runs in a \
         restricted interpreter: standard library only, no files, network, processes, threads or \
         async. {answer} in one ```{fence} block and nothing else."
    )
}

fn user_prompt(request: &EscalateRequest) -> String {
    let mut prompt = format!(
        "The whole job:\n{}\n\nThe subtask:\n{}\n",
        request.job_instruction.trim(),
        request.instruction.trim()
    );
    match &request.file {
        Some(EditedFile { path, content: Some(content) }) => {
            let (_, fence) = lang_names(request.lang);
            prompt.push_str(&format!("\nThe file {path} now:\n```{fence}\n{}\n```\n", content.trim_end()));
        }
        Some(EditedFile { path, content: None }) => prompt.push_str(&format!("\nThe file {path} is new: write all of it.\n")),
        None => {}
    }
    if let Some(tests) = &request.tests {
        prompt.push_str(&format!("\nTests the code must pass:\n{}\n", tests.trim()));
    }
    prompt.push_str(&format!("\nAn assistant tried and failed: {}\n", request.failure.trim()));
    prompt
}

/// Checks one answer: its code, in the subset, passing the tests when there are any.
async fn try_answer(reply: &str, request: &EscalateRequest, limits: &Limits) -> Result<String, String> {
    let mut code = extract_code(reply, request.lang).ok_or("the answer holds no code")?.code;
    match &request.file {
        Some(file) => {
            code = edgecoder_executor::extract::edited_content(file.content.as_deref(), &code, request.lang);
            if file.content.as_deref().is_some_and(|content| content.trim_end() == code.trim_end()) {
                return Err(format!("the answer leaves {} as it is", file.path));
            }
        }
        // Small models append demo asserts and prints, sometimes wrong ones: not the solution.
        None if request.lang == Lang::Python => code = edgecoder_executor::pysrc::tidy(&code),
        None => {}
    }
    edgecoder_executor::check(&code, request.lang).map_err(|e| e.to_string())?;
    let Some(tests) = request.tests.clone() else {
        return Ok(code);
    };
    let (lang, limits, solution) = (request.lang, limits.clone(), code.clone());
    let report = tokio::task::spawn_blocking(move || edgecoder_executor::run_tests(&solution, &tests, lang, &limits))
        .await
        .expect("the test run does not panic");
    if report.all_passed() { Ok(code) } else { Err(report.failure_summary()) }
}

/// Asks `backend` to do the subtask of `request`, at most `attempts` times, running each answer
/// against the subtask's tests under `limits`.
pub async fn escalate(
    backend: &dyn Backend,
    request: &EscalateRequest,
    attempts: u32,
    max_tokens: usize,
    limits: &Limits,
) -> Result<EscalateResponse, EscalateError> {
    if request.instruction.trim().is_empty() {
        return Err(EscalateError::BadRequest("the subtask's instruction is empty".into()));
    }
    if let Some(tests) = &request.tests {
        edgecoder_executor::check(tests, request.lang)
            .map_err(|e| EscalateError::BadRequest(format!("the subtask's tests cannot run here: {e}")))?;
    }
    if let Some(file) = &request.file {
        edgecoder_protocol::swarm::check_snapshot_path(&file.path)
            .map_err(|e| EscalateError::BadRequest(format!("the subtask's file {:?}: {e}", file.path)))?;
    }
    let turns =
        vec![Turn::system(system_prompt(request.lang, request.file.is_some())), Turn::user(user_prompt(request))];
    let span = tracing::info_span!("escalate", subtask = %request.subtask);
    let check = |reply: &str| {
        let reply = reply.to_owned();
        async move { try_answer(&reply, request, limits).await }
    };
    let shape = answer_shape(request.lang, request.file.is_some());
    let again = |failure: &str| format!("That code failed: {failure}. Fix it and answer with {shape} in one block.");
    match ask_until(backend, turns, attempts, max_tokens, check, again).instrument(span).await? {
        Ok(output) => Ok(EscalateResponse { output }),
        Err(last) => Err(EscalateError::Failed { attempts: attempts.max(1), last }),
    }
}
