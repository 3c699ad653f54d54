//! Escalation: the larger model does a subtask the agents could not; its code is run against
//! the subtask's tests in the executor before it is returned, and fixed when they fail.

use crate::backend::{Backend, BackendError, Turn, ask_until, lang_names};
use tracing::Instrument;
use edgecoder_executor::extract::extract_code;
use edgecoder_protocol::inference::{EscalateRequest, EscalateResponse};
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

fn system_prompt(lang: Lang) -> String {
    let (name, fence) = lang_names(lang);
    format!(
        "You are an expert {name} programmer. Write the code the subtask asks for. It runs in a \
         restricted interpreter: standard library only, no files, network, processes, threads or \
         async. Answer with the complete code in one ```{fence} block and nothing else."
    )
}

fn user_prompt(request: &EscalateRequest) -> String {
    let mut prompt = format!(
        "The whole job:\n{}\n\nThe subtask:\n{}\n",
        request.job_instruction.trim(),
        request.instruction.trim()
    );
    if let Some(tests) = &request.tests {
        prompt.push_str(&format!("\nTests the code must pass:\n{}\n", tests.trim()));
    }
    prompt.push_str(&format!("\nAn assistant tried and failed: {}\n", request.failure.trim()));
    prompt
}

/// Checks one answer: its code, in the subset, passing the tests when there are any.
async fn try_answer(reply: &str, request: &EscalateRequest, limits: &Limits) -> Result<String, String> {
    let mut code = extract_code(reply, request.lang).ok_or("the answer holds no code")?.code;
    if request.lang == Lang::Python {
        // Small models append demo asserts and prints, sometimes wrong ones: not the solution.
        code = edgecoder_executor::pysrc::tidy(&code);
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
    let turns = vec![Turn::system(system_prompt(request.lang)), Turn::user(user_prompt(request))];
    let span = tracing::info_span!("escalate", subtask = %request.subtask);
    let check = |reply: &str| {
        let reply = reply.to_owned();
        async move { try_answer(&reply, request, limits).await }
    };
    let again = |failure: &str| format!("That code failed: {failure}. Fix it and answer with the complete code in one block.");
    match ask_until(backend, turns, attempts, max_tokens, check, again).instrument(span).await? {
        Ok(output) => Ok(EscalateResponse { output }),
        Err(last) => Err(EscalateError::Failed { attempts: attempts.max(1), last }),
    }
}
