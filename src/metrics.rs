//! [`Metrics`]: login outcomes, verification latency, store and audit-log errors, in
//! Prometheus text format (docs/observability.md lists every name).
//!
//! A small own implementation (atomic counters, one fixed-bucket histogram) instead of the
//! `metrics` or `prometheus` crates: it needs no dependency, and every label comes from a
//! closed set the library controls (trusted IdP entityIDs, levels, the stable outcome
//! codes, route names), bounded again by [`MAX_SERIES`] per metric. Labels never carry
//! personal data.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::RwLock;
use std::time::Duration;

/// Most label sets one metric keeps; past it new label sets are counted under one series
/// whose labels are all `overflow` (a bound on memory and scrape size whatever happens).
pub(crate) const MAX_SERIES: usize = 2048;

/// Upper bounds (microseconds) of the verification latency histogram's buckets, and the
/// same in seconds as written in `le` labels.
const BUCKETS_US: [u64; 12] = [
    100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 1_000_000,
];
const BUCKETS_LE: [&str; 12] = [
    "0.0001", "0.00025", "0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1",
    "0.25", "1",
];

/// The service provider's counters, shared by every clone of it
/// (`ServiceProvider::metrics`) and rendered by the axum integration's opt-in metrics
/// route (`SpidAuth::metrics_router`) or by [`Metrics::render_prometheus`].
///
/// Recording is a read lock, a hash lookup and an atomic add: no allocation once a label
/// set has been seen.
#[derive(Debug, Default)]
pub struct Metrics {
    logins: Family,
    logouts: Family,
    store_errors: Family,
    http: Family,
    audit_errors: AtomicU64,
    verification: Histogram,
}

impl Metrics {
    /// Empty counters.
    pub fn new() -> Metrics {
        Metrics::default()
    }

    /// Counts one failure to write the transaction log (AgID's 24-month registry):
    /// `spid_sp_audit_errors_total`. For the audit sink to call.
    pub fn record_audit_error(&self) {
        self.audit_errors.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts one store failure (`spid_sp_store_errors_total{store}`): the library counts
    /// `replay` (the replay cache, in `finish_login` and the logout checks) and `web` (the
    /// axum integration's pending-login and session stores). A static name keeps the
    /// label set closed.
    pub fn record_store_error(&self, store: &'static str) {
        self.store_errors.add(&[store]);
    }

    /// The number of audit-log failures counted so far.
    pub fn audit_errors(&self) -> u64 {
        self.audit_errors.load(Ordering::Relaxed)
    }

    /// One `finish_login` outcome: `idp` is a trusted entityID (or `unknown`), `result`
    /// `accepted`/`refused`/`rejected`, `code` the stable outcome code.
    pub(crate) fn record_login(
        &self,
        idp: &str,
        level: &'static str,
        result: &'static str,
        code: &'static str,
        elapsed: Duration,
    ) {
        self.logins.add(&[idp, level, result, code]);
        self.verification.observe(elapsed);
    }

    /// One logout step: `step` is `start`, `response` (the IdP's LogoutResponse) or
    /// `request` (an IdP-initiated LogoutRequest).
    pub(crate) fn record_logout(&self, idp: &str, step: &'static str, code: &'static str) {
        self.logouts.add(&[idp, step, code]);
    }

    /// One answer of an SP endpoint of the axum integration.
    #[cfg(feature = "axum")]
    pub(crate) fn record_http(&self, route: &str, status: u16) {
        let digits = itoa3(status);
        let status = std::str::from_utf8(&digits).unwrap_or("000");
        self.http.add(&[route, status]);
    }

    /// The counters in the Prometheus text exposition format (version 0.0.4): `# HELP` and
    /// `# TYPE` once per metric, label values escaped, histogram buckets cumulative with
    /// `+Inf`, `_sum` and `_count`. Serve it as `text/plain; version=0.0.4`.
    pub fn render_prometheus(&self) -> String {
        let mut out = String::with_capacity(4096);
        self.logins.render(
            &mut out,
            "spid_sp_logins_total",
            "Login outcomes (finish_login) by IdP, requested level, result and code.",
            &["idp", "level", "result", "code"],
        );
        self.verification.render(
            &mut out,
            "spid_sp_login_verification_seconds",
            "Time spent in finish_login (decode, shape checks, signatures, SPID rules, replay cache).",
        );
        self.logouts.render(
            &mut out,
            "spid_sp_logouts_total",
            "Single logout steps by IdP, step and outcome code.",
            &["idp", "step", "code"],
        );
        self.store_errors.render(
            &mut out,
            "spid_sp_store_errors_total",
            "Store failures (the operation failed closed).",
            &["store"],
        );
        counter_header(
            &mut out,
            "spid_sp_audit_errors_total",
            "Failures to write the transaction log.",
        );
        let _ = writeln!(out, "spid_sp_audit_errors_total {}", self.audit_errors());
        self.http.render(
            &mut out,
            "spid_sp_http_responses_total",
            "Answers of the SP endpoints of the axum integration by route and status.",
            &["route", "status"],
        );
        out
    }
}

/// Three ASCII digits of an HTTP status (100..=999), without allocating.
#[cfg(feature = "axum")]
fn itoa3(n: u16) -> [u8; 3] {
    let n = n.min(999);
    // Each digit is below 10: the casts cannot truncate.
    [
        b'0' + (n / 100) as u8,
        b'0' + (n / 10 % 10) as u8,
        b'0' + (n % 10) as u8,
    ]
}

/// One counter metric with labels: `values joined by \u{1f}` → (values, count).
#[derive(Debug, Default)]
struct Family {
    series: RwLock<HashMap<String, Series>>,
}

#[derive(Debug)]
struct Series {
    labels: Vec<String>,
    count: AtomicU64,
}

/// The separator of label values in a series key (control characters are replaced in
/// values, so it cannot occur in one).
const SEP: char = '\u{1f}';

fn clean(value: &str) -> std::borrow::Cow<'_, str> {
    if value.chars().any(char::is_control) {
        value
            .chars()
            .map(|c| if c.is_control() { '?' } else { c })
            .collect::<String>()
            .into()
    } else {
        value.into()
    }
}

impl Family {
    fn add(&self, values: &[&str]) {
        let mut key = String::with_capacity(values.iter().map(|v| v.len() + 1).sum());
        for v in values {
            key.push_str(&clean(v));
            key.push(SEP);
        }
        {
            let series = self.series.read().unwrap_or_else(|p| p.into_inner());
            if let Some(s) = series.get(&key) {
                s.count.fetch_add(1, Ordering::Relaxed);
                return;
            }
        }
        let mut series = self.series.write().unwrap_or_else(|p| p.into_inner());
        let labels: Vec<String> = if series.len() < MAX_SERIES || series.contains_key(&key) {
            values.iter().map(|v| clean(v).into_owned()).collect()
        } else {
            key = values.iter().map(|_| "overflow\u{1f}").collect();
            values.iter().map(|_| "overflow".to_owned()).collect()
        };
        series
            .entry(key)
            .or_insert_with(|| Series {
                labels,
                count: AtomicU64::new(0),
            })
            .count
            .fetch_add(1, Ordering::Relaxed);
    }

    fn render(&self, out: &mut String, name: &str, help: &str, label_names: &[&str]) {
        counter_header(out, name, help);
        let series = self.series.read().unwrap_or_else(|p| p.into_inner());
        let mut rows: Vec<&Series> = series.values().collect();
        rows.sort_by(|a, b| a.labels.cmp(&b.labels));
        for s in rows {
            out.push_str(name);
            out.push('{');
            for (i, (n, v)) in label_names.iter().zip(&s.labels).enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(n);
                out.push_str("=\"");
                escape_label(v, out);
                out.push('"');
            }
            let _ = writeln!(out, "}} {}", s.count.load(Ordering::Relaxed));
        }
    }
}

fn counter_header(out: &mut String, name: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
}

/// A label value as the exposition format wants it: `\` → `\\`, `"` → `\"`, newline →
/// `\n`.
fn escape_label(value: &str, out: &mut String) {
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

/// Fixed buckets, counted per bucket (made cumulative when rendered).
#[derive(Debug, Default)]
struct Histogram {
    buckets: [AtomicU64; 12],
    count: AtomicU64,
    sum_ns: AtomicU64,
}

impl Histogram {
    fn observe(&self, elapsed: Duration) {
        let us = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        if let Some(b) = BUCKETS_US
            .iter()
            .zip(&self.buckets)
            .find(|(le, _)| us <= **le)
            .map(|(_, b)| b)
        {
            b.fetch_add(1, Ordering::Relaxed);
        }
        let ns = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
        self.sum_ns.fetch_add(ns, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
    }

    fn render(&self, out: &mut String, name: &str, help: &str) {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
        // Read the count first: buckets read after it are at least as recent, and the
        // `+Inf` bucket is the count itself, so the series stays monotonic.
        let count = self.count.load(Ordering::Relaxed);
        let mut cumulative = 0u64;
        for (le, b) in BUCKETS_LE.iter().zip(&self.buckets) {
            cumulative = cumulative
                .saturating_add(b.load(Ordering::Relaxed))
                .min(count);
            let _ = writeln!(out, "{name}_bucket{{le=\"{le}\"}} {cumulative}");
        }
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {count}");
        // Nanoseconds to seconds: exact enough for a monitoring sum.
        #[allow(clippy::cast_precision_loss)]
        let sum = self.sum_ns.load(Ordering::Relaxed) as f64 / 1e9;
        let _ = writeln!(out, "{name}_sum {sum}");
        let _ = writeln!(out, "{name}_count {count}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_the_exposition_format() {
        let m = Metrics::new();
        m.record_login(
            "https://idp.example/\"x\"\\\n",
            "2",
            "rejected",
            "replay",
            Duration::from_micros(300),
        );
        m.record_login(
            "https://idp.example",
            "2",
            "accepted",
            "accepted",
            Duration::from_millis(2),
        );
        m.record_login(
            "https://idp.example",
            "2",
            "accepted",
            "accepted",
            Duration::from_secs(3),
        );
        m.record_audit_error();
        m.record_store_error("replay");
        #[cfg(feature = "axum")]
        m.record_http("/spid/acs", 303);
        let text = m.render_prometheus();
        assert!(text.contains(
            "spid_sp_logins_total{idp=\"https://idp.example\",level=\"2\",result=\"accepted\",code=\"accepted\"} 2\n"
        ));
        assert!(
            text.contains("idp=\"https://idp.example/\\\"x\\\"\\\\?\""),
            "escaped, newline replaced: {text}"
        );
        assert!(text.contains("spid_sp_login_verification_seconds_bucket{le=\"0.0005\"} 1\n"));
        assert!(text.contains("spid_sp_login_verification_seconds_bucket{le=\"0.0025\"} 2\n"));
        assert!(text.contains("spid_sp_login_verification_seconds_bucket{le=\"1\"} 2\n"));
        assert!(text.contains("spid_sp_login_verification_seconds_bucket{le=\"+Inf\"} 3\n"));
        assert!(text.contains("spid_sp_login_verification_seconds_count 3\n"));
        assert!(text.contains("spid_sp_login_verification_seconds_sum 3.0023\n"));
        assert!(text.contains("spid_sp_audit_errors_total 1\n"));
        assert!(text.contains("spid_sp_store_errors_total{store=\"replay\"} 1\n"));
        #[cfg(feature = "axum")]
        assert!(
            text.contains("spid_sp_http_responses_total{route=\"/spid/acs\",status=\"303\"} 1\n")
        );
    }

    #[test]
    fn label_sets_are_bounded() {
        let m = Metrics::new();
        for i in 0..MAX_SERIES + 10 {
            m.record_logout(&format!("idp{i}"), "start", "sent");
        }
        let text = m.render_prometheus();
        assert!(text.contains(
            "spid_sp_logouts_total{idp=\"overflow\",step=\"overflow\",code=\"overflow\"} 10\n"
        ));
        assert_eq!(
            text.matches("spid_sp_logouts_total{").count(),
            MAX_SERIES + 1
        );
    }
}
