//! Two data planes in one process, on loopback.

use super::*;
use bytes::Bytes;
use crossbeam_channel::{Receiver, Sender};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Only a guard against a hanging test, never part of an assertion about timing.
const WAIT: Duration = Duration::from_secs(20);

fn never() -> bool {
    false
}

fn key(job: u64, subtask: u32) -> ChannelKey {
    ChannelKey {
        job,
        attempt: 0,
        vertex: 3,
        subtask,
    }
}

fn plane(secret: &Secret, credits: u32) -> Arc<DataPlane> {
    DataPlane::start("127.0.0.1:0".parse().unwrap(), secret.clone(), credits).unwrap()
}

fn pair(credits: u32) -> (Arc<DataPlane>, Arc<DataPlane>) {
    let secret = Secret::generate();
    (plane(&secret, credits), plane(&secret, credits))
}

type Delivered = (u32, FrameKind, Bytes);

/// Forwards every delivery to a channel.
struct Forward(Sender<Delivered>);

impl Inbox for Forward {
    fn deliver(&self, slot: u32, kind: FrameKind, payload: Bytes) {
        let _ = self.0.send((slot, kind, payload));
    }
}

fn forward() -> (Arc<dyn Inbox>, Receiver<Delivered>) {
    let (tx, rx) = crossbeam_channel::unbounded();
    (Arc::new(Forward(tx)), rx)
}

/// Counts deliveries.
#[derive(Default)]
struct Count(AtomicUsize);

impl Inbox for Count {
    fn deliver(&self, _: u32, _: FrameKind, _: Bytes) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

fn payload(slot: u32, seq: u32) -> Bytes {
    // Sizes vary around the writer's inline limit.
    let len = (seq as usize * 997) % 40_000;
    let mut v = format!("{slot}:{seq}:").into_bytes();
    v.extend((0..len).map(|i| (i as u32 ^ seq) as u8));
    Bytes::from(v)
}

#[test]
fn frames_arrive_in_order_per_channel_and_slot() {
    let (a, b) = pair(3);
    let channels = [key(1, 0), key(1, 1)];
    let mut receivers = Vec::new();
    for k in channels {
        let (inbox, rx) = forward();
        b.register(k, inbox);
        receivers.push(rx);
    }
    const FRAMES: u32 = 150;
    let mut producers = Vec::new();
    for k in channels {
        for slot in 0..2 {
            let sender = a.sender(b.local_addr(), k, slot).unwrap();
            producers.push(spawn(move || {
                for seq in 0..FRAMES {
                    sender
                        .send(FrameKind::Records, payload(slot, seq), &never)
                        .unwrap();
                }
                sender.send(FrameKind::End, Bytes::new(), &never).unwrap();
                sender.finish(&never).unwrap();
            }));
        }
    }
    for rx in &receivers {
        let mut next = [0u32; 2];
        let mut ended = 0;
        while ended < 2 {
            let (slot, kind, bytes) = rx.recv_timeout(WAIT).unwrap();
            let s = slot as usize;
            if kind == FrameKind::End {
                assert_eq!(next[s], FRAMES);
                ended += 1;
                continue;
            }
            assert_eq!(kind, FrameKind::Records);
            assert_eq!(bytes, payload(slot, next[s]), "slot {slot} frame {}", next[s]);
            next[s] += 1;
        }
    }
    for p in producers {
        p.join().unwrap();
    }
    // One connection carried all four senders.
    assert_eq!(lock(&b.shared().inbound).len(), 1);
    let (sa, sb) = (a.stats(), b.stats());
    assert!(
        sa.bytes_sent > 0 && sa.bytes_sent == sb.bytes_received,
        "{sa:?} {sb:?}"
    );
    assert_eq!(sa.frames_sent, sb.frames_received);
    assert_eq!(sb.frames_sent, sa.frames_received);
}

#[test]
fn both_planes_send_to_each_other() {
    let (a, b) = pair(2);
    let (inbox_a, rx_a) = forward();
    let (inbox_b, rx_b) = forward();
    a.register(key(2, 0), inbox_a);
    b.register(key(2, 1), inbox_b);
    let to_b = a.sender(b.local_addr(), key(2, 1), 0).unwrap();
    let to_a = b.sender(a.local_addr(), key(2, 0), 5).unwrap();
    to_b.send(FrameKind::Event, Bytes::from_static(b"to b"), &never)
        .unwrap();
    to_a.send(FrameKind::Event, Bytes::from_static(b"to a"), &never)
        .unwrap();
    assert_eq!(
        rx_b.recv_timeout(WAIT).unwrap(),
        (0, FrameKind::Event, Bytes::from_static(b"to b"))
    );
    assert_eq!(
        rx_a.recv_timeout(WAIT).unwrap(),
        (5, FrameKind::Event, Bytes::from_static(b"to a"))
    );
}

#[test]
fn frames_sent_before_registration_wait_for_it() {
    let (a, b) = pair(2);
    let sender = a.sender(b.local_addr(), key(3, 0), 1).unwrap();
    // Without registration there is no credit.
    assert_eq!(
        sender.send(FrameKind::Records, Bytes::from_static(b"x"), &|| true),
        Err(SendError::Cancelled)
    );
    let producer = spawn(move || {
        for i in 0..5u8 {
            sender
                .send(FrameKind::Records, Bytes::from(vec![i]), &never)
                .unwrap();
        }
        sender.finish(&never).unwrap();
    });
    let (inbox, rx) = forward();
    b.register(key(3, 0), inbox);
    for i in 0..5u8 {
        assert_eq!(
            rx.recv_timeout(WAIT).unwrap(),
            (1, FrameKind::Records, Bytes::from(vec![i]))
        );
    }
    producer.join().unwrap();
}

/// Blocks each delivery until the test lets it through.
struct Gated {
    gate: Receiver<()>,
    delivered: Sender<Bytes>,
}

impl Inbox for Gated {
    fn deliver(&self, _: u32, _: FrameKind, payload: Bytes) {
        self.gate.recv().unwrap();
        self.delivered.send(payload).unwrap();
    }
}

#[test]
fn sender_blocks_without_credit_and_resumes_when_the_inbox_unblocks() {
    let (a, b) = pair(2);
    let (gate_tx, gate) = crossbeam_channel::unbounded();
    let (delivered, delivered_rx) = crossbeam_channel::unbounded();
    b.register(key(4, 0), Arc::new(Gated { gate, delivered }));
    let sender = a.sender(b.local_addr(), key(4, 0), 0).unwrap();
    let frame = |i: u8| Bytes::from(vec![i; 10]);
    sender.send(FrameKind::Records, frame(0), &never).unwrap();
    sender.send(FrameKind::Records, frame(1), &never).unwrap();
    // Two frames in flight, the inbox holds the first: no credit, so a third send can only give
    // up. (`cancelled` is asked only when there is no credit.)
    assert_eq!(
        sender.send(FrameKind::Records, frame(2), &|| true),
        Err(SendError::Cancelled)
    );
    // A waiting sender resumes when one delivery completes.
    let resumed = std::thread::scope(|s| {
        let waiting = s.spawn(|| sender.send(FrameKind::Records, frame(2), &never));
        gate_tx.send(()).unwrap();
        waiting.join().unwrap()
    });
    assert_eq!(resumed, Ok(()));
    assert_eq!(delivered_rx.recv_timeout(WAIT).unwrap(), frame(0));
    // Again at the limit.
    assert_eq!(
        sender.send(FrameKind::Records, frame(3), &|| true),
        Err(SendError::Cancelled)
    );
    assert_eq!(sender.finish(&|| true), Err(SendError::Cancelled));
    gate_tx.send(()).unwrap();
    gate_tx.send(()).unwrap();
    sender.finish(&never).unwrap();
    assert_eq!(delivered_rx.recv_timeout(WAIT).unwrap(), frame(1));
    assert_eq!(delivered_rx.recv_timeout(WAIT).unwrap(), frame(2));
}

#[test]
fn finish_waits_for_delivery() {
    let (a, b) = pair(4);
    let count = Arc::new(Count::default());
    b.register(key(5, 0), count.clone());
    let sender = a.sender(b.local_addr(), key(5, 0), 0).unwrap();
    sender.finish(&never).unwrap(); // nothing sent: returns at once
    for n in 1..=50 {
        sender
            .send(FrameKind::Records, Bytes::from(vec![7; 1000]), &never)
            .unwrap();
        if n % 10 == 0 {
            sender.finish(&never).unwrap();
            assert_eq!(count.0.load(Ordering::SeqCst), n);
        }
    }
}

#[test]
fn wrong_secret_is_refused_and_the_server_keeps_serving() {
    let b = plane(&Secret::generate(), 2);
    let intruder = plane(&Secret::generate(), 2);
    let err = intruder.sender(b.local_addr(), key(6, 0), 0).err().unwrap();
    assert!(
        matches!(err, NetError::Rejected { peer } if peer == b.local_addr()),
        "{err}"
    );
    assert!(err.to_string().contains(&b.local_addr().to_string()), "{err}");
    assert!(err.to_string().contains("secret"), "{err}");
    assert_sound(&b);
}

#[test]
fn garbage_and_truncated_handshakes_are_closed() {
    let b = plane(&Secret::generate(), 2);
    // A client that never answers holds only its own thread (until the 5 s handshake timeout).
    let silent = raw(&b);
    // Random bytes after reading the challenge.
    let mut s = raw(&b);
    read_challenge(&mut s);
    let mut x = 0x2545_f491_4f6c_dd1du64;
    let junk: Vec<u8> = (0..200)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    let _ = s.write_all(&junk);
    assert_closed(s);
    // Right magic and version, then the connection ends half-way through the answer.
    let mut s = raw(&b);
    read_challenge(&mut s);
    s.write_all(b"SPDP\x01only-half").unwrap();
    s.shutdown(std::net::Shutdown::Write).unwrap();
    assert_closed(s);
    // A client of another protocol version.
    let mut s = raw(&b);
    read_challenge(&mut s);
    s.write_all(&[b"SPDP\x63".as_slice(), &[0u8; 32]].concat())
        .unwrap();
    assert_closed(s);
    // A client that writes without reading (e.g. an HTTP probe).
    let mut s = raw(&b);
    let _ = s.write_all(b"GET / HTTP/1.1\r\nHost: spate\r\n\r\n                                  ");
    assert_closed(s);
    assert_sound(&b);
    drop(silent);
}

fn raw(b: &DataPlane) -> TcpStream {
    let s = TcpStream::connect(b.local_addr()).unwrap();
    s.set_read_timeout(Some(WAIT)).unwrap();
    s
}

fn read_challenge(s: &mut TcpStream) {
    let mut challenge = [0u8; 37];
    s.read_exact(&mut challenge).unwrap();
    assert_eq!(&challenge[..5], b"SPDP\x01");
}

/// The server closes the connection: reading reaches the end (or a reset), not the timeout.
fn assert_closed(mut s: TcpStream) {
    let mut buf = [0u8; 64];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return,
            // What is left of the challenge.
            Ok(_) => {}
            Err(e) => {
                assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset, "{e}");
                return;
            }
        }
    }
}

/// A correct client can still connect and send to `b`.
fn assert_sound(b: &Arc<DataPlane>) {
    let (inbox, rx) = forward();
    b.register(key(99, 0), inbox);
    let good = plane(&b.shared().secret, 2);
    let sender = good.sender(b.local_addr(), key(99, 0), 0).unwrap();
    sender
        .send(FrameKind::Records, Bytes::from_static(b"ok"), &never)
        .unwrap();
    assert_eq!(rx.recv_timeout(WAIT).unwrap().2, Bytes::from_static(b"ok"));
}

#[test]
fn released_channels_drop_later_frames() {
    let (a, b) = pair(2);
    let count = Arc::new(Count::default());
    b.register(key(7, 0), count.clone());
    let sender = a.sender(b.local_addr(), key(7, 0), 0).unwrap();
    sender
        .send(FrameKind::Records, Bytes::from_static(b"1"), &never)
        .unwrap();
    sender.finish(&never).unwrap();
    assert_eq!(count.0.load(Ordering::SeqCst), 1);

    b.release(7, 0);
    // Discarded frames give their credit back: more than a window goes through, unseen.
    for _ in 0..5 {
        sender
            .send(FrameKind::Records, Bytes::from_static(b"2"), &never)
            .unwrap();
    }
    sender.finish(&never).unwrap();
    // Registering the released attempt again is ignored.
    b.register(key(7, 0), count.clone());
    // A frame on another channel of the same connection is read after them.
    let (inbox, rx) = forward();
    b.register(key(8, 0), inbox);
    let marker = a.sender(b.local_addr(), key(8, 0), 0).unwrap();
    marker.send(FrameKind::End, Bytes::new(), &never).unwrap();
    rx.recv_timeout(WAIT).unwrap();
    sender
        .send(FrameKind::Records, Bytes::from_static(b"3"), &never)
        .unwrap();
    sender.finish(&never).unwrap();
    assert_eq!(count.0.load(Ordering::SeqCst), 1);

    // On the sending side, release cancels the senders and refuses new ones.
    a.release(8, 0);
    assert_eq!(
        marker.send(FrameKind::End, Bytes::new(), &never),
        Err(SendError::Cancelled)
    );
    let err = a.sender(b.local_addr(), key(8, 0), 1).err().unwrap();
    assert!(matches!(err, NetError::Released { job: 8, attempt: 0 }), "{err}");
}

#[test]
fn shutting_down_the_receiver_breaks_senders() {
    let (a, b) = pair(2);
    let (gate_tx, gate) = crossbeam_channel::unbounded::<()>();
    let (delivered, _delivered_rx) = crossbeam_channel::unbounded();
    b.register(key(9, 0), Arc::new(Gated { gate, delivered }));
    let sender = a.sender(b.local_addr(), key(9, 0), 0).unwrap();
    let peer = b.local_addr();
    // One frame in flight for good (the inbox holds it), so `finish` cannot succeed below.
    sender
        .send(FrameKind::Records, Bytes::from_static(b"x"), &never)
        .unwrap();
    let outcome = std::thread::scope(|s| {
        // Uses up the credit, then waits for more: the break must wake it.
        let producer = s.spawn(|| loop {
            if let Err(e) = sender.send(FrameKind::Records, Bytes::from_static(b"x"), &never) {
                return e;
            }
        });
        b.shutdown();
        producer.join().unwrap()
    });
    drop(gate_tx);
    match outcome {
        SendError::Broken(message) => assert!(message.contains(&peer.to_string()), "{message}"),
        other => panic!("expected Broken, got {other:?}"),
    }
    assert!(matches!(sender.finish(&never), Err(SendError::Broken(_))));
    // The next sender connects again, and finds nobody.
    let err = a.sender(peer, key(9, 0), 1).err().unwrap();
    assert!(matches!(err, NetError::Connect { .. }), "{err}");
    assert!(err.to_string().contains(&peer.to_string()), "{err}");
}

#[test]
fn shutting_down_the_sender_breaks_its_senders() {
    let (a, b) = pair(1);
    b.register(key(10, 0), Arc::new(Count::default()));
    let sender = a.sender(b.local_addr(), key(10, 0), 0).unwrap();
    a.shutdown();
    assert!(matches!(
        sender.send(FrameKind::End, Bytes::new(), &never),
        Err(SendError::Broken(_))
    ));
    assert!(matches!(
        a.sender(b.local_addr(), key(10, 0), 1),
        Err(NetError::ShutDown)
    ));
}

#[test]
fn setup_errors_are_clear() {
    let (a, b) = pair(1);
    let _first = a.sender(b.local_addr(), key(11, 0), 0).unwrap();
    let err = a.sender(b.local_addr(), key(11, 0), 0).err().unwrap();
    assert!(matches!(err, NetError::DuplicateSender { slot: 0, .. }), "{err}");
    // A port where nothing listens (taken from a plane that is gone).
    let gone: SocketAddr = {
        let p = plane(&Secret::generate(), 1);
        p.local_addr()
    };
    let err = a.sender(gone, key(11, 0), 1).err().unwrap();
    assert!(err.to_string().contains(&gone.to_string()), "{err}");
    let err = DataPlane::start("127.0.0.1:0".parse().unwrap(), Secret::generate(), 0)
        .err()
        .unwrap();
    assert!(matches!(err, NetError::NoCredits));
    let err = DataPlane::start(a.local_addr(), Secret::generate(), 1)
        .err()
        .unwrap();
    assert!(err.to_string().contains(&a.local_addr().to_string()), "{err}");
}

fn spawn(f: impl FnOnce() + Send + 'static) -> std::thread::JoinHandle<()> {
    spate_common::task::spawn_named("net-test-producer", f).unwrap()
}
