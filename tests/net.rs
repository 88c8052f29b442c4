//! The lab network emulator, for real: namespaces, TUN devices and the router, as root.
//! Skipped (with a message) when not root. Timing tests run one at a time.

use std::sync::Mutex;
use std::time::Duration;

use pgsyncbench::net::{self, Group, NetSpec, Network, Policy};

static SERIAL: Mutex<()> = Mutex::new(());

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    if !root {
        eprintln!("SKIPPED: network emulation tests need root");
    }
    root
}

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|p| p.into_inner())
}

fn zone(z: &str) -> Group {
    Group::Zone(z.into())
}

fn three_hosts() -> Network {
    Network::start(&NetSpec::new(&[("a", "z1"), ("b", "z2"), ("c", "z3")])).unwrap()
}

#[test]
fn smoke() {
    if !is_root() {
        return;
    }
    let _s = serial();
    let net = three_hosts();
    let (a, b) = (net.host("a").unwrap(), net.host("b").unwrap());
    for r in [500u64, 1_000, 2_000, 10_000] {
        let n = if r > 5000 { 200 } else { 1000 };
        net.set_link(zone("z1"), zone("z2"), Policy::default(), true)
            .unwrap();
        let base = net::measure_rtt(&a, &b, n).unwrap();
        let paced = net::probe::measure_rtt_paced(&a, &b, n, Duration::from_micros(r)).unwrap();
        net.set_link(zone("z1"), zone("z2"), Policy::with_rtt_us(r), true)
            .unwrap();
        let m = net::measure_rtt(&a, &b, n).unwrap();
        eprintln!(
            "R {r}: base p50 {:.0} paced {:.0} delayed {:.0}: excess over base {:.0} over paced {:.0}",
            base.p50_us,
            paced.p50_us,
            m.p50_us,
            m.p50_us - r as f64 - base.p50_us,
            m.p50_us - r as f64 - paced.p50_us
        );
    }
}
