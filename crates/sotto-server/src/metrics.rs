//! Counters exported at `/metrics` in the Prometheus text format. Counts only: no labels that
//! identify accounts.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

/// The relay's counters and gauges.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Accounts registered since start.
    pub registrations: AtomicU64,
    /// Messages stored (a retry of a stored id is not counted).
    pub messages_stored: AtomicU64,
    /// Sealed-sender messages stored (single and multi-recipient; also in `messages_stored`).
    pub messages_sealed: AtomicU64,
    /// Retries answered as duplicates.
    pub messages_duplicate: AtomicU64,
    /// Envelopes pushed on WebSockets.
    pub envelopes_pushed: AtomicU64,
    /// Envelopes acknowledged and deleted.
    pub envelopes_acked: AtomicU64,
    /// Prekey bundles handed out (per device).
    pub bundles_served: AtomicU64,
    /// Requests refused by a rate limit.
    pub rate_limited: AtomicU64,
    /// Requests answered with a 4xx or 5xx error.
    pub errors: AtomicU64,
    /// Open delivery WebSockets.
    pub websockets_open: AtomicI64,
}

impl Metrics {
    /// Adds one to a counter.
    pub fn inc(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Renders every metric, plus the store's commit counters, in the Prometheus text
    /// exposition format.
    pub fn render(&self, commits: crate::store::CommitStats) -> String {
        let counters = [
            (
                "sotto_registrations_total",
                "Accounts registered.",
                &self.registrations,
            ),
            (
                "sotto_messages_stored_total",
                "Messages stored durably.",
                &self.messages_stored,
            ),
            (
                "sotto_messages_sealed_total",
                "Sealed-sender messages stored durably.",
                &self.messages_sealed,
            ),
            (
                "sotto_messages_duplicate_total",
                "Sends recognised as retries.",
                &self.messages_duplicate,
            ),
            (
                "sotto_envelopes_pushed_total",
                "Envelopes pushed on WebSockets.",
                &self.envelopes_pushed,
            ),
            (
                "sotto_envelopes_acked_total",
                "Envelopes acknowledged and deleted.",
                &self.envelopes_acked,
            ),
            (
                "sotto_prekey_bundles_served_total",
                "Device prekey bundles served.",
                &self.bundles_served,
            ),
            (
                "sotto_rate_limited_total",
                "Requests refused by rate limits.",
                &self.rate_limited,
            ),
            (
                "sotto_http_errors_total",
                "Requests answered with an error.",
                &self.errors,
            ),
        ];
        let mut out = String::new();
        for (name, help, value) in counters {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}",
                value.load(Ordering::Relaxed)
            );
        }
        let store = [
            (
                "sotto_mailbox_commits_total",
                "Mailbox transactions committed.",
                commits.commits,
            ),
            (
                "sotto_mailbox_writes_total",
                "Sends, ack bursts and purges in those commits.",
                commits.writes,
            ),
        ];
        for (name, help, value) in store {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}"
            );
        }
        let open = self.websockets_open.load(Ordering::Relaxed);
        let _ = writeln!(
            out,
            "# HELP sotto_websockets_open Open delivery WebSockets.\n# TYPE sotto_websockets_open gauge\nsotto_websockets_open {open}"
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_prometheus_text() {
        let metrics = Metrics::default();
        Metrics::inc(&metrics.messages_stored);
        let text = metrics.render(crate::store::CommitStats {
            commits: 2,
            writes: 7,
        });
        assert!(text.contains(
            "# TYPE sotto_messages_stored_total counter\nsotto_messages_stored_total 1\n"
        ));
        assert!(text.contains("sotto_websockets_open 0\n"));
        assert!(text.contains("sotto_mailbox_writes_total 7\n"));
    }
}
