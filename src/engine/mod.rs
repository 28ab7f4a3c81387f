//! Everything that talks to the engine: the client protocol ([`client`]), catalog operations
//! in dynamic mode ([`dynamic`]), the coordinator restarts of restart mode ([`restart`]), the
//! nodes of a cluster and a node's restart by the engine's own shutdown ([`cluster`]), and what a
//! failed start's log says ([`startlog`]).

pub mod client;
pub mod cluster;
pub mod dynamic;
pub mod restart;
pub mod startlog;

pub use client::{Client, ClientConfig, EngineError, QueryError, ServerInfo};
