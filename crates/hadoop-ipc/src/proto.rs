//! Generated wire types for `proto/hadoop/*.proto` (prost). They stay inside this crate; the public
//! API uses the domain types of [`crate::types`] and [`crate::token`].

#[allow(clippy::all, clippy::pedantic, dead_code, unreachable_pub)]
pub(crate) mod common {
    include!(concat!(env!("OUT_DIR"), "/hadoop.common.rs"));
}

#[allow(clippy::all, clippy::pedantic, dead_code, unreachable_pub)]
pub(crate) mod hdfs {
    include!(concat!(env!("OUT_DIR"), "/hadoop.hdfs.rs"));
}
