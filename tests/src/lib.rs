//! Helpers for the end-to-end tests: corpora, reference results, locating built binaries.

/// A real multi-process Spate cluster.
#[allow(clippy::unwrap_used)]
pub mod cluster;
/// Input and reference output of the `event_windows` example.
#[allow(clippy::unwrap_used)]
pub mod events;

pub use events::{assert_same_event_windows_output, event_windows_reference, write_events, EVENTS_BOUND_MS};

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Writes a deterministic text corpus of about `bytes` bytes with mixed case, digits, punctuation
/// and a few non-ASCII characters.
pub fn write_corpus(path: &Path, bytes: usize, seed: u64) -> std::io::Result<()> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let vocab: Vec<String> = (0..5000)
        .map(|i| {
            let len = 1 + (i % 9);
            (0..len)
                .map(|j| {
                    let h = (i as u64).wrapping_mul(2_654_435_761)
                        ^ (j as u64).wrapping_mul(40_503).rotate_left(17);
                    let c = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
                        [((h >> 7) % 62) as usize];
                    c as char
                })
                .collect()
        })
        .collect();
    let seps = [" ", " ", " ", ", ", ". ", " -- ", "! ", " é ", "\t"];
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    let mut written = 0;
    while written < bytes {
        let words = 3 + next() % 12;
        let mut line = String::new();
        for _ in 0..words {
            // Skewed choice: small indexes are much more frequent.
            let r = next() % 5000;
            let idx = (r * r / 5000) as usize;
            line.push_str(&vocab[idx]);
            line.push_str(seps[(next() % seps.len() as u64) as usize]);
        }
        line.push('\n');
        written += line.len();
        out.write_all(line.as_bytes())?;
    }
    out.flush()
}

/// Word counts computed directly, without the engine.
pub fn reference_wordcount(path: &Path) -> HashMap<String, u64> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let mut counts = HashMap::new();
    let mut buf = String::new();
    for line in text.lines() {
        spate_examples::tokenize::for_each_word(line, &mut buf, |w| {
            *counts.entry(w.to_string()).or_insert(0) += 1
        });
    }
    counts
}

/// Reads every `part-*` file of `dir` into `word -> count`, failing on malformed lines or
/// duplicate words.
pub fn read_wordcount_output(dir: &Path) -> HashMap<String, u64> {
    let mut counts = HashMap::new();
    let mut parts: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    parts.retain(|p| {
        p.file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("part-"))
    });
    assert!(!parts.is_empty(), "no part files in {}", dir.display());
    for p in parts {
        let text = std::fs::read_to_string(&p).unwrap_or_default();
        for line in text.lines() {
            let (w, n) = line
                .split_once('\t')
                .unwrap_or_else(|| panic!("malformed line {line:?} in {}", p.display()));
            let n: u64 = n.parse().unwrap_or_else(|_| panic!("bad count in {line:?}"));
            assert!(
                counts.insert(w.to_string(), n).is_none(),
                "word {w} appears twice"
            );
        }
    }
    counts
}

/// The directory holding the test binaries' build outputs (`target/debug`).
pub fn build_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap_or_default();
    // target/debug/deps/e2e-xxxx -> target/debug
    exe.parent()
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

/// A built binary (`spate`) or example (`examples/wordcount`), or a panic saying how to build it.
pub fn binary(relative: &str) -> PathBuf {
    let p = build_dir().join(relative);
    assert!(
        p.exists(),
        "{} is not built: run `cargo build --workspace --examples` before the tests (scripts/test.sh does)",
        p.display()
    );
    p
}

/// The lines of the committed files of output directory `dir`, sorted: hidden files (a sink's
/// in-progress or staged part files, see `spate_fs::file_system::is_hidden`) are not output.
pub fn committed_lines(dir: &Path) -> Vec<String> {
    let mut lines = Vec::new();
    for e in std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .flatten()
    {
        if spate_fs::file_system::is_hidden(&e.file_name().to_string_lossy()) {
            continue;
        }
        let text =
            std::fs::read_to_string(e.path()).unwrap_or_else(|err| panic!("{}: {err}", e.path().display()));
        lines.extend(text.lines().map(str::to_string));
    }
    lines.sort();
    lines
}
