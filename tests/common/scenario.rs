//! Named set-ups: what runs before a test's first step, said the way the test would say it.
//!
//! ```ignore
//! let Some(scenario) = Scenario::shared_trino() else { return };
//! let Running { engine: trino, proxy, folder, agent } = scenario
//!     .behind_a_fault_proxy()
//!     .with_agent_args(["--debounce", "50ms"])
//!     .run_past_the_first_pass();
//! ```
//!
//! A scenario is a coordinator (the test binary's shared dynamic Trino, a Trino of the test's
//! own, or the emulator), optionally a [`FaultyProxy`] in front of it, a folder with the files it
//! starts with, and the agent (`run`) watching that folder with the test's arguments. What the
//! test does next is the test's own.

use super::{AgentBuilder, Folder, RunningAgent, agent};
use test_support::emulator::{Emulator, RunningEmulator};
use test_support::proxy::FaultyProxy;
use test_support::real::{Engines, RealEngine, Trino, shared_dynamic_trino};

/// A coordinator of a scenario, as the scenario holds it until it runs.
pub trait Coordinator {
    type Running: Serving;
    /// Starts it (a builder), or hands it over (one already running).
    fn start(self) -> Self::Running;
}

/// A coordinator that serves: where the agent (or a proxy) finds it.
pub trait Serving {
    /// `http://host:port`.
    fn url(&self) -> String;
    /// `host:port`, for a proxy in front of it.
    fn address(&self) -> String;
}

impl Coordinator for Emulator {
    type Running = RunningEmulator;
    fn start(self) -> RunningEmulator {
        Emulator::start(self)
    }
}

impl Serving for RunningEmulator {
    fn url(&self) -> String {
        RunningEmulator::url(self)
    }
    fn address(&self) -> String {
        self.addr().to_string()
    }
}

impl Coordinator for RealEngine {
    type Running = RealEngine;
    fn start(self) -> RealEngine {
        self
    }
}

impl Coordinator for &'static RealEngine {
    type Running = &'static RealEngine;
    fn start(self) -> &'static RealEngine {
        self
    }
}

impl Serving for RealEngine {
    fn url(&self) -> String {
        RealEngine::url(self)
    }
    fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port())
    }
}

impl Serving for &RealEngine {
    fn url(&self) -> String {
        RealEngine::url(self)
    }
    fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port())
    }
}

/// No proxy: the agent talks to the coordinator itself.
pub struct Direct;

/// A set-up being described; [`Scenario::run`] makes it so.
#[must_use = "a scenario does nothing until it runs"]
pub struct Scenario<C, P = Direct> {
    coordinator: C,
    proxy: std::marker::PhantomData<P>,
    files: Vec<(String, String)>,
    args: Vec<String>,
}

/// A scenario that runs. Fields drop in this order: the agent first, the coordinator last.
pub struct Running<E, P = Direct> {
    pub agent: RunningAgent,
    pub folder: Folder,
    /// The proxy between the agent and the coordinator ([`Direct`] when there is none).
    pub proxy: P,
    pub engine: E,
}

impl Scenario<&'static RealEngine> {
    /// The agent on the test binary's shared dynamic Trino (memory store), which the tests of the
    /// binary share with catalog names of their own. `None` when the engines are missing and not
    /// required (the test then skips, as [`Engines::required`] says).
    pub fn shared_trino() -> Option<Self> {
        let engines = Engines::required()?;
        Some(Scenario::on(shared_dynamic_trino(&engines)))
    }
}

impl Scenario<RealEngine> {
    /// The agent on a Trino of the test's own, started now from `trino`: for a test that restarts
    /// it or needs another configuration. `None` as for [`Scenario::shared_trino`].
    pub fn own_trino(trino: Trino) -> Option<Self> {
        let engines = Engines::required()?;
        Some(Scenario::on(trino.start(&engines)))
    }
}

impl Scenario<Emulator> {
    /// The agent on the emulator playing a dynamic Trino with the memory store.
    pub fn emulated_trino() -> Self {
        Scenario::on(Emulator::trino().dynamic().memory_store())
    }

    /// Each statement takes the emulator this long (`--statement-latency`): a pass that lasts.
    pub fn with_statement_latency(mut self, latency: &str) -> Self {
        self.coordinator = self.coordinator.args(["--statement-latency", latency]);
        self
    }
}

impl<C: Coordinator> Scenario<C> {
    /// The agent on this coordinator (a builder, started when the scenario runs, or one that
    /// runs already).
    pub fn on(coordinator: C) -> Self {
        Scenario {
            coordinator,
            proxy: std::marker::PhantomData,
            files: Vec::new(),
            args: Vec::new(),
        }
    }

    /// A [`FaultyProxy`] between the agent and the coordinator, passing everything through until
    /// the test arms it.
    pub fn behind_a_fault_proxy(self) -> Scenario<C, FaultyProxy> {
        Scenario {
            coordinator: self.coordinator,
            proxy: std::marker::PhantomData,
            files: self.files,
            args: self.args,
        }
    }
}

/// How a scenario's agent reaches its coordinator: directly, or through a proxy started for it.
pub trait Route: Sized {
    fn start(coordinator: &impl Serving) -> (Self, String);
}

impl Route for Direct {
    fn start(coordinator: &impl Serving) -> (Direct, String) {
        (Direct, coordinator.url())
    }
}

impl Route for FaultyProxy {
    fn start(coordinator: &impl Serving) -> (FaultyProxy, String) {
        let proxy = FaultyProxy::start(&coordinator.address());
        let url = proxy.url();
        (proxy, url)
    }
}

impl<C: Coordinator, P: Route> Scenario<C, P> {
    /// A catalog file in the folder before the agent starts.
    pub fn with_file(mut self, name: &str, text: &str) -> Self {
        self.files.push((name.to_string(), text.to_string()));
        self
    }

    /// Catalog files in the folder before the agent starts.
    pub fn with_files<N: Into<String>, T: Into<String>>(
        mut self,
        files: impl IntoIterator<Item = (N, T)>,
    ) -> Self {
        self.files
            .extend(files.into_iter().map(|(n, t)| (n.into(), t.into())));
        self
    }

    /// Arguments of the agent's `run`, after the folder and the server.
    pub fn with_agent_args<I: IntoIterator<Item = S>, S: Into<String>>(mut self, args: I) -> Self {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// Starts the coordinator, the proxy, writes the files and starts the agent; returns once the
    /// agent says where it listens.
    pub fn run(self) -> Running<C::Running, P> {
        self.run_with(|agent| agent)
    }

    /// As [`Scenario::run`], then waits for the agent's start-up pass to end, so that the test's
    /// own file events are not folded into it.
    pub fn run_past_the_first_pass(self) -> Running<C::Running, P> {
        let running = self.run();
        running.agent.wait_first_pass();
        running
    }

    /// As [`Scenario::run`], with the agent's builder handed to `finish` before it starts (an
    /// environment variable, another log format).
    pub fn run_with(
        self,
        finish: impl FnOnce(AgentBuilder) -> AgentBuilder,
    ) -> Running<C::Running, P> {
        let engine = self.coordinator.start();
        let (proxy, url) = P::start(&engine);
        let folder = Folder::new();
        for (name, text) in &self.files {
            folder.write(name, text);
        }
        let agent = finish(agent("run", folder.path(), &url).args(self.args)).start();
        Running {
            agent,
            folder,
            proxy,
            engine,
        }
    }
}
