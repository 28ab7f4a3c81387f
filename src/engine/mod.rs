//! Everything that talks to the coordinator: the client protocol ([`client`]), catalog operations
//! in dynamic mode ([`dynamic`]), and the container restarts of restart mode ([`restart`]).

pub mod client;
pub mod dynamic;
pub mod restart;

pub use client::{Client, ClientConfig, EngineError, QueryError, ServerInfo};
