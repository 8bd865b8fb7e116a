//! The examples' and the CLI's contracts, run as processes.

use spate_e2e::{binary, read_wordcount_output, reference_wordcount, write_corpus};
use std::process::Command;

#[test]
fn wordcount_example_contract() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.txt");
    write_corpus(&input, 300_000, 5).unwrap();
    let out = dir.path().join("out");
    let status = Command::new(binary("examples/wordcount"))
        .args([
            "--input",
            input.to_str().unwrap(),
            "--output",
            out.to_str().unwrap(),
            "--parallelism",
            "3",
        ])
        .output()
        .unwrap();
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    assert_eq!(read_wordcount_output(&out), reference_wordcount(&input));
    assert_eq!(std::fs::read_dir(&out).unwrap().count(), 3);
}

#[test]
fn wordcount_missing_input_is_a_one_line_error_naming_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.txt");
    let out = Command::new(binary("examples/wordcount"))
        .args([
            "--input",
            missing.to_str().unwrap(),
            "--output",
            dir.path().join("o").to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.contains(missing.to_str().unwrap()), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn spate_run_passes_parallelism_and_configuration_to_the_job() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.txt");
    write_corpus(&input, 100_000, 9).unwrap();
    let out = dir.path().join("out");
    let run = Command::new(binary("spate"))
        .args(["run", "-p", "2", "-D", "execution.runtime-mode=BATCH"])
        .arg(binary("examples/wordcount"))
        .args([
            "--input",
            input.to_str().unwrap(),
            "--output",
            out.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    assert_eq!(
        std::fs::read_dir(&out).unwrap().count(),
        2,
        "parallelism 2 from -p"
    );
    assert_eq!(read_wordcount_output(&out), reference_wordcount(&input));

    let bad = Command::new(binary("spate"))
        .args(["run", "-D", "parallelism.default=zero"])
        .arg(binary("examples/wordcount"))
        .args([
            "--input",
            input.to_str().unwrap(),
            "--output",
            out.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("parallelism.default"));
}
