//! `edgecoder token`: print the daemon's bearer token (making it when the daemon has never run),
//! for use as the API key in IDEs.

use clap::Args;

use super::client::DaemonArgs;
use super::{Execute, Exit, Failure};

/// Print the bearer token.
#[derive(Debug, Args)]
pub struct TokenArgs {
    #[command(flatten)]
    daemon: DaemonArgs,
}

impl Execute for TokenArgs {
    fn execute(self) -> Result<Exit, Failure> {
        let config = self.daemon.load()?;
        let path = config.token_path().map_err(|e| Failure::new(Exit::Usage, e))?;
        let token = crate::server::token::load_or_create(&path, crate::server::token::Sharing::of(config.group_access)).map_err(|e| Failure::new(Exit::Io, e))?;
        println!("{token}");
        Ok(Exit::Ok)
    }
}
