//! The lab network emulator for real: namespaces, TUN devices, the router in-process and as a
//! daemon, as root. Skipped, with a message, when not root. Tests that time things run one at
//! a time (they share two cores with each other and with whatever else runs).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use pgsyncbench::net::{
    self, Change, Group, Host, HostSpec, NetSpec, Network, Policy, RouterClient, Stall,
};

static SERIAL: Mutex<()> = Mutex::new(());

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    if !root {
        eprintln!("SKIPPED: network emulation tests need root (namespaces and TUN devices)");
    }
    root
}

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|p| p.into_inner())
}

fn zone(z: &str) -> Group {
    Group::Zone(z.into())
}

fn host(h: &str) -> Group {
    Group::Host(h.into())
}

/// Three hosts in three zones, none of them the machine itself.
fn three_hosts() -> Network {
    Network::start(&NetSpec::new(&[("a", "z1"), ("b", "z2"), ("c", "z3")])).unwrap()
}

/// A spec whose first host is the machine itself, in a range of its own.
fn spec_with_root(range: [u8; 2]) -> NetSpec {
    let mut spec = NetSpec::new(&[("me", "z1"), ("b", "z2"), ("c", "z2")]);
    spec.range = range;
    spec.hosts[0].root = true;
    spec
}

/// max(2 %, 50 µs) of a delay in µs.
fn bound_us(r_us: f64) -> f64 {
    (r_us * 0.02).max(50.0)
}

// ---------------------------------------------------------------------------------------
// Delay

/// For R in {0, 0.5, 1, 2, 10} ms between zones z1 and z2 (R/2 each way): the measured round
/// trip's median is R + the baseline within max(2 %, 50 µs), and no round trip is shorter
/// than R (floor and ceiling). The baseline is the 0-delay round trip measured with a pause
/// of R before each ping (`measure_rtt_paced`): a thread idle for R wakes slower on a busy
/// machine whatever the network, and that cost is not the emulator's. Three interleaved
/// rounds; the median of the three rounds' errors is asserted, each round's is printed.
#[test]
fn round_trips_pay_exactly_the_configured_delay() {
    if !is_root() {
        return;
    }
    let _s = serial();
    let net = three_hosts();
    let (a, b) = (net.host("a").unwrap(), net.host("b").unwrap());
    let mut report = Vec::new();
    for r_us in [0u64, 500, 1_000, 2_000, 10_000] {
        let n = if r_us >= 10_000 { 150 } else { 400 };
        let pause = Duration::from_micros(r_us);
        let mut errors = Vec::new();
        for _ in 0..3 {
            net.set_link(zone("z1"), zone("z2"), Policy::default(), true)
                .unwrap();
            let base = net::probe::measure_rtt_paced(&a, &b, n, pause).unwrap();
            net.set_link(zone("z1"), zone("z2"), Policy::with_rtt_us(r_us), true)
                .unwrap();
            let got = net::measure_rtt(&a, &b, n).unwrap();
            assert!(
                got.min_us >= r_us as f64,
                "R {r_us} µs: a round trip took {:.0} µs, less than the delay",
                got.min_us
            );
            errors.push(got.p50_us - base.p50_us - r_us as f64);
        }
        errors.sort_by(f64::total_cmp);
        report.push(format!(
            "R {r_us} µs: p50 error per round {errors:.0?} µs (bound ±{:.0})",
            bound_us(r_us as f64)
        ));
        assert!(
            errors[1].abs() <= bound_us(r_us as f64),
            "median error out of bounds: {report:#?}"
        );
    }
    eprintln!("{report:#?}");
}

/// A plain link costs at most 50 µs (median) more than a direct loopback echo.
#[test]
fn a_plain_link_costs_little_more_than_loopback() {
    if !is_root() {
        return;
    }
    let _s = serial();
    let net = three_hosts();
    let (a, b) = (net.host("a").unwrap(), net.host("b").unwrap());
    let mut overheads = Vec::new();
    for _ in 0..3 {
        // From a to its own address: the kernel's loopback, no router.
        let direct = net::measure_rtt(&a, &a, 1_000).unwrap();
        let routed = net::measure_rtt(&a, &b, 1_000).unwrap();
        overheads.push(routed.p50_us - direct.p50_us);
    }
    overheads.sort_by(f64::total_cmp);
    eprintln!("plain link overhead over loopback, p50 per round: {overheads:.1?} µs");
    assert!(overheads[1] <= 50.0, "overhead {overheads:?} µs");
}

/// Delay is per direction: 5 ms from a to b, 1 ms back, measured one way (one clock: both
/// ends are in this process).
#[test]
fn each_direction_has_its_own_delay() {
    if !is_root() {
        return;
    }
    let _s = serial();
    let net = three_hosts();
    let (a, b) = (net.host("a").unwrap(), net.host("b").unwrap());
    let one_way = |us| Policy {
        delay_us: us,
        ..Policy::default()
    };
    net.set_link(host("a"), host("b"), one_way(5_000), false)
        .unwrap();
    net.set_link(host("b"), host("a"), one_way(1_000), false)
        .unwrap();
    let ab = one_way_ms(&a, &b, 50);
    let ba = one_way_ms(&b, &a, 50);
    eprintln!("one way: a→b {ab:.3} ms, b→a {ba:.3} ms");
    assert!((5.0..5.3).contains(&ab), "a→b {ab} ms");
    assert!((1.0..1.3).contains(&ba), "b→a {ba} ms");
}

/// Jitter spreads one-way delays over the range asked (uniform ±1 ms around 5 ms): never
/// below it, and above it no more than the emulator and the machine add to any delayed
/// datagram. That ceiling is sound: every jittered delay is at most 6 ms, so the p95 of what
/// is measured is at most 6 ms + the p95 of the excess over a constant 5 ms delay (p95, not
/// p98: of 150 datagrams, a busy machine's few late wake-ups decide a p98 of either series). The excess
/// is measured at the same time, on a second link (a→c, constant 5 ms), datagrams alternating
/// between the two, so both see the same load. Datagrams 3 ms apart so the order-keeping
/// clamp does not skew the spread.
#[test]
fn jitter_spreads_delays_over_the_range_asked() {
    if !is_root() {
        return;
    }
    let _s = serial();
    let net = three_hosts();
    let (a, b, c) = (
        net.host("a").unwrap(),
        net.host("b").unwrap(),
        net.host("c").unwrap(),
    );
    let jittery = Policy {
        delay_us: 5_000,
        jitter: net::Jitter::Uniform {
            plus_minus_us: 1_000,
        },
        ..Policy::default()
    };
    let constant = Policy {
        delay_us: 5_000,
        ..Policy::default()
    };
    net.set_link(host("a"), host("b"), jittery, false).unwrap();
    net.set_link(host("a"), host("c"), constant, false).unwrap();
    let (to_b, to_c) = (udp_pair(&a, &b), udp_pair(&a, &c));
    let (mut d, mut excess) = (Vec::new(), Vec::new());
    for _ in 0..150 {
        d.push(one_way_sample_ms(&to_b));
        std::thread::sleep(Duration::from_millis(3));
        excess.push(one_way_sample_ms(&to_c) - 5.0);
        std::thread::sleep(Duration::from_millis(3));
    }
    d.sort_by(f64::total_cmp);
    excess.sort_by(f64::total_cmp);
    let (lo, p10, p90, p95) = (d[0], d[15], d[135], d[142]);
    let excess_p95 = excess[142];
    eprintln!(
        "jitter ±1 ms around 5 ms: min {lo:.3} p10 {p10:.3} p90 {p90:.3} p95 {p95:.3} max {:.3} ms; \
         excess over a constant 5 ms: p50 {:.3} p95 {excess_p95:.3} ms",
        d[149], excess[75]
    );
    let ceiling = 6.0 + excess_p95 + bound_us(6_000.0) / 1e3;
    assert!(
        lo >= 4.0 && p95 <= ceiling,
        "outside 4–6 ms: min {lo}, p95 {p95} (ceiling {ceiling:.3} with the excess)"
    );
    assert!(p90 - p10 > 1.2, "not spread: p10 {p10} p90 {p90}");
}

/// One datagram's one-way time through a pair from `udp_pair`, in ms.
fn one_way_sample_ms((rx, tx, dst): &(UdpSocket, UdpSocket, SocketAddr)) -> f64 {
    let mut buf = [0u8; 16];
    let t = Instant::now();
    tx.send_to(b"x", dst).unwrap();
    rx.recv(&mut buf).unwrap();
    t.elapsed().as_secs_f64() * 1e3
}

/// Median one-way time of `n` UDP datagrams from `from` to `to`, in ms.
fn one_way_ms(from: &Host, to: &Host, n: usize) -> f64 {
    let mut times = one_way_samples_ms(from, to, n, Duration::from_millis(1));
    times.sort_by(f64::total_cmp);
    times[n / 2]
}

/// One-way times of `n` UDP datagrams from `from` to `to`, in ms, each sent after the last
/// arrived and a pause.
fn one_way_samples_ms(from: &Host, to: &Host, n: usize, pause: Duration) -> Vec<f64> {
    let pair = udp_pair(from, to);
    let mut times = Vec::new();
    for _ in 0..n {
        times.push(one_way_sample_ms(&pair));
        std::thread::sleep(pause);
    }
    times
}

/// A UDP socket bound in `to` and one in `from`; returns (receiver, sender, receiver's address).
/// The receiver gives up after 2 s (a lost datagram fails the test instead of hanging it).
fn udp_pair(from: &Host, to: &Host) -> (UdpSocket, UdpSocket, SocketAddr) {
    let addr = to.addr;
    let rx = to
        .enter(move || UdpSocket::bind((addr, 0)))
        .unwrap()
        .unwrap();
    let tx = from
        .enter(|| UdpSocket::bind(("0.0.0.0", 0)))
        .unwrap()
        .unwrap();
    rx.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    let dst = rx.local_addr().unwrap();
    (rx, tx, dst)
}

// ---------------------------------------------------------------------------------------
// Bandwidth, loss, stall

/// A 1 MB/s cap from a to b: a bulk TCP transfer of 3 MB runs at 1 MB/s ± 10 % (IP bytes are
/// capped: the payload rate is a little under), while the reverse direction is not capped.
#[test]
fn a_bandwidth_cap_holds_within_ten_percent() {
    if !is_root() {
        return;
    }
    let _s = serial();
    let net = three_hosts();
    let (a, b) = (net.host("a").unwrap(), net.host("b").unwrap());
    let cap = Policy {
        rate_bytes_per_s: Some(1_000_000),
        ..Policy::default()
    };
    net.set_link(host("a"), host("b"), cap, false).unwrap();
    let rate = bulk_rate(&a, &b, 3_000_000);
    let back = bulk_rate(&b, &a, 3_000_000);
    eprintln!("capped a→b {rate:.0} B/s; uncapped b→a {back:.0} B/s");
    assert!((900_000.0..=1_100_000.0).contains(&rate), "{rate} B/s");
    assert!(
        back > 5_000_000.0,
        "the reverse direction was slowed: {back} B/s"
    );
}

/// Bytes per second a receiver in `to` saw of `total` bytes sent from `from` (from its first
/// byte to its last).
fn bulk_rate(from: &Host, to: &Host, total: usize) -> f64 {
    let addr = to.addr;
    let listener = to
        .enter(move || TcpListener::bind((addr, 0)))
        .unwrap()
        .unwrap();
    let dst = listener.local_addr().unwrap();
    let receiver = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        let mut buf = vec![0u8; 1 << 16];
        let mut got = s.read(&mut buf).unwrap();
        let first = Instant::now();
        let first_bytes = got;
        while got < total {
            let n = s.read(&mut buf).unwrap();
            assert!(n > 0, "the connection closed early");
            got += n;
        }
        (got - first_bytes) as f64 / first.elapsed().as_secs_f64()
    });
    let mut s = net::probe::connect_from(from, dst, Duration::from_secs(5)).unwrap();
    let chunk = vec![7u8; 1 << 16];
    let mut sent = 0;
    while sent < total {
        let n = chunk.len().min(total - sent);
        s.write_all(&chunk[..n]).unwrap();
        sent += n;
    }
    receiver.join().unwrap()
}

/// 20 % loss from a to b drops about a fifth of 3000 datagrams, counted by the router too.
#[test]
fn loss_drops_the_share_asked() {
    if !is_root() {
        return;
    }
    let _s = serial();
    let net = three_hosts();
    let (a, b) = (net.host("a").unwrap(), net.host("b").unwrap());
    let lossy = Policy {
        loss: 0.2,
        ..Policy::default()
    };
    net.set_link(host("a"), host("b"), lossy, false).unwrap();
    let (rx, tx, dst) = udp_pair(&a, &b);
    rx.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let n = 3_000;
    let receiver = std::thread::spawn(move || {
        let mut buf = [0u8; 16];
        let mut got = 0;
        while rx.recv(&mut buf).is_ok() {
            got += 1;
        }
        got
    });
    for i in 0..n {
        tx.send_to(&(i as u32).to_le_bytes(), dst).unwrap();
        if i % 50 == 0 {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    let got = receiver.join().unwrap();
    let dropped = net
        .in_force()
        .links
        .iter()
        .find(|l| l.from == "a" && l.to == "b")
        .map(|l| l.counts.dropped_loss)
        .unwrap();
    eprintln!("loss 20 %: {got} of {n} arrived; router dropped {dropped}");
    assert!((2_250..=2_550).contains(&got), "{got} of {n} arrived");
    assert_eq!(got + dropped as usize, n);
}

/// A stall that holds keeps every packet, then delivers them all, in order, when it ends; a
/// stall that drops loses them.
#[test]
fn a_stall_holds_packets_in_order_until_it_ends() {
    if !is_root() {
        return;
    }
    let _s = serial();
    let net = three_hosts();
    let (a, b) = (net.host("a").unwrap(), net.host("b").unwrap());
    let (rx, tx, dst) = udp_pair(&a, &b);
    rx.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let stall = |s| Policy {
        stall: s,
        ..Policy::default()
    };
    net.set_link(host("a"), host("b"), stall(Stall::Hold), false)
        .unwrap();
    for i in 0u32..20 {
        tx.send_to(&i.to_le_bytes(), dst).unwrap();
    }
    let mut buf = [0u8; 4];
    assert!(rx.recv(&mut buf).is_err(), "a packet passed a stall");
    net.apply(Change::Clear {
        from: host("a"),
        to: host("b"),
        both_ways: false,
    })
    .unwrap();
    for i in 0u32..20 {
        rx.recv(&mut buf).unwrap();
        assert_eq!(u32::from_le_bytes(buf), i, "out of order");
    }
    net.set_link(host("a"), host("b"), stall(Stall::Drop), false)
        .unwrap();
    tx.send_to(b"lost", dst).unwrap();
    // Let the router see it before the stall ends.
    std::thread::sleep(Duration::from_millis(50));
    net.apply(Change::Reset).unwrap();
    assert!(
        rx.recv(&mut buf).is_err(),
        "a dropping stall delivered a packet"
    );
}

// ---------------------------------------------------------------------------------------
// Partitions

/// b is cut off from a (both ways) while c, its client, still reaches it; connecting from a
/// times out during the partition and works after healing. A one-way cut stops TCP (the
/// handshake needs both ways) but lets datagrams through the other way.
#[test]
fn a_partition_cuts_some_hosts_off_and_heals() {
    if !is_root() {
        return;
    }
    let _s = serial();
    let net = three_hosts();
    let (a, b, c) = (
        net.host("a").unwrap(),
        net.host("b").unwrap(),
        net.host("c").unwrap(),
    );
    let addr = b.addr;
    let listener = b
        .enter(move || TcpListener::bind((addr, 0)))
        .unwrap()
        .unwrap();
    let dst = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        // Accept whatever comes, for the test's life.
        for s in listener.incoming() {
            drop(s);
        }
    });
    let try_from = |h: &Host| {
        h.enter(|| TcpStream::connect_timeout(&dst, Duration::from_millis(300)))
            .unwrap()
    };
    assert!(try_from(&a).is_ok(), "no route before the partition");
    net.partition(host("b"), host("a"), true).unwrap();
    assert!(try_from(&a).is_err(), "a reached b through a partition");
    assert!(try_from(&c).is_ok(), "b's client c was cut off too");
    net.heal_all().unwrap();
    assert!(try_from(&a).is_ok(), "a could not reach b after healing");

    // One way: a → b cut, b → a open.
    net.partition(host("a"), host("b"), false).unwrap();
    assert!(try_from(&a).is_err(), "TCP passed a one-way cut");
    let (rx, tx, to_a) = udp_pair(&b, &a);
    rx.set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    tx.send_to(b"hi", to_a).unwrap();
    let mut buf = [0u8; 2];
    assert!(rx.recv(&mut buf).is_ok(), "b → a was cut too");
    let (rx, tx, to_b) = udp_pair(&a, &b);
    rx.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    tx.send_to(b"hi", to_b).unwrap();
    assert!(rx.recv(&mut buf).is_err(), "a → b passed the cut");
    net.heal_all().unwrap();
}

// ---------------------------------------------------------------------------------------
// The machine as a host, the daemon, and cleanup

/// Every network namespace inode some process holds (as its namespace, a thread's, or an fd).
fn held_netns_inodes() -> Vec<u64> {
    let mut out = Vec::new();
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return out;
    };
    let parse = |p: &Path| -> Option<u64> {
        let l = std::fs::read_link(p).ok()?;
        let s = l.to_str()?;
        s.strip_prefix("net:[")?.strip_suffix(']')?.parse().ok()
    };
    for p in procs.flatten() {
        let dir = p.path();
        if let Some(i) = parse(&dir.join("ns/net")) {
            out.push(i);
        }
        for sub in ["task", "fd"] {
            if let Ok(entries) = std::fs::read_dir(dir.join(sub)) {
                for e in entries.flatten() {
                    let path = if sub == "task" {
                        e.path().join("ns/net")
                    } else {
                        e.path()
                    };
                    if let Some(i) = parse(&path) {
                        out.push(i);
                    }
                }
            }
        }
    }
    out
}

fn links_text() -> String {
    let out = std::process::Command::new("ip")
        .args(["-o", "link"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn routes_text() -> String {
    let out = std::process::Command::new("ip")
        .args(["route"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Asserts the device, the route and the namespaces are gone.
fn assert_nothing_left(device: &str, range: &str, inodes: &[u64]) {
    let links = links_text();
    assert!(
        !links.contains(&format!(": {device}:")),
        "{device} outlived the network:\n{links}"
    );
    let routes = routes_text();
    assert!(
        !routes.contains(range),
        "a route for {range} outlived the network:\n{routes}"
    );
    let held = held_netns_inodes();
    for i in inodes {
        assert!(
            !held.contains(i),
            "namespace net:[{i}] outlived the network"
        );
    }
}

/// With the machine as a host: this process reaches lab hosts at their addresses through the
/// router (paying the delay), the range is refused while in use, and dropping the network
/// removes the device, its route and every namespace.
#[test]
fn the_machine_joins_as_a_host_and_dropping_the_network_leaves_nothing() {
    if !is_root() {
        return;
    }
    let _s = serial();
    let spec = spec_with_root([10, 91]);
    let net = Network::start(&spec).unwrap();
    let device = net.root_device().unwrap();
    assert!(links_text().contains(&format!(": {device}:")));
    assert!(
        routes_text().contains(&format!("10.91.0.0/16 dev {device}")),
        "{}",
        routes_text()
    );
    let again = Network::start(&spec).err().unwrap();
    assert!(again.to_string().contains("already routed"), "{again}");

    let b = net.host("b").unwrap();
    let echo = net::probe::serve_echo(&b).unwrap();
    net.set_link(zone("z1"), zone("z2"), Policy::with_rtt_us(4_000), true)
        .unwrap();
    // Straight from this thread, in the machine's namespace.
    let mut s = TcpStream::connect_timeout(&echo, Duration::from_secs(2)).unwrap();
    s.set_nodelay(true).unwrap();
    let t = Instant::now();
    s.write_all(b"ping").unwrap();
    let mut buf = [0u8; 4];
    s.read_exact(&mut buf).unwrap();
    let rtt = t.elapsed();
    assert!(
        rtt >= Duration::from_millis(4) && rtt < Duration::from_millis(6),
        "{rtt:?}"
    );
    drop(s);

    let inodes: Vec<u64> = net
        .hosts()
        .iter()
        .filter(|h| h.name != "me")
        .map(|h| h.netns().inode())
        .collect();
    drop(b);
    drop(net);
    assert_nothing_left(&device, "10.91.0.0/16", &inodes);
}

fn temp_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("pgsyncbench-net-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

const BIN: &str = env!("CARGO_BIN_EXE_pgsyncbench");

/// The router as a daemon: changes are in force when `apply` returns (within a few ms), a
/// daemon spawned in a host runs in its namespace, and kill -9 of the router leaves no device,
/// route or namespace behind.
#[test]
fn the_router_daemon_applies_changes_at_once_and_kill_9_leaves_nothing() {
    if !is_root() {
        return;
    }
    let _s = serial();
    let dir = temp_dir("daemon");
    let router = RouterClient::start(Path::new(BIN), &spec_with_root([10, 92]), &dir).unwrap();
    let device = router.state().root_device.clone().unwrap();
    let (b, c) = (router.host("b").unwrap(), router.host("c").unwrap());

    let t = Instant::now();
    router
        .set_link(host("me"), host("b"), Policy::with_rtt_us(3_000), true)
        .unwrap();
    let took = t.elapsed();
    assert!(took < Duration::from_millis(50), "apply took {took:?}");
    // The very first round trip after the answer pays the delay.
    let echo = net::probe::serve_echo(&b).unwrap();
    let mut s = TcpStream::connect_timeout(&echo, Duration::from_secs(2)).unwrap();
    let t = Instant::now();
    s.write_all(b"x").unwrap();
    s.read_exact(&mut [0u8; 1]).unwrap();
    assert!(t.elapsed() >= Duration::from_millis(3), "{:?}", t.elapsed());
    drop(s);
    let status = router.status().unwrap();
    assert_eq!(status.table.rules.len(), 2);
    let recorded: net::InForce =
        serde_json::from_slice(&std::fs::read(dir.join("net-in-force.json")).unwrap()).unwrap();
    assert_eq!(recorded.table, status.table);

    // A daemon in host c: its network namespace is c's.
    let mut child = c.command("sleep").arg("30").spawn().unwrap();
    let ns = std::fs::read_link(format!("/proc/{}/ns/net", child.id())).unwrap();
    assert_eq!(ns.to_str().unwrap(), format!("net:[{}]", c.netns().inode()));
    child.kill().unwrap();
    child.wait().unwrap();

    let inodes = [b.netns().inode(), c.netns().inode()];
    drop((b, c));
    // SAFETY: kill(2) on the router this test started.
    assert_eq!(unsafe { libc::kill(router.pid() as i32, libc::SIGKILL) }, 0);
    let proc = PathBuf::from(format!("/proc/{}", router.pid()));
    let deadline = Instant::now() + Duration::from_secs(5);
    // A killed child stays a zombie (holding nothing) until reaped: wait for its fds to go.
    while proc.join("fd/0").exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    std::thread::sleep(Duration::from_millis(100));
    assert_nothing_left(&device, "10.92.0.0/16", &inodes);
    let gone = router.status().unwrap_err();
    assert!(gone.to_string().contains("not running"), "{gone}");
    router.stop().unwrap();
    let _ = std::fs::remove_dir_all(dir);
}

/// A router stopped through its socket undoes everything too, and a second one can start in
/// the same range at once.
#[test]
fn a_stopped_router_leaves_nothing_and_the_range_is_free_again() {
    if !is_root() {
        return;
    }
    let _s = serial();
    let dir = temp_dir("stop");
    let spec = spec_with_root([10, 93]);
    for _ in 0..2 {
        let router = RouterClient::start(Path::new(BIN), &spec, &dir).unwrap();
        let device = router.state().root_device.clone().unwrap();
        let inodes: Vec<u64> = ["b", "c"]
            .iter()
            .map(|h| router.host(h).unwrap().netns().inode())
            .collect();
        router.stop().unwrap();
        assert_nothing_left(&device, "10.93.0.0/16", &inodes);
    }
    let _ = std::fs::remove_dir_all(dir);
}

/// Not root: the router says zones need root, in a way callers can tell apart (to fall back
/// to loopback relays).
#[test]
fn without_root_the_router_refuses_clearly() {
    if !is_root() {
        return;
    }
    let dir = temp_dir("nobody");
    let spec = NetSpec::new(&[("a", "z1"), ("b", "z2")]);
    std::fs::write(
        dir.join("net-spec.json"),
        serde_json::to_vec(&spec).unwrap(),
    )
    .unwrap();
    std::process::Command::new("chmod")
        .args(["-R", "a+rwx"])
        .arg(&dir)
        .status()
        .unwrap();
    let out = std::process::Command::new("runuser")
        .args(["-u", "nobody", "--", BIN, "lab", "net-router", "--dir"])
        .arg(&dir)
        .output()
        .unwrap();
    let first = String::from_utf8_lossy(&out.stdout);
    let h: net::daemon::Handshake = serde_json::from_str(first.lines().next().unwrap()).unwrap();
    assert!(!h.ready && h.needs_root, "{first}");
    assert!(h.error.unwrap().contains("needs root"));
    assert!(!out.status.success());
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn host_specs_are_checked_before_anything_is_built() {
    let bad = NetSpec {
        hosts: vec![HostSpec {
            name: "x y".into(),
            zone: "z".into(),
            root: false,
        }],
        ..NetSpec::new(&[])
    };
    let e = Network::start(&bad).err().unwrap();
    assert!(e.to_string().contains("letters"), "{e}");
}

// ---------------------------------------------------------------------------------------
// Benchmark (not a timed test): `cargo test --release --test net -- --ignored --nocapture`

/// CPU time (user + system) of a process so far, in seconds.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // Fields after the command name (which may hold spaces) start after the last ')'.
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    (f[11].parse::<f64>().unwrap() + f[12].parse::<f64>().unwrap()) / hz
}

/// Round trips through the router daemon for R in {0, 0.5, 1, 2, 10} ms (median and p99
/// error against the unpaced and the paced baseline), and the router's CPU per packet at a
/// few thousand packets per second, on a plain link and a delayed one.
#[test]
#[ignore]
fn benchmark() {
    if !is_root() {
        return;
    }
    let _s = serial();
    let dir = temp_dir("bench");
    let spec = NetSpec::new(&[("a", "z1"), ("b", "z2")]);
    let router = RouterClient::start(Path::new(BIN), &spec, &dir).unwrap();
    let (a, b) = (router.host("a").unwrap(), router.host("b").unwrap());
    println!(
        "| R (ms) | base p50 | paced base p50 | measured p50 | p99 | p50 error vs base | vs paced | p99 error vs paced |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for r_us in [0u64, 500, 1_000, 2_000, 10_000] {
        let n = if r_us >= 10_000 { 300 } else { 1_000 };
        router
            .set_link(zone("z1"), zone("z2"), Policy::default(), true)
            .unwrap();
        let base = net::measure_rtt(&a, &b, n).unwrap();
        let paced = net::probe::measure_rtt_paced(&a, &b, n, Duration::from_micros(r_us)).unwrap();
        router
            .set_link(zone("z1"), zone("z2"), Policy::with_rtt_us(r_us), true)
            .unwrap();
        let got = net::measure_rtt(&a, &b, n).unwrap();
        let r = r_us as f64;
        println!(
            "| {:.1} | {:.0} µs | {:.0} µs | {:.0} µs | {:.0} µs | {:+.0} µs | {:+.0} µs | {:+.0} µs |",
            r / 1000.0,
            base.p50_us,
            paced.p50_us,
            got.p50_us,
            got.p99_us,
            got.p50_us - base.p50_us - r,
            got.p50_us - paced.p50_us - r,
            got.p99_us - paced.p99_us - r,
        );
    }
    println!("\n| link | packets/s asked | packets routed | router CPU per packet |");
    println!("|---|---|---|---|");
    for (label, policy) in [
        ("plain", Policy::default()),
        ("1 ms RTT", Policy::with_rtt_us(1_000)),
    ] {
        router
            .set_link(zone("z1"), zone("z2"), policy, true)
            .unwrap();
        for rate in [2_000u64, 5_000] {
            let (rx, tx, dst) = udp_pair(&a, &b);
            rx.set_read_timeout(Some(Duration::from_millis(200)))
                .unwrap();
            let counter = std::thread::spawn(move || {
                let mut buf = [0u8; 64];
                let mut n = 0u64;
                while rx.recv(&mut buf).is_ok() {
                    n += 1;
                }
                n
            });
            let cpu0 = cpu_seconds(router.pid());
            let start = Instant::now();
            let secs = 4.0;
            let total = (rate as f64 * secs) as u64;
            for i in 0..total {
                let due = start + Duration::from_secs_f64(i as f64 / rate as f64);
                if let Some(wait) = due.checked_duration_since(Instant::now()) {
                    std::thread::sleep(wait);
                }
                tx.send_to(&[0u8; 32], dst).unwrap();
            }
            let got = counter.join().unwrap();
            let cpu = cpu_seconds(router.pid()) - cpu0;
            for l in router.status().unwrap().links {
                if let Some(x) = l.lateness {
                    println!("<!-- {}->{} {:?} -->", l.from, l.to, x);
                }
            }
            println!(
                "| {label} | {rate} | {got} | {:.1} µs |",
                cpu / got.max(1) as f64 * 1e6
            );
        }
    }
    router.stop().unwrap();
    let _ = std::fs::remove_dir_all(dir);
}
