//! Decomposition: the model splits a job into subtasks; its answer must match the plan schema
//! ([`PlanReply`]) and its rules ([`validate`]), else it is asked again with the error.

use crate::backend::{Backend, BackendError, Turn, ask_until};
use tracing::Instrument;
use edgecoder_protocol::inference::{DecomposeRequest, DecomposeResponse, PlannedSubtask};
use edgecoder_protocol::run::Lang;
use edgecoder_protocol::swarm::WorkMode;
use serde::Deserialize;

/// The plan schema: the exact JSON the model must answer with.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanReply {
    /// The subtasks, in an order where each comes after those it needs.
    pub subtasks: Vec<PlanItem>,
}

/// One subtask of a [`PlanReply`].
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanItem {
    /// What to write: one self-contained piece of code.
    pub instruction: String,
    /// Tests in the job's language (assertions), or null.
    #[serde(default)]
    pub tests: Option<String>,
    /// Positions (from 0) of earlier subtasks whose code this one uses.
    #[serde(default)]
    pub after: Vec<u16>,
    /// The one file it changes, when the job edits a snapshot's files.
    #[serde(default)]
    pub file: Option<String>,
}

/// The longest instruction accepted, in bytes.
pub const MAX_INSTRUCTION_BYTES: usize = 4000;

/// Code versions a subtask with tests may try on an agent.
const MICRO_LOOP_ITERATIONS: u8 = 3;

/// Why a job could not be decomposed.
#[derive(Debug, thiserror::Error)]
pub enum DecomposeError {
    /// The request itself is unusable.
    #[error("{0}")]
    BadRequest(String),
    /// The backend gave no text.
    #[error(transparent)]
    Backend(#[from] BackendError),
    /// Every answer of the model broke the plan schema.
    #[error("the model's decomposition was invalid {attempts} times; the last answer: {last}")]
    Invalid {
        /// How many answers were tried.
        attempts: u32,
        /// What was wrong with the last one.
        last: String,
    },
}

fn language(lang: Lang) -> &'static str {
    match lang {
        Lang::Python => "Python",
        Lang::JavaScript => "JavaScript",
    }
}

/// Most snapshot files named in a prompt; a job with more lists the first ones.
const MAX_FILES_SHOWN: usize = 100;

fn system_prompt(lang: Lang, max_subtasks: u16, edits_files: bool) -> String {
    let (example_test, example_file) = match lang {
        Lang::Python => ("assert add(2, 3) == 5", "calc.py"),
        Lang::JavaScript => ("console.assert(add(2, 3) === 5);", "calc.js"),
    };
    let (file_field, file_rule) = if edits_files {
        (
            format!(", \"file\": \"{example_file}\""),
            "\n- \"file\": the one file the subtask changes: one of the job's files, or a new file.",
        )
    } else {
        (String::new(), "")
    };
    format!(
        "You split a {lang} programming job into small subtasks for code assistants.\n\
         Answer with JSON only, no other text, in exactly this shape:\n\
         {{\"subtasks\": [{{\"instruction\": \"Write a function add(a, b) that returns a + b.\", \
         \"tests\": \"{example_test}\", \"after\": []{file_field}}}]}}\n\
         Rules:\n\
         - 1 to {max_subtasks} subtasks; each writes one function, named with its parameters.\n\
         - Every function the job asks for gets a subtask.\n\
         - \"tests\": {lang} assertions that check that function, or null.\n\
         - \"after\": the positions (0 is the first) of earlier subtasks whose functions it calls.{file_rule}",
        lang = language(lang),
        example_test = example_test.replace('"', "\\\""),
    )
}

fn user_prompt(request: &DecomposeRequest, required: &[String]) -> String {
    let mut prompt = format!("The job:\n{}\n", request.instruction.trim());
    if let Some(tests) = &request.tests {
        prompt.push_str(&format!("\nThe job's tests:\n{}\n", tests.trim()));
    }
    if !required.is_empty() {
        prompt.push_str(&format!(
            "\nThe tests call these functions; write one subtask for each: {}\n",
            required.join(", ")
        ));
    }
    if !request.files.is_empty() {
        let shown = &request.files[..request.files.len().min(MAX_FILES_SHOWN)];
        prompt.push_str(&format!("\nThe job's files: {}", shown.join(", ")));
        if request.files.len() > shown.len() {
            prompt.push_str(&format!(" (and {} more)", request.files.len() - shown.len()));
        }
        prompt.push('\n');
    }
    prompt
}

/// The JSON object in a reply: from its first `{` to its last `}` (models wrap it in fences or
/// a sentence).
fn json_part(reply: &str) -> Option<&str> {
    let start = reply.find('{')?;
    let end = reply.rfind('}')?;
    (end > start).then(|| &reply[start..=end])
}

/// Names the builtins and test helpers of both languages: calls to them need no subtask.
const NOT_JOB_FUNCTIONS: &[&str] = &[
    "abs", "all", "any", "assert", "bool", "dict", "enumerate", "filter", "float", "frozenset", "int", "isinstance",
    "len", "list", "map", "max", "min", "not", "print", "range", "repr", "reversed", "round", "set", "sorted", "str",
    "sum", "tuple", "type", "zip", "console", "Array", "JSON", "Math", "Number", "Object", "String", "Set", "Map",
];

/// The functions the job's tests call (identifiers followed by `(` that are not builtins or
/// methods): a plan must cover each of them.
pub fn functions_called(tests: &str) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    let bytes = tests.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if c.is_ascii_alphabetic() || c == b'_' {
            let start = i;
            while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
                i += 1;
            }
            let name = &tests[start..i];
            let method = start > 0 && bytes[start - 1] == b'.';
            let quoted = tests[..start].matches(['"', '\'']).count() % 2 == 1;
            if i < bytes.len() && bytes[i] == b'(' && !method && !quoted && !NOT_JOB_FUNCTIONS.contains(&name)
                && !names.iter().any(|n| n == name)
            {
                names.push(name.to_owned());
            }
        } else {
            i += 1;
        }
    }
    names
}

/// Parses a model's reply and applies the plan rules; the error says what is wrong in words the
/// model can act on. `required` are the functions the plan's instructions must name; when
/// `edits_files`, every subtask must name the file it changes.
pub fn validate(
    reply: &str,
    lang: Lang,
    max_subtasks: u16,
    required: &[String],
    edits_files: bool,
) -> Result<Vec<PlannedSubtask>, String> {
    let json = json_part(reply).ok_or("there is no JSON object in it")?;
    let plan: PlanReply = serde_json::from_str(json).map_err(|e| format!("it does not match the JSON shape: {e}"))?;
    if plan.subtasks.is_empty() {
        return Err("\"subtasks\" is empty".into());
    }
    if plan.subtasks.len() > max_subtasks as usize {
        return Err(format!("it has {} subtasks; at most {max_subtasks} are allowed", plan.subtasks.len()));
    }
    if let Some(missing) =
        required.iter().find(|name| !plan.subtasks.iter().any(|s| s.instruction.contains(name.as_str())))
    {
        return Err(format!(
            "no subtask writes {missing}, which the job's tests call: every function the job needs must have a subtask"
        ));
    }
    plan.subtasks
        .into_iter()
        .enumerate()
        .map(|(i, item)| {
            let instruction = item.instruction.trim().to_owned();
            if instruction.is_empty() {
                return Err(format!("subtask {i} has an empty instruction"));
            }
            if instruction.len() > MAX_INSTRUCTION_BYTES {
                return Err(format!("subtask {i}'s instruction is longer than {MAX_INSTRUCTION_BYTES} bytes"));
            }
            let mut after = item.after;
            if let Some(&bad) = after.iter().find(|&&p| p as usize >= i) {
                return Err(format!("subtask {i} lists {bad} in \"after\", which is not an earlier subtask"));
            }
            let count = after.len();
            after.sort_unstable();
            after.dedup();
            if after.len() != count {
                return Err(format!("subtask {i} lists the same position twice in \"after\""));
            }
            let tests = item.tests.map(|t| t.trim().to_owned()).filter(|t| !t.is_empty());
            if let Some(tests) = &tests {
                edgecoder_executor::check(tests, lang)
                    .map_err(|e| format!("subtask {i}'s tests cannot run on the agents: {e}"))?;
            }
            let mode = match tests {
                Some(_) => WorkMode::MicroLoop { max_iterations: MICRO_LOOP_ITERATIONS },
                None => WorkMode::Step,
            };
            let file = match (item.file.map(|f| f.trim().trim_start_matches("./").to_owned()), edits_files) {
                (None, true) => return Err(format!("subtask {i} has no \"file\": name the one file it changes")),
                (Some(_), false) => return Err(format!("subtask {i} has a \"file\", but this job edits no files")),
                (Some(file), true) => {
                    edgecoder_protocol::swarm::check_snapshot_path(&file)
                        .map_err(|e| format!("subtask {i}'s \"file\" {file:?} is not usable: {e}"))?;
                    Some(file)
                }
                (None, false) => None,
            };
            Ok(PlannedSubtask { instruction, mode, tests, after, model: None, file })
        })
        .collect()
}

/// Asks `backend` for a decomposition of `request`, at most `attempts` times.
pub async fn decompose(
    backend: &dyn Backend,
    request: &DecomposeRequest,
    attempts: u32,
    max_tokens: usize,
) -> Result<DecomposeResponse, DecomposeError> {
    if request.instruction.trim().is_empty() {
        return Err(DecomposeError::BadRequest("the job's instruction is empty".into()));
    }
    if request.max_subtasks == 0 {
        return Err(DecomposeError::BadRequest("max_subtasks is 0: ask for at least one subtask".into()));
    }
    if let Some((file, error)) =
        request.files.iter().find_map(|f| edgecoder_protocol::swarm::check_snapshot_path(f).err().map(|e| (f, e)))
    {
        return Err(DecomposeError::BadRequest(format!("the job's file {file:?} is not a snapshot path: {error}")));
    }
    let edits_files = !request.files.is_empty();
    let required = request.tests.as_deref().map(functions_called).unwrap_or_default();
    let turns = vec![
        Turn::system(system_prompt(request.lang, request.max_subtasks, edits_files)),
        Turn::user(user_prompt(request, &required)),
    ];
    let span = tracing::info_span!("decompose", job = %request.job);
    let check =
        |reply: &str| std::future::ready(validate(reply, request.lang, request.max_subtasks, &required, edits_files));
    let again = |error: &str| format!("That answer is invalid: {error}. Answer again with JSON only, in the shape given.");
    match ask_until(backend, turns, attempts, max_tokens, check, again).instrument(span).await? {
        Ok(subtasks) => Ok(DecomposeResponse { subtasks }),
        Err(last) => Err(DecomposeError::Invalid { attempts: attempts.max(1), last }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fenced_plan_with_dependencies_is_read() {
        let reply = "Here it is:\n```json\n{\"subtasks\": [{\"instruction\": \"Write f(x).\", \"tests\": \"assert f(1) == 2\", \"after\": []},\n {\"instruction\": \"Write g(x) using f.\", \"after\": [0]}]}\n```";
        let plan = validate(reply, Lang::Python, 4, &[], false).unwrap();
        assert_eq!(plan.len(), 2);
        assert_eq!(plan[0].mode, WorkMode::MicroLoop { max_iterations: 3 });
        assert_eq!(plan[1].mode, WorkMode::Step);
        assert_eq!(plan[1].after, vec![0]);
    }

    #[test]
    fn each_broken_rule_is_named() {
        let cases = [
            ("no json here", "no JSON object"),
            ("{\"subtasks\": []}", "empty"),
            ("{\"steps\": []}", "does not match"),
            ("{\"subtasks\": [{\"instruction\": \"a\", \"extra\": 1}]}", "does not match"),
            ("{\"subtasks\": [{\"instruction\": \"  \"}]}", "empty instruction"),
            ("{\"subtasks\": [{\"instruction\": \"a\", \"after\": [0]}]}", "not an earlier subtask"),
            ("{\"subtasks\": [{\"instruction\": \"a\"}, {\"instruction\": \"b\", \"after\": [0, 0]}]}", "twice"),
            ("{\"subtasks\": [{\"instruction\": \"a\", \"tests\": \"import os\\nassert os\"}]}", "cannot run"),
            ("{\"subtasks\": [{\"instruction\": \"a\"}, {\"instruction\": \"b\"}, {\"instruction\": \"c\"}]}", "at most 2"),
        ];
        for (reply, expected) in cases {
            let error = validate(reply, Lang::Python, 2, &[], false).unwrap_err();
            assert!(error.contains(expected), "{reply}: {error}");
        }
    }

    #[test]
    fn a_plan_must_cover_the_functions_the_tests_call() {
        let tests = "assert is_prime(7)\nassert primes_below(12) == [2, 3, 5, 7, 11]\nassert len(x.split('f(')) == 1\n";
        let required = functions_called(tests);
        assert_eq!(required, vec!["is_prime", "primes_below"]);
        let partial = "{\"subtasks\": [{\"instruction\": \"Write is_prime(n).\"}]}";
        let error = validate(partial, Lang::Python, 4, &required, false).unwrap_err();
        assert!(error.contains("no subtask writes primes_below"), "{error}");
        let full = "{\"subtasks\": [{\"instruction\": \"Write is_prime(n).\"}, {\"instruction\": \"Write primes_below(n).\", \"after\": [0]}]}";
        assert_eq!(validate(full, Lang::Python, 4, &required, false).unwrap().len(), 2);
        assert_eq!(functions_called("console.assert(add(2, 3) === 5);"), vec!["add"]);
    }

    #[test]
    fn a_plan_for_a_job_that_edits_files_names_one_file_per_subtask() {
        let plan = "{\"subtasks\": [{\"instruction\": \"Add sub(a, b).\", \"file\": \"./calc.py\"}, \
                    {\"instruction\": \"Write shout(s).\", \"file\": \"text/shout.py\", \"after\": [0]}]}";
        let subtasks = validate(plan, Lang::Python, 4, &[], true).unwrap();
        assert_eq!(subtasks[0].file.as_deref(), Some("calc.py"));
        assert_eq!(subtasks[1].file.as_deref(), Some("text/shout.py"));
        let cases = [
            ("{\"subtasks\": [{\"instruction\": \"Add sub.\"}]}", true, "has no \"file\""),
            ("{\"subtasks\": [{\"instruction\": \"Add sub.\", \"file\": \"../etc/passwd\"}]}", true, "not usable"),
            ("{\"subtasks\": [{\"instruction\": \"Add sub.\", \"file\": \"/etc/passwd\"}]}", true, "not usable"),
            ("{\"subtasks\": [{\"instruction\": \"Add sub.\", \"file\": \"calc.py\"}]}", false, "edits no files"),
        ];
        for (reply, edits, expected) in cases {
            let error = validate(reply, Lang::Python, 4, &[], edits).unwrap_err();
            assert!(error.contains(expected), "{reply}: {error}");
        }
        let request = DecomposeRequest {
            job: edgecoder_protocol::ids::MessageId([1; 16]),
            lang: Lang::Python,
            instruction: "Add sub(a, b) to calc.py.".into(),
            tests: None,
            max_subtasks: 4,
            files: vec!["calc.py".into(), "README.md".into()],
        };
        assert!(system_prompt(Lang::Python, 4, true).contains("\"file\": \"calc.py\""));
        assert!(!system_prompt(Lang::Python, 4, false).contains("\"file\""));
        assert!(user_prompt(&request, &[]).contains("The job's files: calc.py, README.md"));
    }
}
