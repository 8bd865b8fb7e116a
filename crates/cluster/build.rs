//! Compiles `proto/spate/cluster.proto` (the control plane) with tonic, using the `protoc` from
//! `protoc-bin-vendored` so that a plain `cargo build` needs no system protoc.

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?).join("../../proto/spate");
    let file = dir.join("cluster.proto");
    println!("cargo:rerun-if-changed={}", file.display());
    std::env::set_var("PROTOC", protoc_bin_vendored::protoc_bin_path()?);
    tonic_prost_build::configure().compile_protos(&[file], &[dir])?;
    Ok(())
}
