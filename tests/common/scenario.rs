//! Named set-ups: what runs before a test's first step, said the way the test would say it.
//!
//! ```ignore
//! let Some(scenario) = Scenario::shared_trino() else { return };
//! let (trino, proxy, folder, agent) = scenario
//!     .behind_a_fault_proxy()
//!     .with_agent_args(["--debounce", "50ms"])
//!     .run_past_the_first_pass();
//! ```
//!
//! A scenario is a coordinator (the test binary's shared dynamic Trino, a Trino of the test's
//! own, or the emulator), optionally a [`FaultyProxy`] in front of it, a folder with the files it
//! starts with, and the agent (`run`) watching that folder with the test's arguments. Running it
//! gives the test those parts — `(coordinator, folder, agent)`, or `(coordinator, proxy, folder,
//! agent)` — and what the test does next is the test's own.

use super::{Folder, RunningAgent, agent, kubelet_update};
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

/// The agent talks to the coordinator itself.
pub struct Direct;

/// A set-up being described; `run` makes it so.
#[must_use = "a scenario does nothing until it runs"]
pub struct Scenario<C, P = Direct> {
    coordinator: C,
    route: std::marker::PhantomData<P>,
    files: Vec<(String, String)>,
    configmap: Option<(u32, Vec<(String, String)>)>,
    args: Vec<String>,
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
            route: std::marker::PhantomData,
            files: Vec::new(),
            configmap: None,
            args: Vec::new(),
        }
    }

    /// A [`FaultyProxy`] between the agent and the coordinator, passing everything through until
    /// the test arms it.
    pub fn behind_a_fault_proxy(self) -> Scenario<C, FaultyProxy> {
        Scenario {
            coordinator: self.coordinator,
            route: std::marker::PhantomData,
            files: self.files,
            configmap: self.configmap,
            args: self.args,
        }
    }

    /// Starts the coordinator, writes the files and starts the agent; returns once the agent says
    /// where it listens.
    pub fn run(self) -> (C::Running, Folder, RunningAgent) {
        let (engine, folder, agent, _) = self.start(false);
        (engine, folder, agent)
    }

    /// As [`Scenario::run`], then waits for the agent's start-up pass to end, so that the test's
    /// own file events are not folded into it.
    pub fn run_past_the_first_pass(self) -> (C::Running, Folder, RunningAgent) {
        let running = self.run();
        running.2.wait_first_pass();
        running
    }
}

impl<C: Coordinator> Scenario<C, FaultyProxy> {
    /// Starts the coordinator, the proxy in front of it, writes the files and starts the agent
    /// on the proxy; returns once the agent says where it listens.
    pub fn run(self) -> (C::Running, FaultyProxy, Folder, RunningAgent) {
        let (engine, folder, agent, proxy) = self.start(true);
        (engine, proxy.expect("started"), folder, agent)
    }

    /// As [`Scenario::run`], then waits for the agent's start-up pass to end.
    pub fn run_past_the_first_pass(self) -> (C::Running, FaultyProxy, Folder, RunningAgent) {
        let running = self.run();
        running.3.wait_first_pass();
        running
    }
}

impl<C: Coordinator, P> Scenario<C, P> {
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

    /// The folder is a ConfigMap volume: `files` are its generation `generation`, written as the
    /// kubelet writes them (see [`kubelet_update`]), before the agent starts.
    pub fn with_configmap<N: Into<String>, T: Into<String>>(
        mut self,
        generation: u32,
        files: impl IntoIterator<Item = (N, T)>,
    ) -> Self {
        let files = files.into_iter().map(|(n, t)| (n.into(), t.into()));
        self.configmap = Some((generation, files.collect()));
        self
    }

    /// The folder is a ConfigMap volume holding an empty generation 0.
    pub fn with_empty_configmap(self) -> Self {
        self.with_configmap(0, Vec::<(String, String)>::new())
    }

    /// Arguments of the agent's `run`, after the folder and the server.
    pub fn with_agent_args<I: IntoIterator<Item = S>, S: Into<String>>(mut self, args: I) -> Self {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    fn start(self, proxied: bool) -> (C::Running, Folder, RunningAgent, Option<FaultyProxy>) {
        let engine = self.coordinator.start();
        let proxy = proxied.then(|| FaultyProxy::start(&engine.address()));
        let url = proxy
            .as_ref()
            .map_or_else(|| engine.url(), FaultyProxy::url);
        let folder = Folder::new();
        for (name, text) in &self.files {
            folder.write(name, text);
        }
        if let Some((generation, files)) = &self.configmap {
            kubelet_update(folder.path(), *generation, files);
        }
        let agent = agent("run", folder.path(), &url).args(self.args).start();
        (engine, folder, agent, proxy)
    }
}
