//! Compiles `proto/yarn/*.proto` (and the `Security.proto` they import) with prost, using the
//! `protoc` from `protoc-bin-vendored` so that a plain `cargo build` needs no system protoc.

use std::path::PathBuf;

const YARN_PROTOS: &[&str] = &[
    "yarn_protos.proto",
    "yarn_service_protos.proto",
    "yarn_security_token.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?).join("../proto");
    let yarn = root.join("yarn");
    let hadoop = root.join("hadoop");
    let mut files: Vec<PathBuf> = YARN_PROTOS.iter().map(|f| yarn.join(f)).collect();
    files.push(hadoop.join("Security.proto"));
    for f in &files {
        println!("cargo:rerun-if-changed={}", f.display());
    }
    let protoc = protoc_bin_vendored::protoc_bin_path()?;
    let mut config = prost_build::Config::new();
    config.protoc_executable(protoc);
    config.compile_protos(&files, &[yarn, hadoop])?;
    Ok(())
}
