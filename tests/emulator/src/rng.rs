//! Repeatable randomness for `--seed`: xorshift64*, enough for fault injection and key order.
//!
//! The one hand-written random generator the repository keeps, on purpose. It is not a test's
//! generator (those are proptest strategies, which shrink) but the emulator's own behaviour at run
//! time — the 503s it injects, the key order of the catalog files it writes, its ids and slugs —
//! and `--seed N` must give the same run with every build: tests and the soak bench pass seeds
//! whose runs they rely on. A library generator may change its stream between versions, and a
//! test framework has no place in the emulator binary; these few lines cannot drift.

use std::sync::Mutex;

pub struct Rng(Mutex<u64>);

impl Rng {
    pub fn new(seed: u64) -> Self {
        // xorshift must never hold zero.
        Rng(Mutex::new(seed ^ 0x9E37_79B9_7F4A_7C15 | 1))
    }

    pub fn next_u64(&self) -> u64 {
        let mut state = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let mut x = *state;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        *state = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A float in [0, 1).
    pub fn next_f64(&self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    pub fn chance(&self, probability: f64) -> bool {
        probability > 0.0 && self.next_f64() < probability
    }

    pub fn shuffle<T>(&self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = (self.next_u64() % (i as u64 + 1)) as usize;
            items.swap(i, j);
        }
    }

    /// A hex token, for slugs and node ids.
    pub fn hex(&self, len: usize) -> String {
        let mut out = String::new();
        while out.len() < len {
            out.push_str(&format!("{:016x}", self.next_u64()));
        }
        out.truncate(len);
        out
    }
}
