//! `edgecoder check`: the subset check alone, without running anything.

use super::{Execute, Exit, Failure, language, read_source};
use clap::Args;
use edgecoder_executor::Lang;
use std::path::PathBuf;

/// Check FILE against the on-device subset. Prints `ok` or the reason code, where, and why;
/// exits 3 when the code is outside the subset. A syntax error is not a subset violation: it
/// is reported when the program runs.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The program to check (.py, .js, .mjs, .cjs).
    pub file: PathBuf,
    /// Language; guessed from FILE's extension when absent.
    #[arg(long)]
    pub lang: Option<Lang>,
    /// Print the verdict as one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
}

impl Execute for CheckArgs {
    fn execute(self) -> Result<Exit, Failure> {
        let lang = language(&self.file, self.lang)?;
        let code = read_source(&self.file)?;
        let verdict = edgecoder_executor::check(&code, lang);
        let shown = self.file.display();
        match (&verdict, self.json) {
            (Ok(()), false) => println!("ok: {shown} is inside the on-device subset"),
            (Err(v), false) => {
                println!("{} {shown}:{}:{}: {}", v.code, v.line, v.col, v.message);
                println!("  construct: {}", v.construct);
            }
            (Ok(()), true) => println!("{}", serde_json::json!({ "ok": true })),
            (Err(v), true) => println!(
                "{}",
                serde_json::json!({
                    "ok": false,
                    "code": v.code,
                    "construct": v.construct,
                    "line": v.line,
                    "col": v.col,
                    "message": v.message,
                })
            ),
        }
        Ok(if verdict.is_ok() {
            Exit::Ok
        } else {
            Exit::OutsideSubset
        })
    }
}
