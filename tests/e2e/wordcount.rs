use spate::StreamEnv;
use spate_e2e::{read_wordcount_output, reference_wordcount, write_corpus};

#[test]
fn wordcount_is_identical_at_parallelism_1_2_and_4_and_matches_a_direct_count() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("corpus.txt");
    write_corpus(&input, 6 << 20, 7).unwrap();
    let expected = reference_wordcount(&input);
    assert!(expected.len() > 1000);
    for p in [1, 2, 4] {
        let out = dir.path().join(format!("out-{p}"));
        let env = StreamEnv::local();
        env.set_parallelism(p);
        spate_examples::wordcount::build(&env, &input, &out);
        let result = env.execute("wordcount").unwrap();
        let got = read_wordcount_output(&out);
        assert_eq!(got, expected, "parallelism {p}");
        let parts = std::fs::read_dir(&out).unwrap().count();
        assert_eq!(parts, p as usize, "one part file per sink subtask");
        let sink = result.operator("Sink").unwrap();
        assert_eq!(sink.records_in, expected.len() as u64);
    }
}

#[test]
fn wordcount_spilling_blocking_exchanges_and_one_slot_give_the_same_result() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("corpus.txt");
    write_corpus(&input, 2 << 20, 11).unwrap();
    let expected = reference_wordcount(&input);
    let out = dir.path().join("out");
    let env = StreamEnv::local();
    env.set_parallelism(4);
    // Tiny memory per partition: blocking partitions spill to disk. Few keys per combiner: many
    // partial results. One slot: subtasks run one after another.
    env.set_config("taskmanager.network.blocking-shuffle.memory-per-partition", "1kb")
        .unwrap();
    env.set_config("execution.batch.combiner.max-keys", "50").unwrap();
    env.set_config("taskmanager.numberOfTaskSlots", "1").unwrap();
    env.set_config("io.tmp.dirs", dir.path().to_str().unwrap())
        .unwrap();
    spate_examples::wordcount::build(&env, &input, &out);
    env.execute("wordcount").unwrap();
    assert_eq!(read_wordcount_output(&out), expected);
}

#[test]
fn wordcount_in_streaming_mode_ends_with_the_final_counts() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("corpus.txt");
    write_corpus(&input, 1 << 20, 3).unwrap();
    let expected = reference_wordcount(&input);
    let env = StreamEnv::local();
    env.set_parallelism(2);
    env.set_runtime_mode(spate::RuntimeMode::Streaming);
    let counts = spate_examples::wordcount::counts(&env.read_text_file(&input)).collect();
    let result = env.execute("streaming wordcount").unwrap();
    // Streaming emits a running count per word occurrence; the largest per word is the total.
    let all = counts.take();
    assert_eq!(all.len() as u64, expected.values().sum::<u64>());
    let mut last = std::collections::HashMap::new();
    for (w, n) in all {
        let e = last.entry(w).or_insert(0);
        *e = n.max(*e);
    }
    assert_eq!(last, expected);
    let combine = result.operator("Combine").unwrap();
    assert_eq!(
        combine.records_in, combine.records_out,
        "no pre-aggregation in streaming mode"
    );
}
