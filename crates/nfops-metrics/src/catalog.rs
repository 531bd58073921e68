//! The one catalog of chart queries. Every chart of the Metrics page and of
//! `nfops metrics` is defined here and nowhere else.
//!
//! Expressions are templates: `{sel}` becomes the label matchers of the scope
//! (the environment's selector, plus `host="..."` for host-scoped charts),
//! `{w}` the rate window in seconds.

/// What a chart's values are, for axis labels and the hover readout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Percent,
    BytesPerSecond,
    PerSecond,
    Seconds,
    Count,
}

impl Unit {
    pub fn as_str(self) -> &'static str {
        match self {
            Unit::Percent => "percent",
            Unit::BytesPerSecond => "bytes_per_second",
            Unit::PerSecond => "per_second",
            Unit::Seconds => "seconds",
            Unit::Count => "count",
        }
    }

    /// `v` for people: `42.1 %`, `1.2 MB/s`, `12 ms`.
    pub fn format(self, v: f64) -> String {
        if !v.is_finite() {
            return "–".into();
        }
        match self {
            Unit::Percent => format!("{v:.1} %"),
            Unit::BytesPerSecond => format!("{}/s", si(v, "B")),
            Unit::PerSecond => format!("{}/s", si(v, "")),
            Unit::Seconds if v.abs() < 1.0 => format!("{:.0} ms", v * 1000.0),
            Unit::Seconds => format!("{v:.2} s"),
            Unit::Count => si(v, ""),
        }
    }
}

fn si(v: f64, suffix: &str) -> String {
    let (scaled, prefix) = match v.abs() {
        a if a >= 1e9 => (v / 1e9, "G"),
        a if a >= 1e6 => (v / 1e6, "M"),
        a if a >= 1e3 => (v / 1e3, "k"),
        _ => (v, ""),
    };
    let digits = if scaled.abs() >= 100.0 || scaled == scaled.trunc() {
        0
    } else if scaled.abs() >= 10.0 {
        1
    } else {
        2
    };
    let sep = if prefix.is_empty() && suffix.is_empty() {
        ""
    } else {
        " "
    };
    format!("{scaled:.digits$}{sep}{prefix}{suffix}")
}

/// One line (or family of lines, one per matching series) of a chart.
#[derive(Debug)]
pub struct Line {
    /// Prefix of the series names (`rx`, `p95`); empty for none.
    pub legend: &'static str,
    /// PromQL template (see the module docs).
    pub expr: &'static str,
}

/// One chart: what it shows and the queries behind it.
#[derive(Debug)]
pub struct ChartSpec {
    /// Stable name, used by the UI, `--chart` and tests.
    pub id: &'static str,
    pub title: &'static str,
    /// Which exporter it reads: `node`, `app`, `worker`, `mysqld`.
    pub source: &'static str,
    pub unit: Unit,
    /// When true, picking a host narrows the chart to it. Database charts
    /// are per environment: their hosts are the DB servers, not app hosts.
    pub host_scoped: bool,
    /// The queries; each may yield several series (one per host).
    pub lines: &'static [Line],
}

impl ChartSpec {
    /// The PromQL of every line for `matchers` (already joined) and a rate
    /// window of `window` seconds.
    pub fn queries(&self, matchers: &str, window: u64) -> Vec<String> {
        self.lines
            .iter()
            .map(|l| {
                l.expr
                    .replace("{sel}", matchers)
                    .replace("{w}", &format!("{window}s"))
            })
            .collect()
    }
}

/// The chart called `id`, if any.
pub fn chart(id: &str) -> Option<&'static ChartSpec> {
    CATALOG.iter().find(|c| c.id == id)
}

const fn line(legend: &'static str, expr: &'static str) -> Line {
    Line { legend, expr }
}

/// Every chart, in page order.
pub static CATALOG: &[ChartSpec] = &[
    ChartSpec {
        id: "cpu",
        title: "CPU busy",
        source: "node",
        unit: Unit::Percent,
        host_scoped: true,
        lines: &[line(
            "",
            r#"100 * (1 - avg by (host) (rate(node_cpu_seconds_total{mode="idle",{sel}}[{w}])))"#,
        )],
    },
    ChartSpec {
        id: "memory",
        title: "Memory used",
        source: "node",
        unit: Unit::Percent,
        host_scoped: true,
        lines: &[line(
            "",
            r#"100 * (1 - sum by (host) (node_memory_MemAvailable_bytes{{sel}}) / sum by (host) (node_memory_MemTotal_bytes{{sel}}))"#,
        )],
    },
    ChartSpec {
        id: "disk",
        title: "Disk used (fullest filesystem)",
        source: "node",
        unit: Unit::Percent,
        host_scoped: true,
        lines: &[line(
            "",
            r#"100 * max by (host) (1 - node_filesystem_avail_bytes{fstype!~"tmpfs|ramfs|squashfs|overlay|nsfs|fuse.*",{sel}} / node_filesystem_size_bytes{fstype!~"tmpfs|ramfs|squashfs|overlay|nsfs|fuse.*",{sel}})"#,
        )],
    },
    ChartSpec {
        id: "network",
        title: "Network traffic",
        source: "node",
        unit: Unit::BytesPerSecond,
        host_scoped: true,
        lines: &[
            line(
                "rx",
                r#"sum by (host) (rate(node_network_receive_bytes_total{device!~"lo|ifb.*|veth.*|docker.*|br-.*",{sel}}[{w}]))"#,
            ),
            line(
                "tx",
                r#"sum by (host) (rate(node_network_transmit_bytes_total{device!~"lo|ifb.*|veth.*|docker.*|br-.*",{sel}}[{w}]))"#,
            ),
        ],
    },
    ChartSpec {
        id: "requests",
        title: "Request rate",
        source: "app",
        unit: Unit::PerSecond,
        host_scoped: true,
        lines: &[line(
            "",
            r#"sum by (host) (rate(http_requests_total{{sel}}[{w}]))"#,
        )],
    },
    ChartSpec {
        id: "errors",
        title: "Error rate (5xx share)",
        source: "app",
        unit: Unit::Percent,
        host_scoped: true,
        // `or ... * 0` keeps a 0 % line when no 5xx series exists yet.
        lines: &[line(
            "",
            r#"100 * (sum by (host) (rate(http_requests_total{status=~"5..",{sel}}[{w}])) or sum by (host) (rate(http_requests_total{{sel}}[{w}])) * 0) / sum by (host) (rate(http_requests_total{{sel}}[{w}]))"#,
        )],
    },
    ChartSpec {
        id: "latency",
        title: "Latency p50 / p95 / p99",
        source: "app",
        unit: Unit::Seconds,
        host_scoped: true,
        lines: &[
            line(
                "p50",
                r#"histogram_quantile(0.5, sum by (le) (rate(http_request_duration_seconds_bucket{{sel}}[{w}])))"#,
            ),
            line(
                "p95",
                r#"histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket{{sel}}[{w}])))"#,
            ),
            line(
                "p99",
                r#"histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket{{sel}}[{w}])))"#,
            ),
        ],
    },
    ChartSpec {
        id: "queue",
        title: "Queue depth",
        source: "worker",
        unit: Unit::Count,
        host_scoped: true,
        // Every process exports the queue's depth; they agree, so take the max.
        lines: &[line("", r#"max by (host) (queue_depth{{sel}})"#)],
    },
    ChartSpec {
        id: "worker",
        title: "Worker throughput",
        source: "worker",
        unit: Unit::PerSecond,
        host_scoped: true,
        lines: &[line(
            "",
            r#"sum by (host) (rate(worker_jobs_done_total{{sel}}[{w}]))"#,
        )],
    },
    ChartSpec {
        id: "db-connections",
        title: "DB connections",
        source: "mysqld",
        unit: Unit::Count,
        host_scoped: false,
        lines: &[line(
            "",
            r#"sum by (host) (mysql_global_status_threads_connected{{sel}})"#,
        )],
    },
    ChartSpec {
        id: "db-qps",
        title: "DB queries per second",
        source: "mysqld",
        unit: Unit::PerSecond,
        host_scoped: false,
        lines: &[line(
            "",
            r#"sum by (host) (rate(mysql_global_status_queries{{sel}}[{w}]))"#,
        )],
    },
    ChartSpec {
        id: "db-slow",
        title: "DB slow queries",
        source: "mysqld",
        unit: Unit::PerSecond,
        host_scoped: false,
        lines: &[line(
            "",
            r#"sum by (host) (rate(mysql_global_status_slow_queries{{sel}}[{w}]))"#,
        )],
    },
    ChartSpec {
        id: "db-buffer-pool",
        title: "DB buffer pool used",
        source: "mysqld",
        unit: Unit::Percent,
        host_scoped: false,
        lines: &[line(
            "",
            r#"100 * sum by (host) (mysql_global_status_buffer_pool_pages{state="data",{sel}}) / sum by (host) (mysql_global_status_buffer_pool_pages{state=~"data|free|misc",{sel}})"#,
        )],
    },
];

/// Label matchers for an environment selector (`env="production"`, braces
/// optional) and an optional host. Host names are escaped for PromQL.
pub fn matchers(selector: Option<&str>, host: Option<&str>) -> String {
    let mut parts = Vec::new();
    if let Some(s) = selector.map(str::trim).filter(|s| !s.is_empty()) {
        parts.push(s.trim_start_matches('{').trim_end_matches('}').to_owned());
    }
    if let Some(h) = host.filter(|h| !h.is_empty()) {
        parts.push(format!(
            "host=\"{}\"",
            h.replace('\\', "\\\\").replace('"', "\\\"")
        ));
    }
    parts.join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_query_has_its_placeholders_filled() {
        let m = matchers(Some(r#"{env="production"}"#), Some("prod-app-1"));
        assert_eq!(m, r#"env="production",host="prod-app-1""#);
        for spec in CATALOG {
            for q in spec.queries(&m, 60) {
                assert!(
                    !q.contains("{sel}") && !q.contains("{w}"),
                    "{}: {q}",
                    spec.id
                );
                assert!(
                    q.contains(r#"env="production""#),
                    "{} must select the environment: {q}",
                    spec.id
                );
                assert!(
                    !q.contains("{,") && !q.contains(",}"),
                    "{}: no empty matcher: {q}",
                    spec.id
                );
            }
        }
        let ids: std::collections::HashSet<_> = CATALOG.iter().map(|c| c.id).collect();
        assert_eq!(ids.len(), CATALOG.len(), "chart ids are unique");
    }

    #[test]
    fn without_a_selector_the_queries_stay_valid() {
        let q = chart("requests")
            .expect("requests")
            .queries(&matchers(None, None), 60);
        assert_eq!(q[0], "sum by (host) (rate(http_requests_total{}[60s]))");
        assert_eq!(matchers(None, Some("a\"b")), r#"host="a\"b""#);
    }

    #[test]
    fn units_read_well() {
        assert_eq!(Unit::Percent.format(42.123), "42.1 %");
        assert_eq!(Unit::BytesPerSecond.format(1_234_567.0), "1.23 MB/s");
        assert_eq!(Unit::Seconds.format(0.012), "12 ms");
        assert_eq!(Unit::Count.format(3.0), "3");
        assert_eq!(Unit::PerSecond.format(f64::NAN), "–");
    }
}
