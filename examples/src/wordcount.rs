use crate::tokenize::for_each_word;
use spate::prelude::*;
use std::fmt::Write;
use std::path::Path;

/// Lines to `(word, 1)` pairs: words are maximal runs of ASCII letters and digits, lower-cased.
pub fn words(lines: &DataStream<String>) -> DataStream<(String, u64)> {
    let mut buf = String::new();
    lines
        .flat_map(move |line: String, out: &mut dyn Collector<(String, u64)>| {
            for_each_word(&line, &mut buf, |w| out.collect((w.to_string(), 1)))
        })
        .name("Tokenize")
}

/// Counts words: `(word, count)` per distinct word (final counts in batch mode, running counts
/// in streaming mode).
pub fn counts(lines: &DataStream<String>) -> DataStream<(String, u64)> {
    words(lines)
        .key_by_ref(|r: &(String, u64)| &r.0)
        .sum(|r: &mut (String, u64)| &mut r.1)
}

/// The word count job: lines of `input` (a file or directory) to `word<TAB>count` lines in part
/// files in `output`.
pub fn build(env: &StreamEnv, input: &Path, output: &Path) {
    counts(&env.read_text_file(input)).write_as_text_with(
        output,
        |(w, n): &(String, u64), line: &mut String| {
            let _ = write!(line, "{w}\t{n}");
        },
    );
}
