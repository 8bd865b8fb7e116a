//! A streaming job whose code kills its own process (`std::process::abort`) after some records:
//! `crash_job`. For the test that a crashing job takes down neither its TaskManager nor other jobs.

use spate::prelude::*;

fn main() {
    spate_examples::run_main(|| {
        let env = StreamEnv::from_env()?;
        env.set_runtime_mode(RuntimeMode::Streaming);
        let mut seen = 0u64;
        env.from_generator(None, Some(500.0), |i| i)
            .map(move |i: u64| {
                seen += 1;
                if seen == 200 {
                    std::process::abort();
                }
                i
            })
            .print();
        env.execute("crash")?;
        Ok(())
    });
}
