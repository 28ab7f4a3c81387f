//! The one uptime rule: when a node started, from the `uptime` of its `/v1/info` answer
//! ([`ServerInfo::start_window`]). The questions asked of a start — did it come after an instant
//! (a render), is it a later start than another answer's (a restart between two readings), may a
//! stored instant be it — are [`StartWindow`]'s, each counting a doubt as "no".

use super::client::ServerInfo;
use std::time::Duration;

impl ServerInfo {
    /// When the node started, from the uptime in this answer and `read_at_ms`, the agent's clock
    /// (Unix milliseconds) as it received the answer. airlift prints uptime with two decimals of
    /// its unit (`3.65m`, `2.50d`), so the true uptime is within 1% of the text; and the node read
    /// its uptime a little before the agent read its clock: up to [`ANSWER_LAG`] for an answer
    /// read as it arrived (one that took longer: [`StartWindow::answered_within`]). `None` when
    /// the answer has no uptime.
    pub fn start_window(&self, read_at_ms: u64) -> Option<StartWindow> {
        let uptime_ms = self.uptime_seconds()? * 1000.0;
        let rounding_ms = uptime_ms / 100.0;
        let read_at = read_at_ms as f64;
        let earliest = read_at - uptime_ms - rounding_ms - ANSWER_LAG.as_millis() as f64;
        let latest = read_at - uptime_ms + rounding_ms;
        Some(StartWindow {
            // The widest whole milliseconds (`as` stops at zero).
            earliest_ms: earliest.floor() as u64,
            latest_ms: (latest.ceil() as u64).min(read_at_ms),
        })
    }
}

/// How long before the agent reads its clock a node may have read the uptime of an answer that
/// the agent reads as it arrives: the answer's way back.
pub const ANSWER_LAG: Duration = Duration::from_millis(50);

/// When a node started, as far as one answer tells: no earlier than `earliest_ms` and no later
/// than `latest_ms` (Unix milliseconds, the agent's clock). The one uptime rule, from
/// [`ServerInfo::start_window`]; each comparison counts a doubt as "no".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StartWindow {
    pub earliest_ms: u64,
    pub latest_ms: u64,
}

impl StartWindow {
    /// The same start, told by an answer that took up to `took` to come back: the node may have
    /// read its uptime that long before the agent read its clock.
    pub fn answered_within(self, took: Duration) -> StartWindow {
        let more = took.saturating_sub(ANSWER_LAG).as_millis() as u64;
        StartWindow {
            earliest_ms: self.earliest_ms.saturating_sub(more),
            ..self
        }
    }

    /// Wider by `margin` on either side: for a clock read apart from the answer, or an instant of
    /// another clock.
    pub fn widened(self, margin: Duration) -> StartWindow {
        let margin = margin.as_millis() as u64;
        StartWindow {
            earliest_ms: self.earliest_ms.saturating_sub(margin),
            latest_ms: self.latest_ms.saturating_add(margin),
        }
    }

    /// The node started after `instant_ms` (Unix milliseconds), beyond doubt.
    pub fn after(&self, instant_ms: u64) -> bool {
        self.earliest_ms > instant_ms
    }

    /// This is a later start than `earlier`'s — the node restarted between the two answers —,
    /// beyond doubt: the two windows do not meet.
    pub fn later_than(&self, earlier: &StartWindow) -> bool {
        self.earliest_ms > earlier.latest_ms
    }

    /// `instant_ms` (Unix milliseconds) may be this start.
    pub fn contains(&self, instant_ms: u64) -> bool {
        (self.earliest_ms..=self.latest_ms).contains(&instant_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::client::NodeVersion;

    fn info(uptime: Option<&str>) -> ServerInfo {
        ServerInfo {
            node_version: NodeVersion {
                version: "476".into(),
            },
            environment: None,
            coordinator: Some(false),
            starting: false,
            uptime: uptime.map(Into::into),
        }
    }

    /// The start told by an answer with `uptime`, read at `read_at_ms`.
    fn window(uptime: &str, read_at_ms: u64) -> StartWindow {
        info(Some(uptime)).start_window(read_at_ms).unwrap()
    }

    #[test]
    fn a_node_up_ten_seconds_started_ten_seconds_before_the_answer_give_or_take_its_rounding() {
        // 1% of the uptime either way, and the answer's way back before the earliest.
        assert_eq!(
            window("10.00s", 1_000_000),
            StartWindow {
                earliest_ms: 1_000_000 - 10_000 - 100 - 50,
                latest_ms: 1_000_000 - 10_000 + 100,
            }
        );
        assert_eq!(info(None).start_window(1_000_000), None);
        assert_eq!(info(Some("junk")).start_window(1_000_000), None);
    }

    #[test]
    fn a_node_started_after_the_render_only_when_its_uptime_leaves_no_doubt() {
        let now = 1_000_000_000;
        // Up 10 s, rendered 5 s ago: started before (an edit keeps the names: it must restart).
        assert!(!window("10.00s", now).after(now - 5_000));
        // Up 10 s, rendered 12 s ago: after.
        assert!(window("10.00s", now).after(now - 12_000));
        // 1.00m may be up to 0.6 s longer: a render 60.3 s ago is in doubt, hence "no".
        assert!(!window("1.00m", now).after(now - 60_300));
        assert!(window("1.00m", now).after(now - 60_700));
    }

    #[test]
    fn two_answers_of_one_start_are_never_a_later_start() {
        let t = 1_000_000_000;
        // The unit changes between two polls; the rounding goes either way.
        assert!(!window("1.00m", t + 10).later_than(&window("59.99s", t)));
        assert!(!window("59.99s", t).later_than(&window("1.00m", t + 10)));
        // Two seconds later through a slow answer: the node read its uptime (11.10s) 900 ms
        // before the agent read its clock. Taken as read at once, it would look like a restart.
        let early = window("10.00s", t);
        let slow = window("11.10s", t + 2_000);
        assert!(slow.later_than(&early));
        assert!(
            !slow
                .answered_within(Duration::from_millis(900))
                .later_than(&early)
        );
    }

    #[test]
    fn a_restart_between_two_answers_is_a_later_start() {
        let t = 1_000_000_000;
        let before = window("5.00m", t);
        assert!(window("2.00s", t + 10_000).later_than(&before));
        assert!(!before.later_than(&window("2.00s", t + 10_000)));
        // Seconds apart, two starts are told apart only with a margin for the clocks.
        let short = window("1.00s", t);
        let next = window("1.00s", t + 2_000);
        assert!(next.later_than(&short));
        assert!(!next.widened(Duration::from_secs(3)).later_than(&short));
    }

    #[test]
    fn a_slow_answer_moves_only_the_earliest_start_back() {
        let quick = window("10.00s", 1_000_000);
        let slow = quick.answered_within(Duration::from_millis(850));
        assert_eq!(slow.earliest_ms, quick.earliest_ms - 800);
        assert_eq!(slow.latest_ms, quick.latest_ms);
        assert_eq!(quick.answered_within(Duration::from_millis(20)), quick);
    }

    #[test]
    fn a_start_instant_kept_from_another_answer_is_this_start_within_a_margin() {
        let t = 1_000_000_000;
        let kept = window("2.00h", t).earliest_ms;
        let now = window("3.00h", t + 3_600_000);
        assert!(now.contains(kept));
        // Another clock's reading, seconds off: this start only within a margin.
        let off = now.earliest_ms - 5_000;
        assert!(!now.contains(off));
        assert!(now.widened(Duration::from_secs(10)).contains(off));
    }
}
