//! NewFinity Ops MySQL/MariaDB: a consistent, parallel, streaming dump and a
//! content hash that can be recomputed on a live database.
//!
//! - [`dump`]: one consistent snapshot shared by N connections
//!   (`FLUSH TABLES WITH READ LOCK` held for a moment, then
//!   `START TRANSACTION WITH CONSISTENT SNAPSHOT` on every worker), tables split
//!   across workers and large tables chunked by primary-key range; rows stream
//!   as SQL text into files a [`DumpSink`] provides (compression, encryption and
//!   the destination are the sink's business).
//! - [`hash`]: the content hash of a table (definition in that module), computed
//!   while dumping, while reading a dump back ([`reader`]) and by one SQL query
//!   on a live database ([`hash::live_table_hash`]).
//!
//! Errors are [`nfops_core::Error`]; driver text is kept as the source, never
//! as the message. Knows nothing of Tauri, age or zstd.

pub mod allowed;
pub mod connect;
pub mod dump;
pub mod hash;
pub mod inventory;
pub mod literal;
pub mod reader;
pub mod schema;
pub mod sink;
pub mod sqltext;
pub mod tls;

pub use connect::{Carrier, Limits, Target};
pub use dump::{dump, DumpCounters, DumpOptions, DumpOutcome, TableResult};
pub use hash::{RowHasher, TableDigest};
pub use inventory::{Inventory, InventoryObject, ObjectKind};
pub use reader::{read_dump, FileDigest};
pub use sink::{DumpFile, DumpSink, FileEntry};
pub use tls::Tls;

/// The sqlx items callers need to hold and close connections.
pub mod sqlx_reexport {
    pub use sqlx::mysql::MySqlConnection;
    pub use sqlx::Connection;
}
