//! What the agent knows of the coordinator between passes: its flavour, whether its catalog
//! management is dynamic or static, its last `/v1/info` and uptime, and so whether it restarted
//! since — and from that, the apply mode. Pure: the caller reads the engine and passes the answer
//! and the clock in; [`EngineView::observe`] says what changed, and the caller acts on it.

use crate::catalog::Flavour;
use crate::engine::{Management, Mode, ModeChoice, ServerInfo, StartWindow};
use crate::ledger::Refused;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// Two answers are of different starts only when their start windows stay apart by this much: the
/// time between the engine's reading of its uptime and the agent's reading of its clock, for
/// answers read seconds apart on a loaded machine.
const ANSWERS_APART: Duration = Duration::from_secs(3);

/// A refusal kept in the ledger is this coordinator's when its start instant is this close to
/// this start (the instant was read from another answer, maybe by another agent process).
const REFUSED_BY_THIS_START: Duration = Duration::from_secs(10);

pub(super) struct EngineView {
    /// `--engine`, when not `auto`.
    forced_flavour: Option<Flavour>,
    /// `--mode`.
    choice: ModeChoice,
    /// `sync` as an init step: render only, never restart.
    render_only: bool,
    flavour: Flavour,
    /// What the coordinator's catalog management is, once known (learnt or remembered).
    management: Option<Management>,
    /// `/v1/info` as the last pass that reached the engine saw it.
    last_info: Option<ServerInfo>,
    /// When the coordinator that answered last started (from its uptime), and that uptime.
    last_start: Option<(StartWindow, f64)>,
    /// When the agent last restarted the coordinator itself.
    last_restart: Option<Instant>,
    /// Drops of catalogs whose connector leaks on DROP since the coordinator (last) started.
    leaky_drops: u32,
}

/// What one `/v1/info` answer changed.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct Observed {
    /// The engine is another flavour than assumed: files are read with its rules again.
    pub flavour_changed: bool,
    /// The coordinator restarted since the last answer.
    pub restart: Option<RestartSeen>,
    /// The first answer this process got.
    pub first_answer: bool,
}

#[derive(Debug, PartialEq, Eq)]
pub(super) struct RestartSeen {
    /// The agent restarted it (in restart mode), so its configuration is the one it learnt.
    pub by_this_agent: bool,
    /// `--mode auto` had learnt that it was static, and forgot it: a restart the agent did not
    /// make may come with a new configuration.
    pub forgot_static: bool,
}

impl EngineView {
    pub fn new(forced_flavour: Option<Flavour>, choice: ModeChoice, render_only: bool) -> Self {
        EngineView {
            forced_flavour,
            choice,
            render_only,
            flavour: forced_flavour.unwrap_or(Flavour::Trino),
            management: None,
            last_info: None,
            last_start: None,
            last_restart: None,
            leaky_drops: 0,
        }
    }

    pub fn flavour(&self) -> Flavour {
        self.flavour
    }

    pub fn last_info(&self) -> Option<&ServerInfo> {
        self.last_info.as_ref()
    }

    /// The coordinator could not be reached: what it said last is not true any more.
    pub fn lost(&mut self) {
        self.last_info = None;
    }

    /// Takes in an answer of `/v1/info` read at `read_at_ms` (Unix milliseconds); `now` is the
    /// monotonic clock at the same moment.
    pub fn observe(&mut self, info: &ServerInfo, read_at_ms: u64, now: Instant) -> Observed {
        let mut observed = Observed::default();
        let flavour = self.forced_flavour.unwrap_or_else(|| info.flavour());
        if flavour != self.flavour {
            self.flavour = flavour;
            observed.flavour_changed = true;
        }
        let uptime = info.uptime_seconds();
        let start = info.start_window(read_at_ms).zip(uptime);
        if let (Some(before), Some(current)) = (self.last_start, start)
            && restarted_between(before, current)
        {
            let up = current.1;
            let by_this_agent = self
                .last_restart
                .is_some_and(|at| now.saturating_duration_since(at).as_secs_f64() < up + 60.0);
            let mut forgot_static = false;
            if self.choice == ModeChoice::Auto && !by_this_agent {
                forgot_static = self.management == Some(Management::Static);
                self.management = None;
            }
            self.leaky_drops = 0;
            observed.restart = Some(RestartSeen {
                by_this_agent,
                forgot_static,
            });
        }
        observed.first_answer = self.last_start.is_none();
        self.last_start = start;
        self.last_info = Some(info.clone());
        observed
    }

    /// The agent restarts the coordinator now.
    pub fn restarting(&mut self, now: Instant) {
        self.last_restart = Some(now);
    }

    /// When the agent last restarted the coordinator.
    pub fn last_restart(&self) -> Option<Instant> {
        self.last_restart
    }

    /// The engine said what its catalog management is (by taking a CREATE/DROP, or refusing one
    /// as static), or the ledger remembered it.
    pub fn learn(&mut self, management: Management) {
        self.management = Some(management);
    }

    /// One more drop of a catalog whose connector leaks on DROP; how many since the coordinator
    /// started.
    pub fn leaky_drop(&mut self) -> u32 {
        self.leaky_drops = self.leaky_drops.saturating_add(1);
        self.leaky_drops
    }

    /// The apply mode for what is known now.
    ///
    /// Trino says nowhere a read-only client can see whether it runs `catalog.management=static`
    /// (measured on 476: not `/v1/info`, `/v1/status`, its MBeans, `EXPLAIN`, nor the system
    /// tables), and any statement that would tell — a DROP of a catalog that does not exist, say
    /// — leaves a failed query in its history and needs a permission to drop. So `auto` takes a
    /// Trino to be dynamic until the engine refuses a change the agent had to make anyway as
    /// "not supported by the static catalog store"; it then remembers that (in the ledger, per
    /// coordinator URL) and applies in restart mode. A coordinator restart the agent did not make
    /// forgets it, as the configuration may have changed with it.
    pub fn mode(&self) -> Mode {
        self.choice.decide(self.flavour, self.management)
    }

    /// `--mode auto` on a Trino that has not refused a change as static: dynamic is assumed.
    pub fn mode_assumed(&self) -> bool {
        self.choice == ModeChoice::Auto
            && self.flavour == Flavour::Trino
            && self.management.is_none()
    }

    /// Why `mode` is the mode, for the log.
    pub fn reason(&self, mode: Mode) -> &'static str {
        match (self.choice, mode, self.flavour) {
            (ModeChoice::Auto, Mode::Restart, Flavour::Presto) => {
                "PrestoDB cannot add catalogs at run time"
            }
            (ModeChoice::Auto, Mode::Restart, Flavour::Trino) => {
                "this Trino runs with catalog.management=static (it refused a CREATE/DROP CATALOG as such)"
            }
            (ModeChoice::Auto, Mode::Dynamic, _) => {
                "a Trino: dynamic catalog management, until the coordinator refuses a change as static"
            }
            _ => "chosen with --mode",
        }
    }

    /// What restart mode lacks without `--target-dir`.
    pub fn without_target_dir(&self) -> &'static str {
        match (self.choice, self.flavour) {
            (ModeChoice::Auto, Flavour::Trino) => {
                "this Trino coordinator runs with static catalog management: either set catalog.management=dynamic on every node (see the README), or give the agent --target-dir (the coordinator's catalog folder) and --container so it can apply changes by restarting the coordinator"
            }
            _ => {
                "restart mode needs --target-dir (the coordinator's catalog folder) and, to restart the coordinator, --container"
            }
        }
    }

    /// Whether a pass needs `/v1/info` before deciding the mode.
    pub fn mode_needs_engine(&self) -> bool {
        match self.choice {
            ModeChoice::Dynamic => true,
            ModeChoice::Restart => !self.render_only,
            ModeChoice::Auto => {
                !(self.flavour == Flavour::Presto
                    && self.forced_flavour.is_some()
                    && self.render_only)
            }
        }
    }

    /// Whether the mode is restart whatever the engine says: restart mode renders even when the
    /// coordinator is down (it may be down because of a bad catalog).
    pub fn restart_for_sure(&self) -> bool {
        self.choice == ModeChoice::Restart
            || (self.choice == ModeChoice::Auto && self.forced_flavour == Some(Flavour::Presto))
    }

    /// Whether a file event may plan with what `/v1/info` said last time: a coordinator that is
    /// starting or gone refuses the catalog listing anyway, and its restarts are noticed by the
    /// resync passes, which always ask.
    pub fn may_reuse_info(&self) -> bool {
        self.last_info.is_some() && self.choice != ModeChoice::Restart
    }

    /// When the coordinator that answered last started, as far as it tells.
    fn start(&self) -> Option<StartWindow> {
        self.last_info.as_ref()?;
        self.last_start.map(|(window, _)| window)
    }

    /// When the coordinator started, as far as its last `/v1/info` tells (Unix milliseconds; the
    /// earliest instant its uptime allows), to be kept with what it refused.
    pub fn started_ms(&self) -> Option<u64> {
        self.start().map(|window| window.earliest_ms)
    }

    /// A fresh agent's held refusals stand only if the coordinator is the one that refused them:
    /// the names of those refused by a coordinator that started before this one (by more than the
    /// precision of its uptime).
    pub fn refused_by_an_earlier_start(&self, refused: &BTreeMap<String, Refused>) -> Vec<String> {
        let Some(this_start) = self.start() else {
            return Vec::new();
        };
        let this_start = this_start.widened(REFUSED_BY_THIS_START);
        refused
            .iter()
            .filter(|(_, r)| {
                r.engine_started_ms
                    .is_none_or(|then| !this_start.contains(then))
            })
            .map(|(n, _)| n.clone())
            .collect()
    }
}

/// Whether the coordinator answering now is another process than the one read before, from two
/// answers' starts and uptimes. A smaller uptime says so at once; but a coordinator that was down
/// longer than it had been up answers with a larger one (its start takes seconds, the agent's
/// retries back off), so the starts are compared too: beyond doubt apart (the uptime rule,
/// [`StartWindow::later_than`]), with [`ANSWERS_APART`] for two readings seconds apart.
fn restarted_between(before: (StartWindow, f64), now: (StartWindow, f64)) -> bool {
    let (before_start, before_uptime) = before;
    let (now_start, now_uptime) = now;
    now_uptime < before_uptime || now_start.later_than(&before_start.widened(ANSWERS_APART))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::CatalogSpec;
    use std::time::Duration;

    fn info(version: &str, uptime: &str) -> ServerInfo {
        serde_json::from_value(serde_json::json!({
            "nodeVersion": {"version": version},
            "coordinator": true,
            "starting": false,
            "uptime": uptime,
        }))
        .unwrap()
    }

    /// Two readings `(read at, uptime)` of `/v1/info`, as `restarted_between` compares them.
    fn restarted(before: (u64, &str), now: (u64, &str)) -> bool {
        let reading = |(at, uptime): (u64, &str)| {
            let info = info("476", uptime);
            (
                info.start_window(at).unwrap(),
                info.uptime_seconds().unwrap(),
            )
        };
        restarted_between(reading(before), reading(now))
    }

    fn auto() -> EngineView {
        EngineView::new(None, ModeChoice::Auto, false)
    }

    #[test]
    fn the_same_coordinator_read_again_is_not_a_restart() {
        // 12.5 s up, read again 60 s later (a little late: 0.8 s between its reading and ours).
        assert!(!restarted((1_000_000, "12.50s"), (1_060_800, "72.50s")));
        // Rounded to two decimals of its unit: 3.65m then 5.00m, 81 s later.
        assert!(!restarted((1_000_000, "3.65m"), (1_081_000, "5.00m")));
        // Days: 2.50d then 2.51d (rounded 0.005d = 432 s).
        assert!(!restarted(
            (1_000_000_000, "2.50d"),
            (1_001_000_000, "2.51d")
        ));
    }

    #[test]
    fn a_smaller_uptime_is_a_restart() {
        assert!(restarted((1_000_000, "30.00s"), (1_010_000, "5.00s")));
    }

    #[test]
    fn a_coordinator_down_longer_than_it_had_been_up_is_a_restart() {
        // Seen at 15 s of uptime, stopped, started again and first answering (no longer starting)
        // 40 s later at 20 s of uptime: the one before started at 985 s, this one at 1 035 s.
        assert!(restarted((1_000_000, "15.00s"), (1_055_000, "20.00s")));
        // A short-lived one: seen at 5 s, the new one seen at 9 s, 13 s later.
        assert!(restarted((1_000_000, "5.00s"), (1_013_000, "9.00s")));
    }

    #[test]
    fn the_flavour_is_read_from_the_version_unless_it_is_forced() {
        let now = Instant::now();
        let mut view = auto();
        assert_eq!(view.flavour(), Flavour::Trino);
        let seen = view.observe(&info("0.296", "10.00s"), 1_000_000, now);
        assert!(seen.flavour_changed && seen.first_answer);
        assert_eq!(
            (view.flavour(), view.mode()),
            (Flavour::Presto, Mode::Restart)
        );
        let mut forced = EngineView::new(Some(Flavour::Trino), ModeChoice::Auto, false);
        assert!(
            !forced
                .observe(&info("0.296", "10.00s"), 1_000_000, now)
                .flavour_changed
        );
        assert_eq!(forced.flavour(), Flavour::Trino);
    }

    #[test]
    fn a_restart_by_someone_else_forgets_that_the_coordinator_was_static() {
        let now = Instant::now();
        let mut view = auto();
        view.observe(&info("476", "1.00m"), 1_000_000, now);
        view.learn(Management::Static);
        assert_eq!(view.mode(), Mode::Restart);
        assert!(!view.mode_assumed());
        let seen = view.observe(&info("476", "5.00s"), 1_010_000, now);
        assert_eq!(
            seen.restart,
            Some(RestartSeen {
                by_this_agent: false,
                forgot_static: true
            })
        );
        assert!(!seen.first_answer);
        assert_eq!(view.mode(), Mode::Dynamic);
        assert!(view.mode_assumed());
    }

    #[test]
    fn a_restart_by_the_agent_keeps_what_it_learnt() {
        let now = Instant::now();
        let mut view = auto();
        view.observe(&info("476", "1.00m"), 1_000_000, now);
        view.learn(Management::Static);
        view.restarting(now);
        let seen = view.observe(
            &info("476", "20.00s"),
            1_030_000,
            now + Duration::from_secs(30),
        );
        assert_eq!(
            seen.restart,
            Some(RestartSeen {
                by_this_agent: true,
                forgot_static: false
            })
        );
        assert_eq!(view.mode(), Mode::Restart);
    }

    #[test]
    fn leaky_drops_are_counted_since_the_coordinator_started() {
        let now = Instant::now();
        let mut view = auto();
        view.observe(&info("476", "1.00m"), 1_000_000, now);
        assert_eq!((view.leaky_drop(), view.leaky_drop()), (1, 2));
        view.observe(&info("476", "1.00s"), 1_010_000, now);
        assert_eq!(view.leaky_drop(), 1);
    }

    #[test]
    fn a_file_event_reuses_the_last_answer_except_in_restart_mode() {
        let now = Instant::now();
        let mut view = auto();
        assert!(!view.may_reuse_info());
        view.observe(&info("476", "1.00m"), 1_000_000, now);
        assert!(view.may_reuse_info());
        view.lost();
        assert!(!view.may_reuse_info());
        let mut restart = EngineView::new(None, ModeChoice::Restart, false);
        restart.observe(&info("476", "1.00m"), 1_000_000, now);
        assert!(!restart.may_reuse_info());
    }

    #[test]
    fn restart_mode_renders_without_the_engine_only_where_nothing_else_is_possible() {
        let presto = Some(Flavour::Presto);
        assert!(EngineView::new(None, ModeChoice::Restart, false).restart_for_sure());
        assert!(EngineView::new(presto, ModeChoice::Auto, false).restart_for_sure());
        assert!(!auto().restart_for_sure());
        // An init step's sync of a PrestoDB needs no engine at all.
        assert!(!EngineView::new(presto, ModeChoice::Auto, true).mode_needs_engine());
        assert!(!EngineView::new(None, ModeChoice::Restart, true).mode_needs_engine());
        assert!(auto().mode_needs_engine());
    }

    #[test]
    fn refusals_of_a_coordinator_that_started_earlier_are_not_held_against_this_one() {
        let now = Instant::now();
        let mut view = auto();
        let refused = |started: Option<u64>| Refused {
            fingerprint: CatalogSpec {
                name: "c".into(),
                connector: "tpch".into(),
                properties: Default::default(),
            }
            .fingerprint(),
            error: "no".into(),
            error_name: None,
            engine_started_ms: started,
        };
        assert!(
            view.refused_by_an_earlier_start(&[("c".to_string(), refused(None))].into())
                .is_empty(),
            "nothing is known of the coordinator yet"
        );
        // Up 100 s at 1 000 000: started at 900 000.
        view.observe(&info("476", "100.00s"), 1_000_000, now);
        let all: BTreeMap<String, Refused> = [
            ("same".to_string(), refused(Some(905_000))),
            ("earlier".to_string(), refused(Some(800_000))),
            ("unknown".to_string(), refused(None)),
        ]
        .into();
        assert_eq!(
            view.refused_by_an_earlier_start(&all),
            ["earlier", "unknown"]
        );
    }
}
