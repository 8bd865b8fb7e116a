//! A batch word count whose middle task fails once, for the batch failover test on a cluster:
//! `fail_once INPUT OUTPUT MARKER_DIR`.
//!
//! Source → rebalance → a pass-through step that, in whichever subtask first reaches its 5000th
//! record, panics (once per job: it creates `MARKER_DIR/failed` exclusively) → word count → text
//! files. Every execution of the pass-through step appends a line to `MARKER_DIR/runs`, so the test
//! sees which executions happened.

use spate::prelude::*;
use std::io::Write as _;
use std::path::PathBuf;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [input, output, markers] = args.as_slice() else {
        eprintln!("usage: fail_once INPUT OUTPUT MARKER_DIR");
        std::process::exit(2);
    };
    let markers = PathBuf::from(markers);
    spate_examples::run_main(|| {
        let env = StreamEnv::from_env()?;
        env.set_runtime_mode(RuntimeMode::Batch);
        let lines = env.read_text_file(input);
        let mut seen = 0u64;
        let flaky = lines
            .rebalance()
            .flat_map(move |line: String, out: &mut dyn Collector<String>| {
                if seen == 0 {
                    let mut runs = std::fs::OpenOptions::new()
                        .create(true)
                        .append(true)
                        .open(markers.join("runs"))
                        .expect("cannot open the runs marker");
                    let _ = writeln!(runs, "run {}", std::process::id());
                }
                seen += 1;
                if seen == 5000
                    && std::fs::OpenOptions::new()
                        .create_new(true)
                        .write(true)
                        .open(markers.join("failed"))
                        .is_ok()
                {
                    panic!("injected failure after 5000 records");
                }
                out.collect(line);
            });
        spate_examples::wordcount::counts(&flaky).write_as_text_with(
            output,
            |(w, n): &(String, u64), line: &mut String| {
                use std::fmt::Write as _;
                let _ = write!(line, "{w}\t{n}");
            },
        );
        env.execute("fail once")?;
        Ok(())
    });
}
