//! Input and reference output of `examples/event_windows` for the checkpoint and recovery tests.

use crate::{binary, committed_lines};
use std::path::Path;

/// `n` event lines `key,timestamp_ms,value` for `examples/event_windows`: 53 keys, timestamps
/// out of order by at most 240 ms (so no record is late with [`EVENTS_BOUND_MS`]).
pub fn write_events(path: &Path, n: u64) {
    use std::io::Write as _;
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    for i in 0..n {
        let key = format!("k{}", (i * 7919) % 53);
        let ts = i * 5 + (i % 7) * 40;
        writeln!(f, "{key},{ts},{}", i % 97).unwrap();
    }
}

/// The watermark bound for [`write_events`]' input: above its disorder, so no record is late and
/// a batch run (which has no late data) is the reference of a streaming one.
pub const EVENTS_BOUND_MS: &str = "300";

/// The undisturbed batch run of `examples/event_windows` at parallelism 2: the reference output.
pub fn event_windows_reference(input: &Path, out: &Path) {
    let run = std::process::Command::new(binary("examples/event_windows"))
        .args(["--input", &input.display().to_string()])
        .args(["--output", &out.display().to_string()])
        .args(["-p", "2"])
        .env("SPATE_DYNAMIC_PROPERTIES", "execution.runtime-mode=BATCH")
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
}

/// Asserts that the committed output of `event_windows` in `got` equals `reference`.
pub fn assert_same_event_windows_output(reference: &Path, got: &Path) {
    for sub in ["tumbling", "sessions", "late"] {
        let (want, have) = (
            committed_lines(&reference.join(sub)),
            committed_lines(&got.join(sub)),
        );
        assert!(
            want == have,
            "{sub}: {} reference lines, {} committed lines; missing {:?}, extra {:?}",
            want.len(),
            have.len(),
            want.iter()
                .filter(|l| !have.contains(l))
                .take(5)
                .collect::<Vec<_>>(),
            have.iter()
                .filter(|l| !want.contains(l))
                .take(5)
                .collect::<Vec<_>>()
        );
    }
    assert!(!committed_lines(&got.join("tumbling")).is_empty());
}
