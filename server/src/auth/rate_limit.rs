//! Limits on failed sign-ins, per account and per client address, so nobody
//! can guess passwords at speed. Counters live in this node's memory: a
//! restart forgives, and several nodes each count on their own (documented in
//! the README; a shared counter in the database can come with multi-node).

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How many failures are tolerated within how long.
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    pub max_failures: usize,
    pub window: Duration,
}

/// Failure timestamps per key, pruned as they age out of the window.
#[derive(Debug)]
pub struct FailureLimiter {
    policy: Policy,
    failures: Mutex<HashMap<String, VecDeque<Instant>>>,
}

/// Above this many tracked keys, stale ones are swept on the next call.
const SWEEP_ABOVE: usize = 10_000;

impl FailureLimiter {
    pub fn new(policy: Policy) -> Self {
        Self {
            policy,
            failures: Mutex::new(HashMap::new()),
        }
    }

    /// `Err(wait)` when `key` has used up its failures; `wait` is how long
    /// until the oldest one expires.
    pub fn check(&self, key: &str, now: Instant) -> Result<(), Duration> {
        let mut map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        let Some(times) = map.get_mut(key) else {
            return Ok(());
        };
        prune(times, now, self.policy.window);
        if times.len() >= self.policy.max_failures {
            let oldest = *times.front().expect("non-empty when over the limit");
            Err(self
                .policy
                .window
                .saturating_sub(now.duration_since(oldest)))
        } else {
            Ok(())
        }
    }

    pub fn record_failure(&self, key: &str, now: Instant) {
        let mut map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() > SWEEP_ABOVE {
            let window = self.policy.window;
            map.retain(|_, times| {
                prune(times, now, window);
                !times.is_empty()
            });
        }
        let times = map.entry(key.to_string()).or_default();
        prune(times, now, self.policy.window);
        times.push_back(now);
    }

    /// A successful sign-in wipes the account's slate.
    pub fn clear(&self, key: &str) {
        self.failures
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

    #[test]
    fn blocks_after_the_limit_and_forgives_after_the_window() {
        let limiter = FailureLimiter::new(Policy {
            max_failures: 3,
            window: Duration::from_secs(60),
        });
        let t0 = Instant::now();
        for i in 0..3 {
            assert!(limiter.check("a", t0).is_ok(), "attempt {i}");
            limiter.record_failure("a", t0 + Duration::from_secs(i));
        }
        let wait = limiter
            .check("a", t0 + Duration::from_secs(10))
            .unwrap_err();
        assert_eq!(wait, Duration::from_secs(50));
        assert!(limiter.check("b", t0).is_ok(), "other keys are unaffected");
        assert!(limiter.check("a", t0 + Duration::from_secs(61)).is_ok());
    }

    #[test]
    fn clearing_resets_a_key() {
        let limiter = FailureLimiter::new(Policy {
            max_failures: 1,
            window: Duration::from_secs(60),
        });
        let now = Instant::now();
        limiter.record_failure("a", now);
        assert!(limiter.check("a", now).is_err());
        limiter.clear("a");
        assert!(limiter.check("a", now).is_ok());
    }
}
