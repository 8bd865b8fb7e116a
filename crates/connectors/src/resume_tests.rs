//! Test support: reading a source with restarts from reader and enumerator snapshots, as a job
//! restored from a checkpoint would, to check that no record is lost or read twice.

use spate_runtime::checkpoint::{decode, encode};
use spate_runtime::source::{ReadStatus, Source, SourceReader, SplitEnumerator};
use std::fmt::Debug;

/// Makes a fresh reader (tests make readers that emit few records per poll).
pub(crate) type MakeReader<'a, T, S> = &'a dyn Fn() -> Box<dyn SourceReader<T, S>>;

/// Reads until the reader is done with `enumerator`'s splits (it takes those of every subtask of
/// `parallelism`); after `cut` polls (if any), stops and returns `false`.
fn read<T, S>(
    parallelism: u32,
    enumerator: &mut dyn SplitEnumerator<S>,
    reader: &mut dyn SourceReader<T, S>,
    out: &mut Vec<T>,
    cut: Option<usize>,
) -> bool {
    let mut polls = 0;
    loop {
        if cut.is_some_and(|c| polls >= c) {
            return false;
        }
        polls += 1;
        match reader.poll_next(out).expect("poll") {
            ReadStatus::MoreAvailable | ReadStatus::NothingAvailable => {}
            ReadStatus::NeedSplit => match (0..parallelism).find_map(|i| enumerator.next_split(i, None)) {
                Some(s) => reader.add_split(s).expect("add split"),
                None => return true,
            },
            ReadStatus::End => return true,
        }
    }
}

/// Every record of `source` read by one reader without interruption.
pub(crate) fn read_uninterrupted<T, S: Source<T>>(
    source: &S,
    parallelism: u32,
    make_reader: MakeReader<'_, T, S::Split>,
) -> Vec<T> {
    let mut e = source.create_enumerator(parallelism).expect("enumerator");
    let mut out = Vec::new();
    read(parallelism, e.as_mut(), make_reader().as_mut(), &mut out, None);
    out
}

/// The splits through a checkpoint's encoding and back.
fn round_trip<S: serde::Serialize + serde::de::DeserializeOwned>(splits: Vec<S>) -> Vec<S> {
    splits
        .iter()
        .map(|s| decode(&encode(s).expect("encode")).expect("decode"))
        .collect()
}

/// Reads `source` restarting every `cut` polls (for every `cut` from 1 until a read needs no
/// restart): the reader's and the enumerator's states are snapshotted, encoded, decoded and
/// restored into a fresh enumerator and reader. The records must equal `expected` exactly.
pub(crate) fn check_resume<T: PartialEq + Debug, S: Source<T>>(
    source: &S,
    parallelism: u32,
    make_reader: MakeReader<'_, T, S::Split>,
    expected: &[T],
) {
    for cut in 1.. {
        let mut e = source.create_enumerator(parallelism).expect("enumerator");
        let mut r = make_reader();
        let mut out = Vec::new();
        let mut restarts = 0;
        while !read(parallelism, e.as_mut(), r.as_mut(), &mut out, Some(cut)) {
            let held = round_trip(r.snapshot_state().expect("reader snapshot"));
            let left = round_trip(e.snapshot_state().expect("enumerator snapshot"));
            e = source
                .restore_enumerator(parallelism, left)
                .expect("restore enumerator");
            r = make_reader();
            for s in held {
                r.add_split(s).expect("restore split");
            }
            restarts += 1;
        }
        assert_eq!(out, expected, "restarting every {cut} polls");
        if restarts == 0 {
            break;
        }
    }
}
