//! Everything that talks to the engine: the client protocol ([`client`]), the catalogs it runs and
//! their changes in dynamic mode ([`catalogs`]), how changes reach it ([`mode`]), the restart of a
//! node — the coordinator or a worker — in restart mode ([`nodes`]), when a node started, from its
//! uptime ([`uptime`]), and what a failed start's log says ([`startlog`]).

pub mod catalogs;
pub mod client;
pub mod mode;
pub mod nodes;
pub mod startlog;
pub mod uptime;

pub use catalogs::{Live, LiveCatalog};
pub use client::{Client, ClientConfig, EngineError, QueryError, ServerInfo};
pub use mode::{Management, Mode, ModeChoice};
pub use uptime::StartWindow;
