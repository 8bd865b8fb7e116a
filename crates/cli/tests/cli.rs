#![allow(clippy::unwrap_used)]
//! End-to-end tests of the `spate` binary.

use std::process::{Command, Output};

/// `spate` with the given arguments, isolated from the caller's Spate environment.
fn spate(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_spate"))
        .args(args)
        .env_remove("SPATE_CONFIG_FILE")
        .env_remove("SPATE_CONF_DIR")
        .env_remove("SPATE_DYNAMIC_PROPERTIES")
        .output()
        .unwrap()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn run_passes_configuration_to_the_job() {
    let out = spate(&[
        "run",
        "-p",
        "3",
        "-D",
        "execution.runtime-mode=BATCH",
        "/bin/sh",
        "-c",
        r#"printf "%s" "$SPATE_DYNAMIC_PROPERTIES""#,
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let props = stdout(&out);
    let lines: Vec<&str> = props.lines().collect();
    assert!(lines.contains(&"parallelism.default=3"), "{props}");
    assert!(lines.contains(&"execution.runtime-mode=BATCH"), "{props}");
}

#[test]
fn run_passes_job_arguments_verbatim() {
    let out = spate(&[
        "run",
        "-Dparallelism.default=2",
        "/bin/sh",
        "-c",
        r#"printf "%s|" "$@"; printf "[%s]" "${SPATE_CONFIG_FILE-unset}""#,
        "job",
        "--input",
        "-p",
        "4",
        "--",
        "-D",
        "--help",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "--input|-p|4|--|-D|--help|[unset]");
}

#[test]
fn run_propagates_exit_code() {
    let out = spate(&["run", "/bin/sh", "-c", "exit 7"]);
    assert_eq!(out.status.code(), Some(7), "{}", stderr(&out));
}

#[cfg(unix)]
#[test]
fn run_reports_death_by_signal() {
    let out = spate(&["run", "/bin/sh", "-c", "kill -TERM $$"]);
    assert_eq!(out.status.code(), Some(128 + 15));
    assert!(stderr(&out).contains("signal 15"), "{}", stderr(&out));
}

#[test]
fn unknown_key_fails_before_the_job_runs() {
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("ran");
    let script = format!("touch '{}'", marker.display());
    let out = spate(&["run", "-D", "no.such.key=1", "/bin/sh", "-c", &script]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("no.such.key"), "{err}");
    assert!(err.starts_with("error: ") && err.lines().count() == 1, "{err}");
    assert!(!marker.exists(), "the job ran");
}

#[test]
fn bad_parallelism_names_the_key() {
    let out = spate(&["run", "-p", "0", "/bin/true"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("parallelism.default"), "{}", stderr(&out));
}

#[test]
fn missing_job_binary_exits_2() {
    let out = spate(&["run", "/no/such/job-binary", "--input", "x"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("/no/such/job-binary"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
}

#[test]
fn non_executable_job_binary_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("not-a-program");
    std::fs::write(&path, "just text\n").unwrap();
    let out = spate(&["run", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains(path.to_str().unwrap()), "{}", stderr(&out));
}

#[test]
fn bad_value_in_config_file_names_file_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("config.yaml");
    std::fs::write(&file, "parallelism:\n  default: lots\n").unwrap();
    let file = file.to_str().unwrap();
    let out = spate(&["run", "-c", file, "/bin/true"]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains(file) && err.contains("parallelism.default"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
}

#[test]
fn config_file_is_passed_to_the_job_and_overridden_by_d() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("config.yaml");
    std::fs::write(&file, "parallelism.default: 5\nexecution.buffer-timeout: 10ms\n").unwrap();
    let file = file.to_str().unwrap();
    let out = spate(&[
        "run",
        "-c",
        file,
        "-D",
        "parallelism.default=6",
        "/bin/sh",
        "-c",
        r#"printf "%s" "$SPATE_DYNAMIC_PROPERTIES"; printf "file=%s" "$SPATE_CONFIG_FILE""#,
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("parallelism.default=6\n"), "{text}");
    assert!(text.contains("execution.buffer-timeout=10ms\n"), "{text}");
    assert!(text.contains(&format!("file={file}")), "{text}");
}

#[test]
fn conf_dir_config_is_used_by_default() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("config.yaml"),
        "execution.runtime-mode: streaming\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_spate"))
        .args(["config", "show", "-D", "parallelism.default=2"])
        .env_remove("SPATE_CONFIG_FILE")
        .env("SPATE_CONF_DIR", dir.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "execution.runtime-mode: streaming\nparallelism.default: 2\n"
    );
}

#[test]
fn config_show_validates_and_prints_yaml() {
    let out = spate(&[
        "config",
        "show",
        "-D",
        "execution.buffer-timeout=5 s",
        "-D",
        "parallelism.default=4",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "execution.buffer-timeout: \"5 s\"\nparallelism.default: 4\n"
    );

    let out = spate(&["config", "show", "-D", "execution.runtime-mode=FAST"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("execution.runtime-mode"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn config_keys_lists_every_key() {
    let out = spate(&["config", "keys"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    for key in ["parallelism.default", "execution.runtime-mode", "io.tmp.dirs"] {
        assert!(text.contains(key), "{text}");
    }
    assert!(text.contains("100ms"), "{text}");
}

#[test]
fn help_and_version() {
    let out = spate(&["--help"]);
    assert!(out.status.success());
    let text = stdout(&out);
    assert!(text.contains("run") && text.contains("config"), "{text}");

    let out = spate(&["run", "--help"]);
    assert!(out.status.success());
    let text = stdout(&out);
    assert!(text.contains("-D") && text.contains("JOB_BINARY"), "{text}");
    assert!(text.contains("Examples:"), "{text}");

    let out = spate(&["--version"]);
    assert!(out.status.success());
    assert!(stdout(&out).starts_with("spate "), "{}", stdout(&out));
}
