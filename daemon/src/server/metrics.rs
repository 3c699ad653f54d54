//! Prometheus metrics served at `/metrics`: requests by route and status, tokens generated,
//! time to first token, tokens per second, and executor runs by outcome.

use edgecoder_protocol::{Lang, Outcome};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::agent::{AgentEvent, Detail, Transition};

/// Labels of the request counter.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct RequestLabels {
    /// The matched route (`/v1/chat/completions`), or `other`.
    pub route: String,
    /// The response status code.
    pub status: u16,
}

/// Labels of the executor-run counter.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct ExecutorLabels {
    /// `python` or `javascript`.
    pub lang: String,
    /// The run's outcome (`ok`, `error`, `timeout`, ...).
    pub outcome: String,
}

/// The daemon's metrics and the registry that encodes them.
pub struct Metrics {
    registry: Registry,
    /// HTTP requests answered.
    pub requests: Family<RequestLabels, Counter>,
    /// Requests being answered now.
    pub in_flight: Gauge,
    /// Tokens generated, all providers.
    pub tokens: Counter,
    /// Seconds from a request's arrival to its first generated text.
    pub time_to_first_token: Histogram,
    /// Generated tokens per second of each generation, after the first token.
    pub tokens_per_second: Histogram,
    /// Executor runs (MCP `run_python` / `run_js`, agent test runs) by language and outcome.
    pub executor_runs: Family<ExecutorLabels, Counter>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Fresh, registered metrics.
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("edgecoder");
        let requests = Family::<RequestLabels, Counter>::default();
        let in_flight = Gauge::default();
        let tokens = Counter::default();
        let time_to_first_token = Histogram::new(exponential_buckets(0.005, 2.0, 14));
        let tokens_per_second = Histogram::new(exponential_buckets(1.0, 2.0, 12));
        let executor_runs = Family::<ExecutorLabels, Counter>::default();
        registry.register("http_requests", "HTTP requests answered", requests.clone());
        registry.register("http_requests_in_flight", "HTTP requests being answered", in_flight.clone());
        registry.register("generated_tokens", "Tokens generated", tokens.clone());
        registry.register(
            "time_to_first_token_seconds",
            "Seconds from a request's arrival to its first generated text",
            time_to_first_token.clone(),
        );
        registry.register(
            "generation_tokens_per_second",
            "Tokens per second of each generation after its first token",
            tokens_per_second.clone(),
        );
        registry.register("executor_runs", "Executor runs by language and outcome", executor_runs.clone());
        Metrics { registry, requests, in_flight, tokens, time_to_first_token, tokens_per_second, executor_runs }
    }

    /// The metrics in Prometheus' text format.
    pub fn encode(&self) -> String {
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry)
            .expect("writing to a String cannot fail");
        text
    }

    /// Counts one executor run.
    pub fn executor_run(&self, lang: Lang, outcome: &Outcome) {
        let lang = match lang {
            Lang::Python => "python",
            Lang::JavaScript => "javascript",
        };
        self.executor_runs
            .get_or_create(&ExecutorLabels { lang: lang.to_owned(), outcome: outcome.label().to_owned() })
            .inc();
    }

    /// Counts what an agent task's event shows: a test run in the executor, or, at the end, the
    /// tokens the task generated.
    pub fn agent_event(&self, lang: Lang, event: &AgentEvent) {
        match event {
            AgentEvent::Transition(Transition { detail: Detail::Tested { report, .. }, .. }) => {
                self.executor_run(lang, &report.run.outcome);
            }
            AgentEvent::Finished(report) => {
                self.tokens.inc_by(report.stats.generated_tokens);
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_metric_is_in_the_text() {
        let m = Metrics::new();
        m.requests.get_or_create(&RequestLabels { route: "/v1/models".into(), status: 200 }).inc();
        m.tokens.inc_by(5);
        m.time_to_first_token.observe(0.02);
        m.tokens_per_second.observe(40.0);
        m.executor_run(Lang::Python, &Outcome::Ok);
        let text = m.encode();
        for needle in [
            "edgecoder_http_requests_total{route=\"/v1/models\",status=\"200\"} 1",
            "edgecoder_generated_tokens_total 5",
            "edgecoder_time_to_first_token_seconds_count 1",
            "edgecoder_generation_tokens_per_second_count 1",
            "edgecoder_executor_runs_total{lang=\"python\",outcome=\"ok\"} 1",
        ] {
            assert!(text.contains(needle), "missing {needle} in\n{text}");
        }
    }
}
