//! Everything that talks to the coordinator: the client protocol ([`client`]), catalog operations
//! in dynamic mode ([`dynamic`]), the container restarts of restart mode ([`restart`]), and what a
//! failed start's log says ([`startlog`]).

pub mod client;
pub mod dynamic;
pub mod restart;
pub mod startlog;

pub use client::{Client, ClientConfig, EngineError, QueryError, ServerInfo};
