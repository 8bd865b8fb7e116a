//! Generated wire types for `proto/yarn/*.proto` and the `Security.proto` they import (prost).
//! They stay inside this crate; the public API uses the domain types of [`crate::ids`],
//! [`crate::records`], [`crate::launch`] and [`crate::container`].

#[allow(clippy::all, clippy::pedantic, dead_code, unreachable_pub)]
pub(crate) mod common {
    include!(concat!(env!("OUT_DIR"), "/hadoop.common.rs"));
}

#[allow(clippy::all, clippy::pedantic, dead_code, unreachable_pub)]
pub(crate) mod yarn {
    include!(concat!(env!("OUT_DIR"), "/hadoop.yarn.rs"));
}
