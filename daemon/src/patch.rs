//! Unified diffs as every part of the daemon writes them (the agent's workspace changes, the
//! review proposals, the swarm worker's patches): three lines of context, git-style names.

/// The unified diff from `before` to `after`, headed `old_name` → `new_name`.
pub fn diff(before: &str, after: &str, old_name: &str, new_name: &str) -> String {
    similar::TextDiff::from_lines(before, after).unified_diff().context_radius(3).header(old_name, new_name).to_string()
}

/// The unified diff of one file at `path` (`a/PATH` → `b/PATH`; from `/dev/null` when there
/// was no file `before`).
pub fn file_diff(path: &str, before: Option<&str>, after: &str) -> String {
    let old_name = if before.is_some() { format!("a/{path}") } else { "/dev/null".to_owned() };
    diff(before.unwrap_or(""), after, &old_name, &format!("b/{path}"))
}
