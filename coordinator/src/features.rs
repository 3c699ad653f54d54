//! Feature settings per tenant, group and agent: whether an agent may receive local models
//! (model rollouts reach only agents with the feature on) and the mode its local model serves
//! in (`swarm-only`, or `ide-enabled` so the device's IDE uses it too).
//!
//! Each level may set a value or leave it to the level above: agent → its group → the group's
//! tenant → the fleet default. What an agent ends up with names the level that decided it, so
//! an operator sees why. Kept in a file (atomic writes; a failed write changes nothing).

use edgecoder_protocol::ids::AgentId;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

pub use edgecoder_protocol::swarm::ModelMode as Mode;

/// Reads an operator's spelling of a mode.
pub fn parse_mode(text: &str) -> Result<Mode, FeatureError> {
    Mode::from_name(text)
        .ok_or_else(|| FeatureError::Invalid(format!("mode {text:?} is not known: use swarm-only or ide-enabled")))
}

/// One level's own settings; `None` leaves the value to the level above.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Setting {
    /// Whether agents may receive local models.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local_model: Option<bool>,
    /// What the local model serves.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<Mode>,
}

/// Which level a setting is for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    /// The whole fleet (what no tenant, group or agent overrides).
    Fleet,
    /// A tenant, by name.
    Tenant(String),
    /// A group, by name.
    Group(String),
    /// One agent.
    Agent(AgentId),
}

impl std::fmt::Display for Level {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Level::Fleet => f.write_str("fleet default"),
            Level::Tenant(name) => write!(f, "tenant {name}"),
            Level::Group(name) => write!(f, "group {name}"),
            Level::Agent(id) => write!(f, "agent {id}"),
        }
    }
}

/// A value an agent ends up with, and the level that decided it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Decided<T> {
    /// The value.
    pub value: T,
    /// Where it comes from.
    pub from: Level,
}

/// An agent's effective settings, with their origin.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Effective {
    /// The agent's group, when it has one.
    pub group: Option<String>,
    /// The group's tenant, when it has one.
    pub tenant: Option<String>,
    /// Whether it may receive local models.
    pub local_model: Decided<bool>,
    /// What its local model serves.
    pub mode: Decided<Mode>,
}

/// Why a change was refused or could not be saved.
#[derive(Debug, thiserror::Error)]
pub enum FeatureError {
    /// The change is not valid.
    #[error("{0}")]
    Invalid(String),
    /// The file could not be read or written.
    #[error("feature file {path}: {message}")]
    File {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
}

/// A group's settings and its tenant.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Group {
    /// The tenant it belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    /// Its own settings.
    #[serde(default)]
    pub setting: Setting,
}

/// An agent's settings and its group.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    /// The group it belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// Its own settings.
    #[serde(default)]
    pub setting: Setting,
}

/// Every level's settings, as saved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tree {
    /// The fleet default; both values are always set here.
    pub fleet: Setting,
    /// Tenants by name.
    #[serde(default)]
    pub tenants: BTreeMap<String, Setting>,
    /// Groups by name.
    #[serde(default)]
    pub groups: BTreeMap<String, Group>,
    /// Agents that have settings or a group.
    #[serde(default)]
    pub agents: BTreeMap<AgentId, Member>,
}

impl Default for Tree {
    fn default() -> Tree {
        Tree {
            fleet: Setting { local_model: Some(true), mode: Some(Mode::SwarmOnly) },
            tenants: BTreeMap::new(),
            groups: BTreeMap::new(),
            agents: BTreeMap::new(),
        }
    }
}

impl Tree {
    /// The settings `agent` ends up with.
    pub fn effective(&self, agent: &AgentId) -> Effective {
        let member = self.agents.get(agent);
        let group_name = member.and_then(|m| m.group.clone());
        let group = group_name.as_ref().and_then(|g| self.groups.get(g));
        let tenant_name = group.and_then(|g| g.tenant.clone());
        let tenant = tenant_name.as_ref().and_then(|t| self.tenants.get(t));
        let mut levels: Vec<(Level, &Setting)> = Vec::with_capacity(4);
        if let Some(m) = member {
            levels.push((Level::Agent(agent.clone()), &m.setting));
        }
        if let (Some(name), Some(g)) = (&group_name, group) {
            levels.push((Level::Group(name.clone()), &g.setting));
        }
        if let (Some(name), Some(t)) = (&tenant_name, tenant) {
            levels.push((Level::Tenant(name.clone()), t));
        }
        levels.push((Level::Fleet, &self.fleet));
        let local_model = levels
            .iter()
            .find_map(|(level, s)| s.local_model.map(|value| Decided { value, from: level.clone() }))
            .unwrap_or(Decided { value: true, from: Level::Fleet });
        let mode = levels
            .iter()
            .find_map(|(level, s)| s.mode.map(|value| Decided { value, from: level.clone() }))
            .unwrap_or(Decided { value: Mode::SwarmOnly, from: Level::Fleet });
        Effective { group: group_name, tenant: tenant_name, local_model, mode }
    }

    fn set(&mut self, level: &Level, setting: Setting) -> Result<(), FeatureError> {
        match level {
            Level::Fleet => {
                if setting.local_model.is_none() || setting.mode.is_none() {
                    return Err(FeatureError::Invalid(
                        "the fleet default sets both local_model and mode (there is no level above it to inherit from)".into(),
                    ));
                }
                self.fleet = setting;
            }
            Level::Tenant(name) => {
                check_name(name)?;
                self.tenants.insert(name.clone(), setting);
            }
            Level::Group(name) => {
                check_name(name)?;
                self.groups.entry(name.clone()).or_default().setting = setting;
            }
            Level::Agent(id) => {
                self.agents.entry(id.clone()).or_default().setting = setting;
            }
        }
        Ok(())
    }
}

fn check_name(name: &str) -> Result<(), FeatureError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(FeatureError::Invalid(format!(
            "{name:?} is not a valid tenant or group name: 1-64 characters of letters, digits, '-', '_' or '.'"
        )))
    }
}

/// The feature settings, kept in a file.
#[derive(Debug)]
pub struct Features {
    path: Option<PathBuf>,
    tree: Mutex<Tree>,
}

impl Features {
    /// Settings kept only in memory (tests): the feature on, swarm-only, for every agent.
    pub fn in_memory() -> Features {
        Features { path: None, tree: Mutex::new(Tree::default()) }
    }

    /// The settings in `path` (the defaults when it does not exist yet).
    pub fn open(path: &Path) -> Result<Features, FeatureError> {
        let file_error = |message: String| FeatureError::File { path: path.to_owned(), message };
        let tree = match std::fs::read(path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map_err(|e| file_error(format!("does not parse ({e}); fix or remove it")))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Tree::default(),
            Err(e) => return Err(file_error(e.to_string())),
        };
        Ok(Features { path: Some(path.to_owned()), tree: Mutex::new(tree) })
    }

    /// Every level's own settings.
    pub fn tree(&self) -> Tree {
        self.tree.lock().expect("the feature lock is never poisoned").clone()
    }

    /// What `agent` ends up with.
    pub fn effective(&self, agent: &AgentId) -> Effective {
        self.tree.lock().expect("the feature lock is never poisoned").effective(agent)
    }

    /// Sets one level's own settings.
    pub fn set(&self, level: &Level, setting: Setting) -> Result<(), FeatureError> {
        self.update(|tree| tree.set(level, setting))
    }

    /// Puts `agent` in `group` (`None`: in no group).
    pub fn assign_agent(&self, agent: &AgentId, group: Option<&str>) -> Result<(), FeatureError> {
        self.update(|tree| {
            if let Some(name) = group {
                check_name(name)?;
                tree.groups.entry(name.to_owned()).or_default();
            }
            tree.agents.entry(agent.clone()).or_default().group = group.map(str::to_owned);
            Ok(())
        })
    }

    /// Puts `group` in `tenant` (`None`: in no tenant).
    pub fn assign_group(&self, group: &str, tenant: Option<&str>) -> Result<(), FeatureError> {
        check_name(group)?;
        self.update(|tree| {
            if let Some(name) = tenant {
                check_name(name)?;
                tree.tenants.entry(name.to_owned()).or_default();
            }
            tree.groups.entry(group.to_owned()).or_default().tenant = tenant.map(str::to_owned);
            Ok(())
        })
    }

    fn update(&self, change: impl FnOnce(&mut Tree) -> Result<(), FeatureError>) -> Result<(), FeatureError> {
        let mut tree = self.tree.lock().expect("the feature lock is never poisoned");
        let mut copy = tree.clone();
        change(&mut copy)?;
        if let Some(path) = &self.path {
            let file_error = |message: String| FeatureError::File { path: path.clone(), message };
            let bytes = serde_json::to_vec_pretty(&copy).map_err(|e| file_error(e.to_string()))?;
            crate::fsutil::write_atomically(path, &bytes).map_err(|e| file_error(e.to_string()))?;
        }
        *tree = copy;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn agent(name: &str) -> AgentId {
        AgentId::new(name).unwrap()
    }

    #[test]
    fn each_value_comes_from_the_nearest_level_that_sets_it() {
        let features = Features::in_memory();
        let laptop = agent("laptop-1");
        assert_eq!(features.effective(&laptop).local_model, Decided { value: true, from: Level::Fleet });
        features.assign_group("build-farm", Some("acme")).unwrap();
        features.assign_agent(&laptop, Some("build-farm")).unwrap();
        features
            .set(&Level::Tenant("acme".into()), Setting { local_model: Some(false), mode: Some(Mode::IdeEnabled) })
            .unwrap();
        features.set(&Level::Group("build-farm".into()), Setting { local_model: Some(true), mode: None }).unwrap();
        let effective = features.effective(&laptop);
        assert_eq!(effective.group.as_deref(), Some("build-farm"));
        assert_eq!(effective.tenant.as_deref(), Some("acme"));
        assert_eq!(effective.local_model, Decided { value: true, from: Level::Group("build-farm".into()) });
        assert_eq!(effective.mode, Decided { value: Mode::IdeEnabled, from: Level::Tenant("acme".into()) });
        features.set(&Level::Agent(laptop.clone()), Setting { local_model: Some(false), mode: None }).unwrap();
        assert_eq!(
            features.effective(&laptop).local_model,
            Decided { value: false, from: Level::Agent(laptop.clone()) }
        );
        assert_eq!(features.effective(&agent("other")).local_model.from, Level::Fleet);
    }

    #[test]
    fn bad_changes_are_refused_and_change_nothing() {
        let features = Features::in_memory();
        let before = features.tree();
        let error = features.set(&Level::Fleet, Setting { local_model: None, mode: Some(Mode::SwarmOnly) }).unwrap_err();
        assert!(error.to_string().contains("sets both"), "{error}");
        let error = features.assign_group("bad name!", Some("acme")).unwrap_err();
        assert!(error.to_string().contains("not a valid"), "{error}");
        let error = features.assign_agent(&agent("a"), Some("")).unwrap_err();
        assert!(error.to_string().contains("not a valid"), "{error}");
        assert!(parse_mode("everything").unwrap_err().to_string().contains("swarm-only or ide-enabled"));
        assert_eq!(features.tree(), before);
    }

    #[test]
    fn settings_survive_a_restart_and_a_failed_write_keeps_the_old_ones() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("features.json");
        let features = Features::open(&path).unwrap();
        features.set(&Level::Agent(agent("pi-4")), Setting { local_model: Some(false), mode: None }).unwrap();
        let reopened = Features::open(&path).unwrap();
        assert!(!reopened.effective(&agent("pi-4")).local_model.value);

        std::fs::create_dir(crate::fsutil::temporary_of(&path)).unwrap();
        assert!(matches!(
            reopened.set(&Level::Agent(agent("pi-4")), Setting { local_model: Some(true), mode: None }),
            Err(FeatureError::File { .. })
        ));
        assert!(!reopened.effective(&agent("pi-4")).local_model.value);

        std::fs::write(&path, b"{broken").unwrap();
        let error = Features::open(&path).err().unwrap().to_string();
        assert!(error.contains("fix or remove it"), "{error}");
    }
}
