//! The sink's in-memory view of what arrived: a bounded window of the latest
//! messages and a count per relay (the address each message came from).
//! Bounded on purpose: a sink runs for weeks, and the file, not memory, is
//! the record.

use std::collections::{BTreeMap, VecDeque};
use std::net::IpAddr;

use chrono::{DateTime, Utc};
use serde::Serialize;

/// One message as the page shows it.
#[derive(Debug, Clone, Serialize)]
pub struct Received {
    pub at: DateTime<Utc>,
    /// The address the message came from: a relay pod's IP in a cluster.
    pub from: IpAddr,
    /// The message as logged (escaped, lossy UTF-8).
    pub message: String,
    pub request_id: Option<String>,
}

/// What `/messages` returns.
#[derive(Debug, Clone, Serialize)]
pub struct Snapshot {
    pub pod_ip: IpAddr,
    pub total: u64,
    /// Messages per relay since start, by the address they came from: in
    /// a cluster, the relay pods' IPs.
    pub by_relay: BTreeMap<IpAddr, u64>,
    /// Newest first.
    pub latest: Vec<Received>,
}

/// Latest messages and counts.
#[derive(Debug)]
pub struct Board {
    window: usize,
    recent: VecDeque<Received>,
    by_relay: BTreeMap<IpAddr, u64>,
    total: u64,
}

impl Board {
    pub fn new(window: usize) -> Self {
        Self {
            window,
            recent: VecDeque::with_capacity(window),
            by_relay: BTreeMap::new(),
            total: 0,
        }
    }

    pub fn record(&mut self, received: Received) {
        self.total += 1;
        *self.by_relay.entry(received.from).or_default() += 1;
        if self.window == 0 {
            return;
        }
        if self.recent.len() == self.window {
            self.recent.pop_front();
        }
        self.recent.push_back(received);
    }

    pub fn snapshot(&self, pod_ip: IpAddr) -> Snapshot {
        Snapshot {
            pod_ip,
            total: self.total,
            by_relay: self.by_relay.clone(),
            latest: self.recent.iter().rev().cloned().collect(),
        }
    }
}
