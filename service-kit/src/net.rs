//! This instance's own IP address and name.
//!
//! The seed names its log files after the pod's IP (`Relay_10.244.1.5.txt`)
//! and the sender puts it in every message. In a cluster the downward API
//! injects it as `POD_IP`; elsewhere we look it up the way `hostname -I`
//! does: the first non-loopback address of this host.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::OnceLock;

/// This instance's name as a person sees it in a cluster: the pod's name.
///
/// `POD_NAME` if set (the downward API's `metadata.name`), else the host
/// name, which Kubernetes sets to the pod's name and docker and podman to
/// the container's short id (what the classic voting app prints as
/// "Processed by container ID"), else `unknown`. Read once, at the first
/// call: it cannot change while the process runs.
pub fn instance_name() -> &'static str {
    static NAME: OnceLock<String> = OnceLock::new();
    NAME.get_or_init(|| {
        std::env::var("POD_NAME")
            .ok()
            .or_else(|| std::fs::read_to_string("/proc/sys/kernel/hostname").ok())
            .or_else(|| std::env::var("HOSTNAME").ok())
            .map(|name| name.trim().to_owned())
            .filter(|name| !name.is_empty())
            .unwrap_or_else(|| "unknown".to_owned())
    })
}

/// The address to use as this instance's identity: `explicit` (from
/// `POD_IP`) if given, else `bind` if it is a specific address, else the
/// host's primary address, else 127.0.0.1.
pub fn pod_ip(explicit: Option<IpAddr>, bind: IpAddr) -> IpAddr {
    explicit
        .or_else(|| (!bind.is_unspecified()).then_some(bind))
        .or_else(primary_ip)
        .unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST))
}

/// The host's first non-loopback address, IPv4 preferred.
pub fn primary_ip() -> Option<IpAddr> {
    let addrs = if_addrs::get_if_addrs().ok()?;
    let ips: Vec<IpAddr> = addrs
        .iter()
        .filter(|i| !i.is_loopback())
        .map(if_addrs::Interface::ip)
        .collect();
    ips.iter()
        .copied()
        .find(IpAddr::is_ipv4)
        .or_else(|| ips.first().copied())
}
