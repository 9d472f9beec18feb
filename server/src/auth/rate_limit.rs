//! Limits on failed sign-ins, per account and per client address, so nobody
//! can guess passwords at speed. An attempt is counted *before* the password
//! is checked (a reservation), so parallel requests cannot all slip under the
//! limit while argon2 runs; a successful attempt takes its reservation back.
//!
//! Counters live in this node's memory: a restart forgives, and several nodes
//! each count on their own (documented in the README; a shared counter in the
//! database can come with multi-node).

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How many failures are tolerated within how long.
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    pub max_failures: usize,
    pub window: Duration,
}

/// Attempt timestamps per key, pruned as they age out of the window.
#[derive(Debug)]
pub struct FailureLimiter {
    policy: Policy,
    attempts: Mutex<HashMap<String, VecDeque<Instant>>>,
}

/// Above this many tracked keys, stale ones are swept on the next call.
const SWEEP_ABOVE: usize = 10_000;

impl FailureLimiter {
    pub fn new(policy: Policy) -> Self {
        Self {
            policy,
            attempts: Mutex::new(HashMap::new()),
        }
    }

    /// Counts an attempt at `now`, unless `key` has used up its allowance:
    /// then `Err(wait)`, how long until the oldest attempt expires.
    pub fn reserve(&self, key: &str, now: Instant) -> Result<(), Duration> {
        let mut map = self.attempts.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() > SWEEP_ABOVE {
            let window = self.policy.window;
            map.retain(|_, times| {
                prune(times, now, window);
                !times.is_empty()
            });
        }
        let times = map.entry(key.to_string()).or_default();
        prune(times, now, self.policy.window);
        if times.len() >= self.policy.max_failures {
            let oldest = *times.front().expect("non-empty when over the limit");
            return Err(self
                .policy
                .window
                .saturating_sub(now.duration_since(oldest)));
        }
        times.push_back(now);
        Ok(())
    }

    /// Takes back the attempt reserved at `at` (it succeeded).
    pub fn release(&self, key: &str, at: Instant) {
        let mut map = self.attempts.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(times) = map.get_mut(key)
            && let Some(index) = times.iter().rposition(|t| *t == at)
        {
            times.remove(index);
        }
    }

    /// Wipes a key's slate (a successful sign-in forgives the account).
    pub fn clear(&self, key: &str) {
        self.attempts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(key);
    }
}

fn prune(times: &mut VecDeque<Instant>, now: Instant, window: Duration) {
    while times
        .front()
        .is_some_and(|t| now.duration_since(*t) >= window)
    {
        times.pop_front();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter(max_failures: usize) -> FailureLimiter {
        FailureLimiter::new(Policy {
            max_failures,
            window: Duration::from_secs(60),
        })
    }

    #[test]
    fn blocks_after_the_limit_and_forgives_after_the_window() {
        let limiter = limiter(3);
        let t0 = Instant::now();
        for i in 0..3 {
            assert!(
                limiter.reserve("a", t0 + Duration::from_secs(i)).is_ok(),
                "attempt {i}"
            );
        }
        let wait = limiter
            .reserve("a", t0 + Duration::from_secs(10))
            .unwrap_err();
        assert_eq!(wait, Duration::from_secs(50));
        assert!(
            limiter.reserve("b", t0).is_ok(),
            "other keys are unaffected"
        );
        assert!(limiter.reserve("a", t0 + Duration::from_secs(61)).is_ok());
    }

    #[test]
    fn parallel_attempts_cannot_exceed_the_limit() {
        // Reservations are taken before any password is checked: the fourth
        // concurrent attempt is refused even though none has failed yet.
        let limiter = limiter(3);
        let now = Instant::now();
        let granted = (0..10)
            .filter(|_| limiter.reserve("a", now).is_ok())
            .count();
        assert_eq!(granted, 3);
    }

    #[test]
    fn a_success_gives_its_reservation_back() {
        let limiter = limiter(1);
        let now = Instant::now();
        limiter.reserve("ip", now).unwrap();
        limiter.release("ip", now);
        assert!(limiter.reserve("ip", now).is_ok());
        limiter.clear("ip");
        assert!(limiter.reserve("ip", now).is_ok());
        assert!(limiter.reserve("ip", now).is_err());
    }
}
