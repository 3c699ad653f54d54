//! What the fleet allows this device to do with the models it installs over the air: the
//! coordinator's local-model feature and mode for this agent, as the swarm worker last received
//! them. Kept next to the model store, so the daemon that serves the IDE obeys them too.
//!
//! A device that never joined a fleet has no record, and every installed model serves
//! everyone (a user's own `edgecoder model install`). Once a fleet has spoken, a model it
//! installed serves swarm work while the local-model feature is on, and the IDE only when the
//! mode is also `ide-enabled`.

use edgecoder_protocol::swarm::{AgentFeatures, ModelMode};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Who wants to run a model on this device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelUse {
    /// The daemon serving the user's IDE, chats and agent tasks.
    Ide,
    /// The swarm worker, for fleet work.
    Swarm,
}

/// The fleet's settings as this device last received them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FleetRecord {
    /// The settings.
    pub features: AgentFeatures,
    /// The broker (coordinator) they came from.
    pub coordinator: String,
    /// When they were received, milliseconds since the Unix epoch.
    pub received_ms: u64,
}

impl FleetRecord {
    /// Why a model the fleet installed may not serve `by` (`None`: it may).
    pub fn withholds(&self, by: ModelUse) -> Option<String> {
        let features = &self.features;
        if !features.local_model {
            return Some(format!("the fleet ({}) turned this device's local-model feature off", self.coordinator));
        }
        if by == ModelUse::Ide && features.mode == ModelMode::SwarmOnly {
            return Some(format!("the fleet ({}) runs this device swarm-only: its models serve swarm work, not the IDE", self.coordinator));
        }
        None
    }
}

/// Why the record could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum FleetError {
    /// The file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The record could not be written.
    #[error(transparent)]
    Write(#[from] crate::slots::SlotError),
    /// The file is not a record.
    #[error("{path} is damaged ({detail}); the fleet's next message rewrites it")]
    Damaged {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
}

/// The file that holds the record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FleetSettings {
    path: PathBuf,
}

impl FleetSettings {
    /// The record kept in `path`.
    pub fn at(path: impl Into<PathBuf>) -> FleetSettings {
        FleetSettings { path: path.into() }
    }

    /// Its file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The record, or `None` when no fleet has spoken.
    pub fn read(&self) -> Result<Option<FleetRecord>, FleetError> {
        match std::fs::read(&self.path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| FleetError::Damaged { path: self.path.clone(), detail: e.to_string() }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(FleetError::Io { path: self.path.clone(), source }),
        }
    }

    /// Why a model the fleet installed may not serve `by`: `None` when it may. A damaged or
    /// unreadable record withholds (the safe side) and says so.
    pub fn withholds(&self, by: ModelUse) -> Option<String> {
        match self.read() {
            Ok(None) => None,
            Ok(Some(record)) => record.withholds(by),
            Err(error) => Some(format!("the fleet's settings cannot be read ({error})")),
        }
    }

    /// Replaces the record (atomically: a crash leaves the old or the new one).
    pub fn write(&self, record: &FleetRecord) -> Result<(), FleetError> {
        let dir = self.path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).map_err(|source| FleetError::Io { path: dir.to_owned(), source })?;
        let bytes = serde_json::to_vec_pretty(record).expect("a fleet record serializes");
        Ok(crate::slots::replace_file(&self.path, &bytes)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(local_model: bool, mode: ModelMode) -> FleetRecord {
        FleetRecord { features: AgentFeatures { local_model, mode }, coordinator: "mqtt://fleet:1883".into(), received_ms: 1 }
    }

    #[test]
    fn the_mode_and_the_toggle_decide_who_may_use_fleet_models() {
        assert_eq!(record(true, ModelMode::IdeEnabled).withholds(ModelUse::Ide), None);
        assert_eq!(record(true, ModelMode::IdeEnabled).withholds(ModelUse::Swarm), None);
        let swarm_only = record(true, ModelMode::SwarmOnly);
        assert!(swarm_only.withholds(ModelUse::Ide).unwrap().contains("swarm-only"));
        assert_eq!(swarm_only.withholds(ModelUse::Swarm), None);
        for by in [ModelUse::Ide, ModelUse::Swarm] {
            assert!(record(false, ModelMode::IdeEnabled).withholds(by).unwrap().contains("local-model feature off"));
        }
    }

    #[test]
    fn no_record_allows_everyone_and_a_damaged_one_withholds() {
        let dir = tempfile::tempdir().unwrap();
        let settings = FleetSettings::at(dir.path().join("fleet.json"));
        assert_eq!(settings.read().unwrap(), None);
        assert_eq!(settings.withholds(ModelUse::Ide), None);
        let written = record(true, ModelMode::SwarmOnly);
        settings.write(&written).unwrap();
        assert_eq!(settings.read().unwrap(), Some(written));
        assert!(!dir.path().join("fleet.tmp").exists());
        std::fs::write(settings.path(), b"{not json").unwrap();
        assert!(matches!(settings.read(), Err(FleetError::Damaged { .. })));
        assert!(settings.withholds(ModelUse::Swarm).unwrap().contains("cannot be read"));
    }
}
