//! Everything that talks to the engine: the client protocol ([`client`]), the catalogs it runs and
//! their changes in dynamic mode ([`catalogs`]), how changes reach it ([`mode`]), the coordinator
//! restarts of restart mode ([`restart`]), the nodes of a cluster and a node's restart by the
//! engine's own shutdown ([`cluster`]), and what a failed start's log says ([`startlog`]).

pub mod catalogs;
pub mod client;
pub mod cluster;
pub mod mode;
pub mod restart;
pub mod startlog;

pub use catalogs::{Live, LiveCatalog};
pub use client::{Client, ClientConfig, EngineError, QueryError, ServerInfo};
pub use mode::{Management, Mode, ModeChoice};
