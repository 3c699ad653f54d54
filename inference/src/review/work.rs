//! One review: the larger model rewrites the code a device could not finish; its code is run in
//! the executor before it is returned (fixed and asked again when it fails), and the answer is a
//! unified diff from the device's code plus the model's explanation.

use crate::backend::{Backend, BackendError, Turn, ask_until, lang_names};
use edgecoder_executor::extract::extract_code;
use edgecoder_protocol::review::{ReviewReason, ReviewRequest, Verification};
use edgecoder_protocol::run::{Lang, Limits, Outcome};
use std::sync::Mutex;

/// What a review produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proposal {
    /// The proposed code.
    pub code: String,
    /// The model's explanation.
    pub explanation: String,
    /// How it was checked.
    pub verification: Verification,
}

/// Why a review gave no proposal.
#[derive(Debug, thiserror::Error)]
pub enum ReviewError {
    /// The backend gave no text.
    #[error(transparent)]
    Backend(#[from] BackendError),
    /// Every answer failed.
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
        "You are an expert {name} programmer reviewing code that a small on-device model could not \
         finish. Fix it so that it does the task, changing as little as needed. It is run in a \
         restricted interpreter before the user sees it: standard library only, no files, network, \
         processes, threads or async — when the task truly needs one of those, write it anyway. \
         Keep any [REDACTED:…] placeholder exactly as it is. Answer with the complete fixed code in \
         one ```{fence} block, then one sentence on what you changed."
    )
}

fn user_prompt(request: &ReviewRequest) -> String {
    let why = match request.why {
        ReviewReason::OutsideSubset => "its code is outside what the device can run",
        ReviewReason::GaveUp => "the small model gave up after several tries",
        ReviewReason::UserRequest => "the user asked for a review",
    };
    let fence = lang_names(request.lang).1;
    let mut prompt = format!("The task:\n{}\n\nThe code ({why}):\n```{fence}\n{}```\n", request.task.trim(), request.code);
    if !request.error.trim().is_empty() {
        prompt.push_str(&format!("\nWhat went wrong: {}\n", request.error.trim()));
    }
    for file in &request.context {
        prompt.push_str(&format!("\nMore context, `{}` (do not rewrite it):\n```\n{}\n```\n", file.name, file.text.trim_end()));
    }
    prompt
}

/// The text of a reply outside its code blocks, shortened: the model's explanation.
fn explanation(reply: &str) -> String {
    let mut prose = String::new();
    let mut in_fence = false;
    for line in reply.lines() {
        if line.trim_start().starts_with("```") {
            in_fence = !in_fence;
            continue;
        }
        if !in_fence && !line.trim().is_empty() {
            prose.push_str(line.trim());
            prose.push(' ');
        }
    }
    let prose = prose.trim();
    match prose.char_indices().nth(600) {
        Some((cut, _)) => format!("{}…", &prose[..cut]),
        None if prose.is_empty() => "The model gave no explanation.".into(),
        None => prose.to_owned(),
    }
}

fn short(text: &str, chars: usize) -> String {
    match text.char_indices().nth(chars) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

/// Checks one answer: code that runs in the executor is accepted; code outside the subset is kept
/// aside (a later answer may stay inside it) and the model is asked again.
async fn try_answer(reply: &str, request: &ReviewRequest, limits: &Limits, outside: &Mutex<Option<Proposal>>) -> Result<Proposal, String> {
    let lang = request.lang;
    // The code replaces the user's: it is kept whole (its prints and checks are part of it).
    let code = extract_code(reply, lang).ok_or("the answer holds no code block")?.code;
    if code.trim() == request.code.trim() {
        return Err("it is the device's code unchanged, which does not do the task; change it".into());
    }
    let explanation = explanation(reply);
    if let Err(violation) = edgecoder_executor::check(&code, lang) {
        let reason = violation.to_string();
        let verification = Verification::NotRun { reason: reason.clone() };
        *outside.lock().expect("never poisoned") = Some(Proposal { code, explanation, verification });
        return Err(format!("{reason}; if the task can be done without it, do so"));
    }
    let (solution, limits) = (code.clone(), limits.clone());
    let run = tokio::task::spawn_blocking(move || edgecoder_executor::run(&solution, lang, &limits))
        .await
        .expect("a run does not panic");
    match run.outcome {
        Outcome::Ok => Ok(Proposal { code, explanation, verification: Verification::Ran { stdout: short(&run.stdout, 2_000) } }),
        other => Err(format!("running it failed: {other:?}; stderr: {}", short(run.stderr.trim(), 800))),
    }
}

/// Asks `backend` for a proposal for `request`, at most `attempts` times.
pub async fn review(
    backend: &dyn Backend,
    request: &ReviewRequest,
    attempts: u32,
    max_tokens: usize,
    limits: &Limits,
) -> Result<Proposal, ReviewError> {
    let turns = vec![Turn::system(system_prompt(request.lang)), Turn::user(user_prompt(request))];
    let outside = Mutex::new(None);
    let check = |reply: &str| {
        let reply = reply.to_owned();
        let outside = &outside;
        async move { try_answer(&reply, request, limits, outside).await }
    };
    let again = |failure: &str| format!("That code failed: {failure}. Answer again: the complete code in one block, then one sentence on what you changed.");
    match ask_until(backend, turns, attempts, max_tokens, check, again).await? {
        Ok(proposal) => Ok(proposal),
        Err(last) => match outside.into_inner().expect("never poisoned") {
            // No answer ran; one outside the subset is the best there is, marked as not run.
            Some(proposal) => Ok(proposal),
            None => Err(ReviewError::Failed { attempts: attempts.max(1), last }),
        },
    }
}

/// The unified diff from the device's code to the proposal, on the file's name.
pub fn unified_diff(file: Option<&str>, before: &str, after: &str) -> String {
    let name = file.unwrap_or("solution");
    similar::TextDiff::from_lines(before, after)
        .unified_diff()
        .context_radius(3)
        .header(&format!("a/{name}"), &format!("b/{name}"))
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_explanation_is_the_prose_around_the_code() {
        let reply = "Replaced asyncio with a loop.\n```python\nx = 1\n```\nIt runs anywhere.";
        assert_eq!(explanation(reply), "Replaced asyncio with a loop. It runs anywhere.");
        assert_eq!(explanation("```python\nx = 1\n```"), "The model gave no explanation.");
        assert!(explanation(&"word ".repeat(400)).ends_with('…'));
    }

    #[test]
    fn the_prompt_carries_the_context_the_user_chose_to_send() {
        let mut request = ReviewRequest {
            version: 1,
            queue_id: "q".into(),
            why: ReviewReason::GaveUp,
            reason: None,
            lang: Lang::Python,
            file: Some("calc.py".into()),
            task: "make the tests pass".into(),
            code: "def add(a, b):\n    return a - b\n".into(),
            error: "test_add failed".into(),
            context: Vec::new(),
        };
        assert!(!user_prompt(&request).contains("More context"));
        request.context.push(edgecoder_protocol::review::ContextFile { name: "test_calc.py".into(), text: "assert add(2, 3) == 5\n".into() });
        let prompt = user_prompt(&request);
        assert!(prompt.contains("More context, `test_calc.py`") && prompt.contains("assert add(2, 3) == 5"), "{prompt}");
    }

    #[test]
    fn the_diff_names_the_file_and_shows_the_change() {
        let diff = unified_diff(Some("src/calc.py"), "a = 1\nb = 2\n", "a = 1\nb = 3\n");
        assert!(diff.starts_with("--- a/src/calc.py\n+++ b/src/calc.py\n"), "{diff}");
        assert!(diff.contains("-b = 2\n+b = 3\n"), "{diff}");
    }
}
