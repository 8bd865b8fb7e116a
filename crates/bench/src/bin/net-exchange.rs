//! `net-exchange [--records N] [--batch B] [--credits C]`: throughput of Spate's data plane
//! (`spate_cluster::net`) against raw TCP, in one process over loopback
//! (`scripts/bench-network.sh`).
//!
//! 1. **exchange**: two data planes; 2 producer threads on the first each send N records of 100
//!    bytes to both of 2 consumer channels on the second (all-to-all), in batches of B records
//!    encoded the way the engine encodes them (postcard of `(Vec<String>, Vec<i64>)`: records and
//!    timestamps); each consumer's inbox decodes every batch. Timed from the first send until
//!    every consumer saw the end of both producers and both producers' `finish` returned.
//! 2. **raw tcp**: the same number of payload bytes over 2 loopback connections, in writes of the
//!    average payload size (`write_all` / `read_exact`, no framing, no encoding).
//!
//! 3. **codec**: for reference, the encoding and decoding alone on one thread (no network), on up
//!    to 4M records: the exchange pays for it on both sides, the raw copy does not.
//!
//! Prints four lines on stdout:
//! `exchange: 12.3M records/s 1234 MB/s (...)`, `raw tcp: ...` (records/s: the same records'
//! bytes), `ratio: 0.62` (exchange MB/s / raw MB/s), `codec: ...`. MB = 10^6 bytes of payload.

use anyhow::{bail, ensure, Context, Result};
use bytes::Bytes;
use clap::Parser;
use crossbeam_channel::Sender;
use spate_cluster::net::{ChannelKey, DataPlane, FrameKind, Inbox, RemoteSender, Secret};
use spate_common::task::spawn_named;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const PRODUCERS: u32 = 2;
const CONSUMERS: u32 = 2;
const RECORD_LEN: usize = 100;

/// Measures the data plane against raw TCP over loopback.
#[derive(Parser)]
struct Args {
    /// Records each producer sends (split evenly over the consumers).
    #[arg(long, default_value_t = 40_000_000, value_parser = clap::value_parser!(u64).range(1..))]
    records: u64,
    /// Records per batch (one frame).
    #[arg(long, default_value_t = 1024, value_parser = clap::value_parser!(u64).range(1..))]
    batch: u64,
    /// Frames in flight per channel and producer.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..))]
    credits: u32,
}

fn main() {
    if let Err(e) = run(Args::parse()) {
        eprintln!("net-exchange: error: {e:#}");
        std::process::exit(1);
    }
}

fn run(args: Args) -> Result<()> {
    let exchange = exchange(&args)?;
    let raw = raw_tcp(
        exchange.bytes,
        PRODUCERS as usize,
        exchange.bytes / exchange.frames.max(1),
    )?;
    let total_records = args.records * u64::from(PRODUCERS);
    let records = total_records as f64;
    let mb = exchange.bytes as f64 / 1e6;
    println!(
        "exchange: {:.1}M records/s {:.0} MB/s ({} records, {:.0} MB in {} frames, {:.2} s, credits {})",
        records / exchange.secs / 1e6,
        mb / exchange.secs,
        total_records,
        mb,
        exchange.frames,
        exchange.secs,
        args.credits
    );
    println!(
        "raw tcp: {:.1}M records/s {:.0} MB/s ({:.0} MB in {:.2} s)",
        records / raw / 1e6,
        mb / raw,
        mb,
        raw
    );
    println!("ratio: {:.2}", raw / exchange.secs);
    let (codec_records, codec_secs) = codec(args.records.min(4_000_000), args.batch)?;
    println!(
        "codec: {:.1}M records/s (encode + decode on 1 thread, no network)",
        codec_records as f64 / codec_secs / 1e6
    );
    Ok(())
}

struct Measured {
    secs: f64,
    /// Payload bytes.
    bytes: u64,
    frames: u64,
}

/// Decodes batches and counts records; reports to `done` when every producer ended.
struct Consumer {
    records: AtomicU64,
    chars: AtomicU64,
    ended: Mutex<u32>,
    done: Sender<(u64, u64)>,
}

impl Inbox for Consumer {
    fn deliver(&self, _slot: u32, kind: FrameKind, payload: Bytes) {
        match kind {
            FrameKind::Records => {
                let decoded: Result<(Vec<String>, Vec<i64>), _> = postcard::from_bytes(&payload);
                let Ok((records, timestamps)) = decoded else {
                    eprintln!("net-exchange: error: undecodable batch");
                    std::process::exit(1);
                };
                debug_assert_eq!(records.len(), timestamps.len());
                let chars: usize = records.iter().map(String::len).sum();
                self.records.fetch_add(records.len() as u64, Ordering::Relaxed);
                self.chars.fetch_add(chars as u64, Ordering::Relaxed);
            }
            FrameKind::Event | FrameKind::Reset => {}
            FrameKind::End => {
                let mut ended = self.ended.lock().unwrap_or_else(|e| e.into_inner());
                *ended += 1;
                if *ended == PRODUCERS {
                    let _ = self.done.send((
                        self.records.load(Ordering::Relaxed),
                        self.chars.load(Ordering::Relaxed),
                    ));
                }
            }
        }
    }
}

fn exchange(args: &Args) -> Result<Measured> {
    let secret = Secret::generate();
    let any: SocketAddr = "127.0.0.1:0".parse()?;
    let producers_plane = DataPlane::start(any, secret.clone(), args.credits)?;
    let consumers_plane = DataPlane::start(any, secret, args.credits)?;
    let (done_tx, done_rx) = crossbeam_channel::unbounded();
    let key = |subtask| ChannelKey {
        job: 1,
        attempt: 0,
        vertex: 1,
        subtask,
    };
    for c in 0..CONSUMERS {
        consumers_plane.register(
            key(c),
            Arc::new(Consumer {
                records: AtomicU64::new(0),
                chars: AtomicU64::new(0),
                ended: Mutex::new(0),
                done: done_tx.clone(),
            }),
        );
    }
    let mut senders = Vec::new();
    for p in 0..PRODUCERS {
        let per_consumer: Vec<RemoteSender> = (0..CONSUMERS)
            .map(|c| producers_plane.sender(consumers_plane.local_addr(), key(c), p))
            .collect::<Result<_, _>>()?;
        senders.push(per_consumer);
    }
    let start = Instant::now();
    let threads = senders
        .into_iter()
        .enumerate()
        .map(|(p, s)| {
            let (records, batch) = (args.records, args.batch);
            spawn_named(format!("producer-{p}"), move || {
                produce(p as u64, &s, records, batch)
            })
        })
        .collect::<std::io::Result<Vec<_>>>()?;
    let mut bytes = 0;
    let mut frames = 0;
    for t in threads {
        let (b, f) = t.join().map_err(|_| anyhow::anyhow!("a producer panicked"))??;
        bytes += b;
        frames += f;
    }
    let mut received = 0;
    for _ in 0..CONSUMERS {
        let (records, chars) = done_rx
            .recv_timeout(Duration::from_secs(600))
            .context("consumers did not finish")?;
        ensure!(chars == records * RECORD_LEN as u64, "records lost their bytes");
        received += records;
    }
    let secs = start.elapsed().as_secs_f64();
    let expected = args.records * u64::from(PRODUCERS);
    ensure!(
        received == expected,
        "consumers received {received} records, expected {expected}"
    );
    producers_plane.shutdown();
    consumers_plane.shutdown();
    Ok(Measured { secs, bytes, frames })
}

/// A batch of `batch` distinct records of [`RECORD_LEN`] ASCII bytes.
fn records_of(p: u64, batch: u64) -> Vec<String> {
    (0..batch)
        .map(|i| {
            let head = format!("producer {p} record {i} ");
            format!("{head}{}", "x".repeat(RECORD_LEN - head.len()))
        })
        .collect()
}

/// Encodes `n` records (the first `n` of `template`) with timestamps following `sent`.
fn encode(template: &[String], n: usize, sent: u64, timestamps: &mut Vec<i64>) -> Result<Vec<u8>> {
    timestamps.clear();
    timestamps.extend((0..n as i64).map(|i| 1_700_000_000_000 + (sent as i64 + i) / 16));
    Ok(postcard::to_allocvec(&(&template[..n], &*timestamps))?)
}

/// Sends `records` records round-robin over `senders` in batches; returns payload bytes and frames.
fn produce(p: u64, senders: &[RemoteSender], records: u64, batch: u64) -> Result<(u64, u64)> {
    let template = records_of(p, batch);
    let never = || false;
    let (mut bytes, mut frames) = (0u64, 0u64);
    let mut sent = 0u64;
    let mut timestamps: Vec<i64> = Vec::with_capacity(batch as usize);
    while sent < records {
        let n = batch.min(records - sent) as usize;
        let payload = encode(&template, n, sent, &mut timestamps)?;
        bytes += payload.len() as u64;
        frames += 1;
        senders[(frames % senders.len() as u64) as usize]
            .send(FrameKind::Records, Bytes::from(payload), &never)
            .map_err(|e| anyhow::anyhow!("send failed: {e}"))?;
        sent += n as u64;
    }
    for s in senders {
        s.send(FrameKind::End, Bytes::new(), &never)
            .map_err(|e| anyhow::anyhow!("send failed: {e}"))?;
    }
    for s in senders {
        s.finish(&never)
            .map_err(|e| anyhow::anyhow!("finish failed: {e}"))?;
    }
    Ok((bytes, frames))
}

/// Encodes and decodes `records` records in batches on this thread; returns the records and seconds.
fn codec(records: u64, batch: u64) -> Result<(u64, f64)> {
    let template = records_of(0, batch);
    let mut timestamps = Vec::with_capacity(batch as usize);
    let start = Instant::now();
    let (mut done, mut chars) = (0u64, 0u64);
    while done < records {
        let n = batch.min(records - done) as usize;
        let payload = encode(&template, n, done, &mut timestamps)?;
        let (decoded, _ts): (Vec<String>, Vec<i64>) = postcard::from_bytes(&payload)?;
        chars += decoded.iter().map(|r| r.len() as u64).sum::<u64>();
        done += n as u64;
    }
    let secs = start.elapsed().as_secs_f64();
    ensure!(chars == records * RECORD_LEN as u64, "the codec lost bytes");
    Ok((done, secs))
}

/// Copies `total` bytes over `connections` loopback connections in writes of `chunk` bytes;
/// returns the seconds from the first write to the last byte read.
fn raw_tcp(total: u64, connections: usize, chunk: u64) -> Result<f64> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let chunk = chunk.max(1) as usize;
    let share = total / connections as u64;
    let mut pairs = Vec::new();
    for _ in 0..connections {
        let w = TcpStream::connect(addr)?;
        let (r, _) = listener.accept()?;
        w.set_nodelay(true)?;
        pairs.push((w, r));
    }
    let start = Instant::now();
    let mut threads = Vec::new();
    for (i, (mut w, mut r)) in pairs.into_iter().enumerate() {
        threads.push(spawn_named(format!("raw-writer-{i}"), move || -> Result<u64> {
            let buf = vec![b'x'; chunk];
            let mut left = share;
            while left > 0 {
                let n = (chunk as u64).min(left) as usize;
                w.write_all(&buf[..n])?;
                left -= n as u64;
            }
            Ok(share)
        })?);
        threads.push(spawn_named(format!("raw-reader-{i}"), move || -> Result<u64> {
            let mut buf = vec![0u8; chunk];
            let mut left = share;
            while left > 0 {
                let n = (chunk as u64).min(left) as usize;
                r.read_exact(&mut buf[..n])?;
                left -= n as u64;
            }
            Ok(share)
        })?);
    }
    let mut moved = 0;
    for t in threads {
        match t.join() {
            Ok(r) => moved += r?,
            Err(_) => bail!("a raw TCP thread panicked"),
        }
    }
    ensure!(
        moved == 2 * share * connections as u64,
        "raw TCP moved {moved} bytes"
    );
    Ok(start.elapsed().as_secs_f64())
}
