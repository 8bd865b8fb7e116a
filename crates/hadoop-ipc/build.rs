//! Compiles `proto/hadoop/*.proto` with prost, using the `protoc` from `protoc-bin-vendored` so that
//! a plain `cargo build` needs no system protoc.

use std::path::PathBuf;

const PROTOS: &[&str] = &[
    "RpcHeader.proto",
    "IpcConnectionContext.proto",
    "ProtobufRpcEngine2.proto",
    "Security.proto",
    "hdfs.proto",
    "ClientNamenodeProtocol.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?).join("../../proto/hadoop");
    let files: Vec<PathBuf> = PROTOS.iter().map(|f| dir.join(f)).collect();
    for f in &files {
        println!("cargo:rerun-if-changed={}", f.display());
    }
    let protoc = protoc_bin_vendored::protoc_bin_path()?;
    let mut config = prost_build::Config::new();
    config.protoc_executable(protoc);
    config.compile_protos(&files, &[dir])?;
    Ok(())
}
