//! Spate's Hadoop IPC client: Hadoop RPC over TCP as Hadoop 3.x speaks it (protobuf engine),
//! with SIMPLE and SASL TOKEN/DIGEST-MD5 authentication, the NameNode calls the engine needs, and a
//! reader for Hadoop's `*-site.xml` files.
//!
//! The API is blocking (`std::net::TcpStream`): the engine calls it from plain threads (split
//! enumerators, the YARN ApplicationMaster), never from an async runtime's worker threads.
//! Every connect and read is bounded by a timeout; a missing server fails in about a second with
//! an error naming its address.
//!
//! ```no_run
//! use spate_hadoop_ipc::NameNodeClient;
//! # fn main() -> spate_hadoop_ipc::Result<()> {
//! let nn = NameNodeClient::connect("127.0.0.1:8020", "alice")?;
//! match nn.get_file_info("/data/input.txt")? {
//!     Some(status) => println!("{} bytes", status.length),
//!     None => println!("missing"),
//! }
//! # Ok(()) }
//! ```
//!
//! Wire types are generated from `proto/hadoop/*.proto` and stay private; the API uses
//! [`BlockLocation`], [`FileStatus`] and [`Token`]. Errors from the server keep the Java exception
//! class name ([`RemoteException`]).

/// Hadoop `*-site.xml` reader and the NameNode addresses of an authority (HA nameservices too).
pub mod conf;
/// One connection: connect with retries, preamble, authentication, context, calls.
pub mod connection;
/// SASL DIGEST-MD5, client side (RFC 2831, qop `auth`).
pub mod digest_md5;
/// The crate's error type and [`RemoteException`].
pub mod error;
/// `NameNodeClient`: block locations, file status, listings, delegation tokens; HA failover.
pub mod namenode;
/// Hadoop security tokens.
pub mod token;
/// Domain types: [`BlockLocation`], [`FileStatus`].
pub mod types;

/// Varints, frames and response headers; decoders of untrusted bytes.
mod frame;
/// Generated wire types.
mod proto;
mod random;
mod sasl;

pub use conf::HadoopConf;
pub use connection::{Auth, ConnectOptions, Connection};
pub use error::{Error, RemoteException, Result};
pub use frame::MAX_FRAME_LEN;
pub use namenode::NameNodeClient;
pub use token::Token;
pub use types::{BlockLocation, FileStatus, FileType};
