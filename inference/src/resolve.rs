//! Conflict resolution: the parent model combines two changes to a file that overlap (patches
//! of one job, merged by the coordinator). Each answer is checked before it is returned: no
//! conflict markers left, and a file in the job's language runs in the executor — against the
//! job's tests when it is the only conflicting file. A failing answer is asked for again with
//! the failure shown to the model.

use crate::backend::{Backend, BackendError, Turn, ask_until};
use tracing::Instrument;
use edgecoder_executor::extract::extract_code;
use edgecoder_protocol::inference::{ConflictedFile, ResolveRequest, ResolveResponse, ResolvedFile, has_conflict_markers};
use edgecoder_protocol::run::{Lang, Limits};

/// Why a conflict could not be resolved.
#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    /// The request itself is unusable.
    #[error("{0}")]
    BadRequest(String),
    /// The backend gave no text.
    #[error(transparent)]
    Backend(#[from] BackendError),
    /// Every answer for one file failed its checks.
    #[error("the model could not resolve {path} in {attempts} answers; the last failure: {last}")]
    Failed {
        /// The file.
        path: String,
        /// How many answers were tried.
        attempts: u32,
        /// How the last one failed.
        last: String,
    },
}

/// The language of a file, by its extension, when the executor runs it.
fn file_lang(path: &str) -> Option<Lang> {
    let extension = path.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase())?;
    match extension.as_str() {
        "py" => Some(Lang::Python),
        "js" | "mjs" | "cjs" => Some(Lang::JavaScript),
        _ => None,
    }
}

const SYSTEM_PROMPT: &str = "You merge code changes. Two changes were made to the same file \
    and overlap. Write the whole file with both changes combined, so that everything either \
    change added or fixed is there and works. Keep every other line as it is. Answer with the \
    complete file in one fenced block and nothing else.";

fn user_prompt(request: &ResolveRequest, file: &ConflictedFile) -> String {
    let mut prompt = format!("The job both changes serve:\n{}\n", request.job_instruction.trim());
    if !file.original.is_empty() {
        prompt.push_str(&format!("\nThe file {} before the changes:\n```\n{}```\n", file.path, file.original));
    }
    match sides(&file.marked) {
        // Small models copy conflict markers they are shown: show each version whole instead.
        Some((first, second)) => prompt.push_str(&format!(
            "\nThe file after the first change:\n```\n{first}```\n\nThe file after the second change:\n```\n{second}```\n\nWrite {} with both changes.\n",
            file.path
        )),
        None => prompt.push_str(&format!("\nThe file {} with the conflicting changes:\n```\n{}```\n", file.path, file.marked)),
    }
    prompt
}

/// The two versions a file with conflict markers joins (`<<<<<<<` first change, `|||||||`
/// original, `=======` second change, `>>>>>>>` end), each whole; `None` when the markers are
/// not well formed.
fn sides(marked: &str) -> Option<(String, String)> {
    #[derive(PartialEq)]
    enum Part {
        Both,
        First,
        Original,
        Second,
    }
    let (mut first, mut second, mut part) = (String::new(), String::new(), Part::Both);
    for line in marked.split_inclusive('\n') {
        let next = match part {
            Part::Both if line.starts_with("<<<<<<<") => Some(Part::First),
            Part::First if line.starts_with("|||||||") => Some(Part::Original),
            Part::First | Part::Original if line.trim_end() == "=======" => Some(Part::Second),
            Part::Second if line.starts_with(">>>>>>>") => Some(Part::Both),
            _ => None,
        };
        if let Some(next) = next {
            part = next;
            continue;
        }
        match part {
            Part::Both => {
                first.push_str(line);
                second.push_str(line);
            }
            Part::First => first.push_str(line),
            Part::Second => second.push_str(line),
            Part::Original => {}
        }
    }
    (part == Part::Both && first != second).then_some((first, second))
}

/// The file's content in `reply`: its code block (by the file's language, else the first
/// fenced block), or the whole reply when it has no fence.
fn answered_content(reply: &str, lang: Option<Lang>) -> Option<String> {
    if let Some(lang) = lang {
        return extract_code(reply, lang).map(|e| e.code);
    }
    let mut lines = reply.lines().skip_while(|l| !l.trim_start().starts_with("```"));
    if lines.next().is_none() {
        let text = reply.trim();
        return (!text.is_empty()).then(|| format!("{text}\n"));
    }
    let body: Vec<&str> = lines.take_while(|l| !l.trim_start().starts_with("```")).collect();
    (!body.is_empty()).then(|| body.join("\n") + "\n")
}

/// Checks one answer for `file`: the resolved content, or why it is not usable.
async fn try_answer(reply: &str, request: &ResolveRequest, file: &ConflictedFile, limits: &Limits) -> Result<String, String> {
    let lang = file_lang(&file.path);
    let content = answered_content(reply, lang).ok_or("the answer holds no file")?;
    if has_conflict_markers(&content) {
        return Err("the file still holds conflict markers: combine the changes and leave no marker lines".into());
    }
    let Some(lang) = lang.filter(|&l| l == request.lang) else {
        return Ok(content);
    };
    if edgecoder_executor::check(&content, lang).is_err() {
        // Outside what the executor runs (a module of a larger program): not checked further.
        return Ok(content);
    }
    let tests = request.tests.clone().filter(|_| request.files.len() == 1);
    let (code, limits) = (content.clone(), limits.clone());
    let failure = tokio::task::spawn_blocking(move || match tests {
        Some(tests) => {
            let report = edgecoder_executor::run_tests(&code, &tests, lang, &limits);
            (!report.all_passed()).then(|| format!("the job's tests failed: {}", report.failure_summary()))
        }
        None => {
            let run = edgecoder_executor::run(&code, lang, &limits);
            (!run.outcome.is_ok()).then(|| format!("the file does not run: {}", run.stderr.trim()))
        }
    })
    .await
    .expect("the executor does not panic");
    failure.map_or(Ok(content), Err)
}

/// Asks `backend` to resolve every file of `request`, at most `attempts` answers a file, each
/// checked under `limits`.
pub async fn resolve(
    backend: &dyn Backend,
    request: &ResolveRequest,
    attempts: u32,
    max_tokens: usize,
    limits: &Limits,
) -> Result<ResolveResponse, ResolveError> {
    if request.files.is_empty() {
        return Err(ResolveError::BadRequest("no conflicting files were given".into()));
    }
    if let Some(file) = request.files.iter().find(|f| !has_conflict_markers(&f.marked)) {
        return Err(ResolveError::BadRequest(format!(
            "{} has no conflict markers: send each file's merged content with its conflicts marked",
            file.path
        )));
    }
    let mut files = Vec::with_capacity(request.files.len());
    for file in &request.files {
        let turns = vec![Turn::system(SYSTEM_PROMPT), Turn::user(user_prompt(request, file))];
        let span = tracing::info_span!("resolve", job = %request.job, path = %file.path);
        let check = |reply: &str| {
            let reply = reply.to_owned();
            async move { try_answer(&reply, request, file, limits).await }
        };
        let again = |failure: &str| format!("That answer failed: {failure}. Answer again with the complete file in one fenced block.");
        let content = ask_until(backend, turns, attempts, max_tokens, check, again)
            .instrument(span)
            .await?
            .map_err(|last| ResolveError::Failed { path: file.path.clone(), attempts: attempts.max(1), last })?;
        files.push(ResolvedFile { path: file.path.clone(), content });
    }
    Ok(ResolveResponse { files })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_is_taken_from_its_block_by_language_or_from_the_first_fence() {
        let python = "Here it is:\n```python\ndef f():\n    return 1\n```\nDone.";
        assert_eq!(answered_content(python, Some(Lang::Python)).unwrap(), "def f():\n    return 1\n");
        let markdown = "```markdown\n# Title\n\ntext\n```\n";
        assert_eq!(answered_content(markdown, None).unwrap(), "# Title\n\ntext\n");
        assert_eq!(answered_content("plain words\n", None).unwrap(), "plain words\n");
        assert_eq!(answered_content("```\n```", None), None);
        assert_eq!(file_lang("src/app.MJS"), Some(Lang::JavaScript));
        assert_eq!(file_lang("README"), None);
    }

    #[test]
    fn the_two_sides_of_a_conflict_are_each_whole_files() {
        let marked = "def add(a, b):\n<<<<<<< ours\n    return a + b\n||||||| original\n    return 0\n=======\n    return b + a\n>>>>>>> theirs\nx = 1\n";
        let (first, second) = sides(marked).unwrap();
        assert_eq!(first, "def add(a, b):\n    return a + b\nx = 1\n");
        assert_eq!(second, "def add(a, b):\n    return b + a\nx = 1\n");
        assert_eq!(sides("<<<<<<< ours\nunfinished\n"), None, "an open conflict is not well formed");
    }
}
