//! Metrics: an environment's charts from its Prometheus, or this machine's
//! own CPU and memory when there is no Prometheus to ask.

use std::time::Duration;

use nfops_core::{Error, ErrorCode, Result};
use nfops_metrics::{Board, ChartSpec, Drawing, Prometheus, Scope};

use crate::Console;

/// A Prometheus query that takes longer is reported as failed; the page
/// refreshes every 30 s and must not queue up slow answers.
const QUERY_TIMEOUT: Duration = Duration::from_secs(15);

impl Console {
    /// The charts of `env` (narrowed to `host` where a chart is per host),
    /// or of this machine when `env` is `None` or has no `monitoring`.
    /// `charts` limits the board to those (all of the catalog when `None`).
    ///
    /// Errors: `config.*` for an unreadable config or an unknown
    /// environment; `input.invalid` for a host the environment does not
    /// have. A failing chart does not fail the board: it carries its error.
    pub async fn metrics_board(
        &self,
        env: Option<&str>,
        host: Option<&str>,
        drawing: Drawing,
        charts: Option<&[&'static ChartSpec]>,
    ) -> Result<Board> {
        let Some(name) = env else {
            return Ok(self
                .local_board("no environment picked", drawing, charts)
                .await);
        };
        let config = self.config()?;
        let environment = config.environment(name)?;
        if let Some(h) = host {
            if !environment.hosts.iter().any(|x| x.get_ref().name == h) {
                return Err(Error::new(
                    ErrorCode::InvalidInput,
                    format!("environment {name} has no host named {h}"),
                )
                .hint("Pick one of the environment's hosts, or all hosts."));
            }
        }
        let Some(monitoring) = &environment.monitoring else {
            let reason =
                format!("environment {name} has no [monitoring] section in environments.toml");
            return Ok(self.local_board(&reason, drawing, charts).await);
        };
        let prom = Prometheus::new(&monitoring.prometheus_url, QUERY_TIMEOUT)?;
        let scope = Scope {
            selector: monitoring.selector.as_deref(),
            host,
        };
        let mut board = Board::from_prometheus(&prom, scope, drawing, charts).await;
        if charts.is_none() && environment.cache.is_some() {
            board.charts.extend(self.cache_charts(name, drawing).await);
        }
        self.mark_charts(name, &mut board.charts, drawing.theme)
            .await;
        let failed = board.charts.iter().filter(|c| c.result.is_err()).count();
        tracing::info!(
            category = "application",
            environment = name,
            charts = board.charts.len(),
            failed,
            "metrics board queried"
        );
        Ok(board)
    }

    async fn local_board(
        &self,
        reason: &str,
        drawing: Drawing,
        charts: Option<&[&'static ChartSpec]>,
    ) -> Board {
        let mut board = Board::from_local(
            self.local_metrics.clone(),
            format!("{reason}: showing this machine"),
            drawing,
        )
        .await;
        if let Some(wanted) = charts {
            board
                .charts
                .retain(|c| wanted.iter().any(|w| w.id == c.spec.id));
        }
        board
    }
}

impl Console {
    /// `env`'s Prometheus and its selector; None without `[monitoring]`.
    fn prometheus_of(&self, env: &str) -> Result<Option<(Prometheus, Option<String>)>> {
        let config = self.config()?;
        let Some(monitoring) = &config.environment(env)?.monitoring else {
            return Ok(None);
        };
        let prom = Prometheus::new(&monitoring.prometheus_url, QUERY_TIMEOUT)?;
        Ok(Some((prom, monitoring.selector.clone())))
    }

    /// The Overview's pulse of `env`: the last hour's request rate, 5xx
    /// share, p95 latency and CPU, and its open alerts, from its Prometheus.
    /// `Ok(None)` when the environment has no `[monitoring]`.
    ///
    /// Errors: `config.*` for an unreadable config or an unknown
    /// environment, `input.invalid` for an unusable `prometheus_url`. A
    /// query Prometheus refuses fails only its own sparkline (or the alerts).
    pub async fn pulse(
        &self,
        env: &str,
        theme: nfops_metrics::Theme,
    ) -> Result<Option<nfops_metrics::pulse::Pulse>> {
        let Some((prom, selector)) = self.prometheus_of(env)? else {
            return Ok(None);
        };
        let pulse = nfops_metrics::pulse::pulse(&prom, selector.as_deref(), theme).await;
        let failed = pulse.sparks.iter().filter(|s| s.result.is_err()).count();
        tracing::info!(
            category = "application",
            environment = env,
            failed_sparks = failed,
            alerts = pulse.alerts.as_ref().map(Vec::len).unwrap_or_default(),
            alerts_failed = pulse.alerts.is_err(),
            "pulse queried"
        );
        Ok(Some(pulse))
    }

    /// The alerts `env`'s Prometheus has open for it, firing first;
    /// `Ok(None)` when the environment has no `[monitoring]`.
    ///
    /// Errors: as [`Console::pulse`], and Prometheus's when it cannot answer.
    pub async fn open_alerts(
        &self,
        env: &str,
    ) -> Result<Option<Vec<nfops_metrics::pulse::OpenAlert>>> {
        let Some((prom, selector)) = self.prometheus_of(env)? else {
            return Ok(None);
        };
        nfops_metrics::pulse::open_alerts(&prom, selector.as_deref())
            .await
            .map(Some)
    }
}
