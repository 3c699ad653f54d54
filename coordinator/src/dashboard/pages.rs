//! The dashboard's pages, rendered on the server. Parts that change while an operator watches
//! carry `data-live` and an id: the page's script fetches the page again on a live update and
//! swaps those parts, leaving forms alone.

use super::{Board, Operator};
use crate::audit::{Entry, Event};
use crate::features::{Decided, Mode, Setting};
use crate::http::Api;
use crate::model::JobState;
use crate::registry::{AgentView, Liveness};
use crate::rollout::{AgentInstall, Rollout, RolloutState};
use axum::Extension;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use edgecoder_protocol::envelope::unix_time_ms;
use edgecoder_protocol::ids::{AgentId, MessageId};
use edgecoder_protocol::manifest::Statement;
use edgecoder_protocol::swarm::InstallState;
use maud::{DOCTYPE, Markup, html};
use serde::Deserialize;
use std::sync::Arc;

/// What the last form did, carried back in the query (`?ok=…` or `?error=…`).
#[derive(Debug, Default, Deserialize)]
pub(super) struct Flash {
    pub(super) ok: Option<String>,
    pub(super) error: Option<String>,
}

/// Which page the navigation marks.
#[derive(PartialEq, Eq, Clone, Copy)]
enum Nav {
    Fleet,
    Features,
    Policies,
    Rollouts,
    Jobs,
    Audit,
    Models,
}

const NAV: [(Nav, &str, &str); 7] = [
    (Nav::Fleet, "/dashboard", "Fleet"),
    (Nav::Features, "/dashboard/features", "Features"),
    (Nav::Policies, "/dashboard/policies", "Policies"),
    (Nav::Rollouts, "/dashboard/rollouts", "Rollouts"),
    (Nav::Jobs, "/dashboard/jobs", "Jobs"),
    (Nav::Audit, "/dashboard/audit", "Audit log"),
    (Nav::Models, "/dashboard/models", "Models"),
];

/// The `<head>` every page shares; `live`: with the live-update script.
fn head(title: &str, live: bool) -> Markup {
    html! {
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width, initial-scale=1";
            title { (title) " · EdgeCoder fleet" }
            link rel="stylesheet" href="/dashboard/static/app.css";
            link rel="icon" href="/dashboard/static/favicon.svg" type="image/svg+xml";
            @if live { script src="/dashboard/static/app.js" defer {} }
        }
    }
}

fn layout(title: &str, nav: Nav, csrf: &str, flash: &Flash, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            (head(title, true))
            body {
                header {
                    strong.brand { "EdgeCoder fleet" }
                    nav {
                        @for (item, href, label) in NAV {
                            a href=(href) aria-current=[(item == nav).then_some("page")] { (label) }
                        }
                    }
                    span #live .live title="Live updates" { "connecting" }
                    form method="post" action="/dashboard/logout" {
                        input type="hidden" name="csrf" value=(csrf);
                        button type="submit" { "Log out" }
                    }
                }
                main #content {
                    h1 { (title) }
                    @if let Some(ok) = &flash.ok { p.flash.ok role="status" { (ok) } }
                    @if let Some(error) = &flash.error { p.flash.error role="alert" { (error) } }
                    (body)
                }
            }
        }
    }
}

/// A page with one message (refusals, errors).
pub(super) fn message_page(title: &str, message: &str) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            (head(title, false))
            body.narrow {
                h1 { (title) }
                p.flash.error role="alert" { (message) }
                p { a href="/dashboard" { "Back to the dashboard" } }
            }
        }
    }
}

/// The login form; `nonce` ties it to the browser that loaded it.
pub(super) fn login_page(nonce: &str, error: Option<&str>) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            (head("Log in", false))
            body.narrow {
                h1 { "EdgeCoder fleet" }
                @if let Some(error) = error { p.flash.error role="alert" { (error) } }
                form.card method="post" action="/dashboard/login" {
                    input type="hidden" name="csrf" value=(nonce);
                    label { "Admin token" input #token type="password" name="token" autocomplete="current-password" required autofocus; }
                    button type="submit" { "Log in" }
                }
                p.hint { "The token is in the coordinator's state folder (admin.token). Only addresses on --admin-allow reach this page." }
            }
        }
    }
}

fn ago(then_ms: u64) -> String {
    let seconds = unix_time_ms().saturating_sub(then_ms) / 1000;
    match seconds {
        0..=59 => format!("{seconds} s ago"),
        60..=3599 => format!("{} min ago", seconds / 60),
        3600..=86_399 => format!("{} h ago", seconds / 3600),
        _ => format!("{} d ago", seconds / 86_400),
    }
}

fn when(ms: u64) -> String {
    let time = std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms);
    humantime::format_rfc3339_seconds(time).to_string()
}

fn liveness(l: Liveness) -> Markup {
    let (class, text) = match l {
        Liveness::Online => ("good", "online"),
        Liveness::Stale => ("warn", "stale"),
        Liveness::Offline => ("bad", "offline"),
        Liveness::Refusing => ("warn", "refusing"),
    };
    html! { span.badge.(class) { (text) } }
}

fn decided<T>(value: &Decided<T>, show: impl Fn(&T) -> String) -> Markup {
    html! {
        (show(&value.value)) " "
        span.origin title="where this value comes from" { "(" (value.from) ")" }
    }
}

fn on_off(on: &bool) -> String {
    if *on { "on".into() } else { "off".into() }
}

fn mode_name(mode: &Mode) -> String {
    mode.name().into()
}

fn install_state(install: &AgentInstall) -> Markup {
    let (class, text) = match install.state {
        None if install.withdrawn => ("muted", "withdrawn"),
        None => ("muted", "offered"),
        Some(InstallState::Downloading) => ("warn", "downloading"),
        Some(InstallState::Staged) => ("warn", "staged"),
        Some(InstallState::Installed) => ("good", "installed"),
        Some(InstallState::Refused) => ("bad", "refused"),
        Some(InstallState::Failed) => ("bad", "failed"),
    };
    html! { span.badge.(class) { (text) } }
}

fn rollout_state(state: &RolloutState) -> Markup {
    match state {
        RolloutState::Running => html! { span.badge.warn { "running" } },
        RolloutState::Complete => html! { span.badge.good { "complete" } },
        RolloutState::Halted { reason } => html! { span.badge.bad title=(reason) { "halted" } },
        RolloutState::RolledBack { by } => html! { span.badge.muted { "rolled back by " (by) } },
    }
}

fn progress(install: &AgentInstall) -> Markup {
    let percent = install.done_bytes.saturating_mul(100).checked_div(install.total_bytes).unwrap_or(0).min(100);
    html! {
        progress max="100" value=(percent) { (percent) "%" }
        " " (percent) "% · " (mib(install.done_bytes)) " of " (mib(install.total_bytes))
        @if install.rate_bps > 0 { " · " (mib(install.rate_bps)) "/s" }
    }
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

/// The newest rollout that reached `agent` and was not withdrawn from it (`rollouts`: newest
/// first).
fn latest_install<'a>(rollouts: &'a [Rollout], agent: &AgentId) -> Option<(&'a Rollout, &'a AgentInstall)> {
    rollouts.iter().find_map(|r| r.agents.get(agent).filter(|i| !i.withdrawn).map(|i| (r, i)))
}

/// The newest rollout of `model` that `agent` installed: the version it runs.
fn running_install<'a>(rollouts: &'a [Rollout], agent: &AgentId, model: Option<&str>) -> Option<(&'a Rollout, &'a AgentInstall)> {
    rollouts.iter().filter(|r| model.is_none_or(|m| r.model == m)).find_map(|r| {
        r.agents.get(agent).filter(|i| i.state == Some(InstallState::Installed)).map(|i| (r, i))
    })
}

fn setting_select(name: &str, current: Option<bool>) -> Markup {
    html! {
        select name=(name) {
            option value="inherit" selected[current.is_none()] { "inherit" }
            option value="on" selected[current == Some(true)] { "on" }
            option value="off" selected[current == Some(false)] { "off" }
        }
    }
}

fn mode_select(current: Option<Mode>) -> Markup {
    html! {
        select name="mode" {
            option value="inherit" selected[current.is_none()] { "inherit" }
            option value="swarm-only" selected[current == Some(Mode::SwarmOnly)] { "swarm-only" }
            option value="ide-enabled" selected[current == Some(Mode::IdeEnabled)] { "ide-enabled" }
        }
    }
}

fn setting_text(setting: &Setting) -> String {
    format!(
        "local model {}, mode {}",
        setting.local_model.map_or("inherited".to_string(), |on| on_off(&on)),
        setting.mode.map_or("inherited", |m| m.name())
    )
}

type Shared = State<Arc<Board>>;

/// The fleet: every agent that said hello.
pub(super) async fn fleet(State(board): Shared, Extension(op): Extension<Operator>, Query(flash): Query<Flash>) -> Markup {
    let service = &board.api.service;
    let agents = service.agents();
    let rollouts = service.rollouts();
    let policy_version = service.policies().version();
    let counts = service.store().counts().await.ok();
    let online = agents.iter().filter(|a| a.liveness == Liveness::Online).count();
    let running = rollouts.iter().filter(|r| r.state == RolloutState::Running).count();
    let body = html! {
        section #summary data-live {
            dl.stats {
                div { dt { "Agents" } dd { (agents.len()) } }
                div { dt { "Online" } dd { (online) } }
                div { dt { "Rollouts running" } dd { (running) } }
                div { dt { "Policy version" } dd { (policy_version) } }
                @if let Some(c) = &counts {
                    div { dt { "Jobs running" } dd { (c.running) } }
                    div { dt { "Subtasks ready / leased" } dd { (c.ready) " / " (c.leased) } }
                }
            }
        }
        section #agents data-live {
            @if agents.is_empty() {
                p.hint { "No agent has said hello yet. Enrol one with `edgecoder worker enrol` and start `edgecoder worker run`." }
            } @else {
                table {
                    thead { tr {
                        th { "Agent" } th { "Status" } th { "OS / arch" } th { "Version" } th { "Local model" } th { "Mode" }
                        th { "Policy" } th { "Model" } th { "Last heard" } th { "Health" }
                    } }
                    tbody {
                        @for agent in &agents { (agent_row(&board.api, agent, &rollouts, policy_version)) }
                    }
                }
            }
        }
    };
    layout("Fleet", Nav::Fleet, &op.csrf, &flash, body)
}

fn agent_row(api: &Api, agent: &AgentView, rollouts: &[Rollout], policy_version: u32) -> Markup {
    let effective = api.service.features().effective(&agent.id);
    let applied = agent.heartbeat.as_ref().map_or(0, |h| h.policy_version);
    html! {
        tr data-agent=(agent.id) {
            td { a href={"/dashboard/agents/" (agent.id)} { (agent.id) } }
            td { (liveness(agent.liveness)) }
            td { (agent.hello.platform.as_str()) }
            td { (agent.hello.software.as_str()) }
            td.local-model { (decided(&effective.local_model, on_off)) }
            td { (decided(&effective.mode, mode_name)) }
            td { (policy_cell(applied, policy_version)) }
            td { (model_cell(agent, rollouts)) }
            td { (ago(agent.last_seen)) }
            td { (health(agent)) }
        }
    }
}

fn policy_cell(applied: u32, current: u32) -> Markup {
    if applied == current {
        html! { span.badge.good { "v" (current) } }
    } else if applied == 0 {
        html! { span.badge.warn title="no heartbeat with a policy version yet" { "v" (current) " pending" } }
    } else {
        html! { span.badge.warn title="the agent still applies an older policy" { "v" (applied) " → v" (current) } }
    }
}

fn model_cell(agent: &AgentView, rollouts: &[Rollout]) -> Markup {
    let running = running_install(rollouts, &agent.id, None);
    let latest = latest_install(rollouts, &agent.id).filter(|(l, _)| running.is_none_or(|(r, _)| r.id != l.id));
    match (running, latest) {
        (None, None) => html! {
            @for (i, model) in agent.hello.models.iter().enumerate() {
                @if i > 0 { ", " }
                // Workers name a model by its id or by its file: the file's name is enough here.
                (model.as_str().rsplit('/').next().unwrap_or_default())
            }
        },
        (running, latest) => html! {
            @if let Some((rollout, install)) = running {
                (rollout.model) " " (rollout.version) " " (install_state(install)) br; small { (install.message) }
            }
            @if let Some((rollout, install)) = latest {
                @if running.is_some() { br; "then " }
                (rollout.model) " " (rollout.version) " " (install_state(install))
                @if !install.code.is_empty() { " " code { (install.code) } }
            }
        },
    }
}

fn health(agent: &AgentView) -> Markup {
    html! {
        @if let Some(h) = &agent.heartbeat {
            "CPU " (h.cpu_busy_percent) "% · " (h.free_memory_mb) " MiB free · " (h.running) " running"
        } @else {
            span.muted { "no heartbeat yet" }
        }
        @if let Some(reason) = &agent.reason { br; small { (reason) } }
    }
}

/// One agent: what it said, its settings with their origin, the forms that change them, its
/// installs and its audit entries.
pub(super) async fn agent(State(board): Shared, Extension(op): Extension<Operator>, Path(id): Path<String>, Query(flash): Query<Flash>) -> Response {
    let Ok(id) = AgentId::new(&id) else {
        return (StatusCode::BAD_REQUEST, message_page("No such agent", &format!("{id:?} is not an agent id."))).into_response();
    };
    let service = &board.api.service;
    let view = service.agents().into_iter().find(|a| a.id == id);
    let features = service.features();
    let effective = features.effective(&id);
    let own = features.tree().agents.get(&id).cloned().unwrap_or_default();
    let policy = service.policies().for_agent(&id);
    let rollouts = service.rollouts();
    let (entries, _) = recent_entries(&board.api, |e| e.record.agent.as_deref() == Some(id.as_str()), 50).await;
    let body = html! {
        @match &view {
            Some(agent) => section #agent data-live {
                dl.facts {
                    dt { "Status" } dd { (liveness(agent.liveness)) }
                    dt { "OS / arch" } dd { (agent.hello.platform.as_str()) }
                    dt { "Version" } dd { (agent.hello.software.as_str()) }
                    dt { "Cores / memory" } dd { (agent.hello.cores) " cores · " (agent.hello.memory_mb) " MiB" }
                    dt { "Models it has" } dd { @for m in &agent.hello.models { (m.as_str()) " " } }
                    dt { "Sandbox layers" } dd { (format!("{:#04x}", agent.hello.sandbox.0)) }
                    dt { "Said hello" } dd { (when(agent.since)) }
                    dt { "Last heard" } dd { (ago(agent.last_seen)) }
                    dt { "Health" } dd { (health(agent)) }
                }
            },
            None => p.hint { "This agent has not said hello since the coordinator started; its settings apply when it does." },
        }
        section #features data-live {
            h2 { "Features" }
            dl.facts {
                dt { "Group" } dd { (effective.group.as_deref().unwrap_or("(none)")) }
                dt { "Tenant" } dd { (effective.tenant.as_deref().unwrap_or("(none)")) }
                dt { "Local model" } dd #effective-local-model { (decided(&effective.local_model, on_off)) }
                dt { "Mode" } dd { (decided(&effective.mode, mode_name)) }
            }
        }
        form.card #feature-form method="post" action={"/dashboard/agents/" (id) "/features"} {
            input type="hidden" name="csrf" value=(op.csrf);
            label { "Local model " (setting_select("local_model", own.setting.local_model)) }
            label { "Mode " (mode_select(own.setting.mode)) }
            button type="submit" { "Save features" }
        }
        form.card method="post" action={"/dashboard/agents/" (id) "/group"} {
            input type="hidden" name="csrf" value=(op.csrf);
            label { "Group " input type="text" name="group" value=(own.group.clone().unwrap_or_default()) placeholder="(none)"; }
            button type="submit" { "Move" }
        }
        section #policy {
            h2 { "Policy in effect (version " (policy.version) ")" }
            pre { (serde_json::to_string_pretty(&policy).unwrap_or_default()) }
        }
        section #installs data-live {
            h2 { "Model installs" }
            table {
                thead { tr { th { "Rollout" } th { "Model" } th { "State" } th { "Progress" } th { "Code" } th { "Message" } th { "Reported" } } }
                tbody {
                    @for rollout in &rollouts {
                        @if let Some(install) = rollout.agents.get(&id) {
                            tr {
                                td { a href={"/dashboard/rollouts/" (rollout.id)} { (rollout.id) } }
                                td { (rollout.model) " " (rollout.version) }
                                td { (install_state(install)) }
                                td { (progress(install)) }
                                td { code { (install.code) } }
                                td { (install.message) }
                                td { (install.reported_at.map(ago).unwrap_or_default()) }
                            }
                        }
                    }
                }
            }
        }
        section #agent-audit data-live {
            h2 { "Audit entries" }
            (audit_table(&entries))
        }
    };
    layout(&format!("Agent {id}"), Nav::Fleet, &op.csrf, &flash, body).into_response()
}

/// Feature settings per level, and the forms that change them.
pub(super) async fn features(State(board): Shared, Extension(op): Extension<Operator>, Query(flash): Query<Flash>) -> Markup {
    let service = &board.api.service;
    let tree = service.features().tree();
    let agents = service.agents();
    let body = html! {
        p.hint { "Each agent takes a value from the nearest level that sets it: agent → group → tenant → fleet default. Rollouts reach only agents with the local model on." }
        section #levels data-live {
            table {
                thead { tr { th { "Level" } th { "Own settings" } th { "Tenant" } } }
                tbody {
                    tr { td { "fleet default" } td { (setting_text(&tree.fleet)) } td {} }
                    @for (name, setting) in &tree.tenants { tr { td { "tenant " (name) } td { (setting_text(setting)) } td {} } }
                    @for (name, group) in &tree.groups {
                        tr { td { "group " (name) } td { (setting_text(&group.setting)) } td { (group.tenant.as_deref().unwrap_or("(none)")) } }
                    }
                }
            }
        }
        form.card #level-form method="post" action="/dashboard/features" {
            input type="hidden" name="csrf" value=(op.csrf);
            label { "Level " select name="level" { option value="fleet" { "fleet default" } option value="tenant" { "tenant" } option value="group" { "group" } } }
            label { "Name " input type="text" name="name" placeholder="tenant or group name"; }
            label { "Local model " (setting_select("local_model", None)) }
            label { "Mode " (mode_select(None)) }
            button type="submit" { "Save" }
        }
        form.card method="post" action="/dashboard/features/tenant" {
            input type="hidden" name="csrf" value=(op.csrf);
            label { "Group " input type="text" name="group" required; }
            label { "belongs to tenant " input type="text" name="tenant" placeholder="(none)"; }
            button type="submit" { "Save" }
        }
        section #effective data-live {
            h2 { "What each agent ends up with" }
            table {
                thead { tr { th { "Agent" } th { "Group" } th { "Tenant" } th { "Local model" } th { "Mode" } } }
                tbody {
                    @for agent in &agents {
                        @let e = service.features().effective(&agent.id);
                        tr {
                            td { a href={"/dashboard/agents/" (agent.id)} { (agent.id) } }
                            td { (e.group.as_deref().unwrap_or("")) }
                            td { (e.tenant.as_deref().unwrap_or("")) }
                            td { (decided(&e.local_model, on_off)) }
                            td { (decided(&e.mode, mode_name)) }
                        }
                    }
                }
            }
        }
    };
    layout("Features", Nav::Features, &op.csrf, &flash, body)
}

/// The policies page (GET).
pub(super) async fn policies_page(State(board): Shared, Extension(op): Extension<Operator>, Query(flash): Query<Flash>) -> Markup {
    policies(&board.api, &op.csrf, &flash, None)
}

/// The policies, their propagation, and the edit form (`typed`: the operator's scope and text
/// to show again after a refused change).
pub(super) fn policies(api: &Api, csrf: &str, flash: &Flash, typed: Option<(&str, &str)>) -> Markup {
    let policies = api.service.policies();
    let default = policies.fleet_default();
    let overrides = policies.overrides();
    let version = policies.version();
    let agents = api.service.agents();
    let (scope, text) = match typed {
        Some((scope, text)) => (scope.to_owned(), text.to_owned()),
        None => ("default".to_owned(), serde_json::to_string_pretty(&default).unwrap_or_default()),
    };
    let body = html! {
        section #policy-list data-live {
            p { "Current version: " strong { (version) } " (one counter covers every policy)." }
            h2 { "Fleet default" }
            pre { (serde_json::to_string_pretty(&default).unwrap_or_default()) }
            @for (agent, policy) in &overrides {
                h2 { "Agent " (agent) }
                pre { (serde_json::to_string_pretty(policy).unwrap_or_default()) }
            }
        }
        form.card #policy-form method="post" action="/dashboard/policies" {
            input type="hidden" name="csrf" value=(csrf);
            label { "Scope " input type="text" name="scope" value=(scope) placeholder="default or an agent id"; }
            label.wide { "Policy (JSON; checked before it is saved)" textarea name="policy" rows="14" { (text) } }
            button type="submit" { "Save and push" }
        }
        section #propagation data-live {
            h2 { "Propagation" }
            table {
                thead { tr { th { "Agent" } th { "Applies" } th { "Status" } } }
                tbody {
                    @for agent in &agents {
                        tr {
                            td { (agent.id) }
                            td { (policy_cell(agent.heartbeat.as_ref().map_or(0, |h| h.policy_version), version)) }
                            td { (liveness(agent.liveness)) }
                        }
                    }
                }
            }
        }
    };
    layout("Policies", Nav::Policies, csrf, flash, body)
}

/// Every rollout, and the form that starts one.
pub(super) async fn rollouts(State(board): Shared, Extension(op): Extension<Operator>, Query(flash): Query<Flash>) -> Markup {
    let rollouts = board.api.service.rollouts();
    let body = html! {
        section #rollout-list data-live {
            @if rollouts.is_empty() { p.hint { "No rollout yet." } } @else {
                table {
                    thead { tr { th { "Id" } th { "Model" } th { "Sequence" } th { "State" } th { "Stage" } th { "Offered" } th { "Installed" } th { "In progress" } th { "Failed" } th { "Started" } } }
                    tbody {
                        @for r in &rollouts {
                            @let (offered, installed, in_progress, failed) = r.counts();
                            tr {
                                td { a href={"/dashboard/rollouts/" (r.id)} { (r.id) } }
                                td { (r.model) " " (r.version) @if r.rollback { " " span.badge.muted { "rollback" } } }
                                td { (r.sequence) }
                                td { (rollout_state(&r.state)) }
                                td { (r.stage + 1) " of " (r.plan.stages()) }
                                td { (offered) } td { (installed) } td { (in_progress) } td { (failed) }
                                td { (ago(r.started_at)) }
                            }
                        }
                    }
                }
            }
        }
        form.card #start-rollout method="post" action="/dashboard/rollouts" enctype="multipart/form-data" {
            h2 { "Start a rollout" }
            input type="hidden" name="csrf" value=(op.csrf);
            label { "Signed manifest " input type="file" name="manifest" accept=".signed" required; }
            label { "Canary agents " input type="text" name="canary" placeholder="comma-separated ids"; }
            label { "plus random agents " input type="number" name="canary_count" min="0" value="0"; }
            label { "Batches (%) " input type="text" name="batches" value="100" placeholder="e.g. 25,100"; }
            label { "Halt past failure rate " input type="number" name="max_failure_rate" min="0" max="1" step="0.01" value="0.2"; }
            label { "after reports " input type="number" name="min_reports" min="1" value="1"; }
            label { "Halt past silent share " input type="number" name="max_unhealthy_rate" min="0" max="1" step="0.01" placeholder="off"; }
            button type="submit" { "Start" }
        }
    };
    layout("Rollouts", Nav::Rollouts, &op.csrf, &flash, body)
}

/// One rollout: its manifest, each agent's install, and the buttons that move it.
pub(super) async fn rollout(State(board): Shared, Extension(op): Extension<Operator>, Path(id): Path<String>, Query(flash): Query<Flash>) -> Response {
    let Some(r) = id.parse::<u64>().ok().and_then(|id| board.api.service.rollout(id)) else {
        return (StatusCode::NOT_FOUND, message_page("No such rollout", &format!("There is no rollout {id:?}."))).into_response();
    };
    let (offered, installed, in_progress, failed) = r.counts();
    let body = html! {
        section #rollout-state data-live {
            dl.facts {
                dt { "Model" } dd { (r.model) " " (r.version) " (sequence " (r.sequence) ")" @if r.rollback { " — a signed rollback" } }
                dt { "Signed by" } dd { code { (r.signer) } }
                dt { "State" } dd #rollout-state-badge { (rollout_state(&r.state)) @if let RolloutState::Halted { reason } = &r.state { " " (reason) } }
                dt { "Stage" } dd { (r.stage + 1) " of " (r.plan.stages()) " (canary, then " (r.plan.batches.iter().map(|b| format!("{b}%")).collect::<Vec<_>>().join(" → ")) ")" }
                dt { "Agents" } dd { (offered) " offered · " (installed) " installed · " (in_progress) " in progress · " (failed) " refused or failed" }
                dt { "Halts past" } dd {
                    (format!("{:.0}%", r.plan.max_failure_rate * 100.0)) " failed, after " (r.plan.min_reports) " reports"
                    @if let Some(rate) = r.plan.max_unhealthy_rate { "; or " (format!("{:.0}%", rate * 100.0)) " of the agents that installed it going silent" }
                }
            }
        }
        div #rollout-actions data-live {
        @if r.state == RolloutState::Running {
            div.actions {
                form method="post" action={"/dashboard/rollouts/" (r.id) "/advance"} {
                    input type="hidden" name="csrf" value=(op.csrf);
                    button type="submit" disabled[r.stage + 1 >= r.plan.stages()] { "Advance to the next stage" }
                }
                form method="post" action={"/dashboard/rollouts/" (r.id) "/halt"} {
                    input type="hidden" name="csrf" value=(op.csrf);
                    input type="text" name="reason" placeholder="why (optional)";
                    button.danger type="submit" { "Halt" }
                }
            }
        }
        @if !matches!(r.state, RolloutState::RolledBack { .. }) && !r.rollback {
            form.card method="post" action={"/dashboard/rollouts/" (r.id) "/rollback"} enctype="multipart/form-data" {
                input type="hidden" name="csrf" value=(op.csrf);
                label { "Signed rollback manifest " input type="file" name="manifest" accept=".signed" required; }
                button.danger type="submit" { "Roll back" }
            }
        }
        }
        section #rollout-agents data-live {
            h2 { "Agents" }
            table {
                thead { tr { th { "Agent" } th { "Stage" } th { "State" } th { "Progress" } th { "Code" } th { "Message" } th { "Reported" } } }
                tbody {
                    @for (agent, install) in &r.agents {
                        tr data-agent=(agent) {
                            td { a href={"/dashboard/agents/" (agent)} { (agent) } }
                            td { @if install.stage == 0 { "canary" } @else { (install.stage) } }
                            td.state { (install_state(install)) }
                            td { (progress(install)) }
                            td.code { code { (install.code) } }
                            td { (install.message) }
                            td { (install.reported_at.map(ago).unwrap_or_default()) }
                        }
                    }
                }
            }
        }
    };
    layout(&format!("Rollout {}", r.id), Nav::Rollouts, &op.csrf, &flash, body).into_response()
}

/// The newest jobs, with the conflicts that wait for a person first.
pub(super) async fn jobs(State(board): Shared, Extension(op): Extension<Operator>, Query(flash): Query<Flash>) -> Markup {
    let store = board.api.service.store();
    let (jobs, error) = match store.recent_jobs(200).await {
        Ok(jobs) => (jobs, None),
        Err(e) => (Vec::new(), Some(e.to_string())),
    };
    let conflicts: Vec<_> = jobs.iter().filter(|j| matches!(j.state, JobState::Conflict { .. })).collect();
    let body = html! {
        @if let Some(error) = error { p.flash.error { "The queue could not be read: " (error) } }
        section #conflicts data-live {
            h2 { "Merge conflicts waiting for a person (" (conflicts.len()) ")" }
            @if conflicts.is_empty() { p.hint { "None." } } @else {
                ul { @for j in &conflicts { li { a href={"/dashboard/jobs/" (j.spec.id)} { (j.spec.id) } " — " (j.spec.instruction.chars().take(80).collect::<String>()) " · resolve with POST /v1/jobs/" (j.spec.id) "/resolve" } } }
            }
        }
        section #job-list data-live {
            h2 { "Newest jobs" }
            table {
                thead { tr { th { "Job" } th { "Tenant" } th { "State" } th { "Instruction" } th { "Submitted" } th { "Finished" } } }
                tbody {
                    @for j in &jobs {
                        tr {
                            td { a href={"/dashboard/jobs/" (j.spec.id)} { code { (j.spec.id) } } }
                            td { (j.spec.tenant) }
                            td { (job_state(&j.state)) }
                            td { (j.spec.instruction.chars().take(80).collect::<String>()) }
                            td { (ago(j.submitted)) }
                            td { (j.finished.map(ago).unwrap_or_default()) }
                        }
                    }
                }
            }
        }
    };
    layout("Jobs", Nav::Jobs, &op.csrf, &flash, body)
}

fn job_state(state: &JobState) -> Markup {
    let class = match state {
        JobState::Done { .. } => "good",
        JobState::Failed { .. } | JobState::Conflict { .. } => "bad",
        JobState::Cancelled => "muted",
        _ => "warn",
    };
    html! { span.badge.(class) { (state.name()) } }
}

/// One job and its subtasks.
pub(super) async fn job(State(board): Shared, Extension(op): Extension<Operator>, Path(id): Path<String>, Query(flash): Query<Flash>) -> Response {
    let view = match MessageId::from_hex(&id) {
        Some(job) => board.api.service.store().job(job).await.ok().flatten(),
        None => None,
    };
    let Some(view) = view else {
        return (StatusCode::NOT_FOUND, message_page("No such job", &format!("There is no job {id:?}."))).into_response();
    };
    let job = &view.job;
    let reason = match &job.state {
        JobState::Failed { reason } => Some(reason.clone()),
        JobState::Conflict { detail } => Some(detail.clone()),
        _ => None,
    };
    let body = html! {
        section #job-state data-live {
            dl.facts {
                dt { "State" } dd { (job_state(&job.state)) }
                dt { "Tenant" } dd { (job.spec.tenant) }
                dt { "Instruction" } dd { (job.spec.instruction) }
                dt { "Snapshot" } dd { code { (job.spec.snapshot.sha256) } }
                dt { "Submitted" } dd { (when(job.submitted)) }
            }
            @if let Some(reason) = reason { pre { (reason) } }
            table {
                thead { tr { th { "#" } th { "Subtask" } th { "State" } th { "Agent" } th { "Attempts" } th { "Last failure" } } }
                tbody {
                    @for s in &view.subtasks {
                        tr {
                            td { (s.ordinal) }
                            td { code { (s.id) } }
                            td { (s.state) }
                            td {
                                @if let Some(agent) = s.agent.as_deref() {
                                    @if agent == "escalation" { (agent) } @else { a href={"/dashboard/agents/" (agent)} { (agent) } }
                                }
                            }
                            td { (s.attempts) }
                            td { (s.last_failure.as_deref().unwrap_or("")) }
                        }
                    }
                }
            }
        }
    };
    layout(&format!("Job {id}"), Nav::Jobs, &op.csrf, &flash, body).into_response()
}

/// The audit page's filter.
#[derive(Debug, Default, Deserialize)]
pub(super) struct AuditFilter {
    #[serde(default)]
    event: String,
    #[serde(default)]
    agent: String,
    #[serde(default)]
    text: String,
    #[serde(default)]
    verify: Option<String>,
}

/// Entries read at a time while scanning the log from its end.
const AUDIT_PAGE: usize = 1000;

/// Most entries one page load scans for matches, so a long log costs a bounded read.
const AUDIT_SCAN: usize = 50_000;

/// The newest entries (at most `limit`) that `keep` accepts, newest first, from the last
/// [`AUDIT_SCAN`] entries of the log; `true` when older entries were left unscanned.
async fn recent_entries(api: &Api, keep: impl Fn(&Entry) -> bool, limit: usize) -> (Vec<Entry>, bool) {
    let store = api.service.store();
    let (mut kept, mut scanned, mut before) = (Vec::new(), 0, u64::MAX);
    while let Ok(page) = store.audit_before(before, AUDIT_PAGE).await {
        let Some(oldest) = page.last() else { return (kept, false) };
        before = oldest.seq;
        scanned += page.len();
        let full = page.len() == AUDIT_PAGE;
        kept.extend(page.into_iter().filter(|e| keep(e)).take(limit - kept.len()));
        if kept.len() == limit || !full {
            return (kept, false);
        }
        if scanned >= AUDIT_SCAN {
            return (kept, true);
        }
    }
    (kept, false)
}

fn audit_table(entries: &[Entry]) -> Markup {
    html! {
        table {
            thead { tr { th { "#" } th { "When" } th { "Event" } th { "Agent" } th { "Job" } th { "Detail" } } }
            tbody {
                @for e in entries {
                    tr {
                        td { (e.seq) }
                        td { (when(e.record.at)) }
                        td { (e.record.event.name()) }
                        td { (e.record.agent.as_deref().unwrap_or("")) }
                        td { @if let Some(job) = e.record.job { a href={"/dashboard/jobs/" (job)} { code { (job.to_string().chars().take(8).collect::<String>()) } } } }
                        td { (e.record.detail) }
                    }
                }
            }
        }
    }
}

/// The audit log, filtered, with its chain check.
pub(super) async fn audit(State(board): Shared, Extension(op): Extension<Operator>, Query(filter): Query<AuditFilter>) -> Markup {
    let event = Event::ALL.into_iter().find(|e| e.name() == filter.event);
    let (agent, text) = (filter.agent.trim().to_owned(), filter.text.trim().to_lowercase());
    let (entries, truncated) = recent_entries(
        &board.api,
        |e| {
            event.is_none_or(|wanted| e.record.event == wanted)
                && (agent.is_empty() || e.record.agent.as_deref() == Some(agent.as_str()))
                && (text.is_empty() || e.record.detail.to_lowercase().contains(&text))
        },
        200,
    )
    .await;
    let check = if filter.verify.is_some() {
        Some(match crate::store::verify_audit(&*board.api.service.store()).await {
            Ok(verdict) => verdict.map_err(|broken| broken.to_string()),
            Err(e) => Err(format!("the log could not be read: {e}")),
        })
    } else {
        None
    };
    let body = html! {
        form.card.inline method="get" action="/dashboard/audit" {
            label { "Event " select name="event" {
                option value="" selected[event.is_none()] { "any" }
                @for e in Event::ALL { option value=(e.name()) selected[event == Some(e)] { (e.name()) } }
            } }
            label { "Agent " input type="text" name="agent" value=(filter.agent); }
            label { "Detail contains " input type="text" name="text" value=(filter.text); }
            button type="submit" { "Filter" }
            button type="submit" name="verify" value="1" { "Verify the chain" }
        }
        @match &check {
            Some(Ok(head)) => p.flash.ok #chain role="status" { "The chain verifies: " (head.seq) " entries, head " code { (head.hash) } "." },
            Some(Err(error)) => p.flash.error #chain role="alert" { "The chain does not verify: " (error) },
            None => {},
        }
        section #audit-entries data-live {
            p.hint {
                "The newest " (entries.len()) " matching entries (at most 200)"
                @if truncated { ", from the newest " (AUDIT_SCAN) " entries of the log: narrow the filter to find older ones" }
                "."
            }
            (audit_table(&entries))
        }
    };
    layout("Audit log", Nav::Audit, &op.csrf, &Flash::default(), body)
}

/// Model provenance: each manifest rolled out, who signed it, whether its signature holds,
/// which agents run it and when one last installed it.
pub(super) async fn models(State(board): Shared, Extension(op): Extension<Operator>, Query(flash): Query<Flash>) -> Markup {
    let rollouts = board.api.service.rollouts();
    let body = html! {
        section #provenance data-live {
            @if rollouts.is_empty() { p.hint { "No model was rolled out yet." } }
            @for r in &rollouts {
                @let verified = r.signed.verify();
                @let running: Vec<&AgentId> = r.agents.keys().filter(|a| running_install(&rollouts, a, Some(&r.model)).is_some_and(|(l, _)| l.id == r.id)).collect();
                @let last_update = r.agents.values().filter(|i| i.state == Some(InstallState::Installed)).filter_map(|i| i.reported_at).max();
                article.card {
                    h2 { (r.model) " " (r.version) @if r.rollback { " " span.badge.muted { "rollback" } } }
                    dl.facts {
                        dt { "Signed by" } dd { code { (r.signer) } }
                        dt { "Signature" } dd { @match &verified {
                            Ok(_) => span.badge.good { "intact" },
                            Err(e) => span.badge.bad title=(e.to_string()) { "broken" },
                        } " (devices check it again against their own pinned keys)" }
                        @if let Ok(Statement::Model(m)) = &verified {
                            dt { "Sequence" } dd { (m.sequence) }
                            dt { "Issued / expires" } dd { (when(m.issued_at * 1000)) " / " (when(m.expires_at * 1000)) }
                            dt { "Runtime" } dd { (m.runtime) " " (m.quantization) " · daemon ≥ " (m.min_daemon_version) }
                            dt { "Files" } dd { @for f in &m.files { div { code { (f.name) } " " (mib(f.size)) " sha256 " code { (f.sha256) } br; small { @for s in &f.sources { (s) " " } } } } }
                        }
                        dt { "Rollout" } dd { a href={"/dashboard/rollouts/" (r.id)} { (r.id) } " " (rollout_state(&r.state)) }
                        dt { "Agents running it" } dd { @if running.is_empty() { "none" } @else { @for a in &running { a href={"/dashboard/agents/" (a)} { (a) } " " } } }
                        dt { "Last successful update" } dd { (last_update.map(when).unwrap_or_else(|| "never".into())) }
                    }
                }
            }
        }
    };
    layout("Model provenance", Nav::Models, &op.csrf, &flash, body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::features::Level;

    #[test]
    fn operator_text_is_escaped() {
        let page = message_page("<b>", "<script>alert(1)</script>").into_string();
        assert!(!page.contains("<script>alert"), "{page}");
        assert!(page.contains("&lt;script&gt;"), "{page}");
    }

    #[test]
    fn the_login_page_has_no_inline_script_and_carries_its_nonce() {
        let page = login_page("abc123", Some("wrong")).into_string();
        assert!(page.contains(r#"name="csrf" value="abc123""#), "{page}");
        assert!(!page.contains("<script>"), "{page}");
    }

    #[test]
    fn ages_read_naturally() {
        let now = unix_time_ms();
        assert_eq!(ago(now), "0 s ago");
        assert_eq!(ago(now - 125_000), "2 min ago");
        assert_eq!(ago(now - 3 * 86_400_000), "3 d ago");
        assert_eq!(Level::Fleet.to_string(), "fleet default");
    }
}
