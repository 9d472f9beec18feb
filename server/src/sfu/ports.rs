//! The SFU's UDP ports: each peer connection binds one port of the
//! configured range (the webrtc crate has no shared socket), taken here and
//! given back when the connection ends.

use std::collections::BTreeSet;
use std::sync::Mutex;

#[derive(Debug)]
pub struct PortPool {
    free: Mutex<BTreeSet<u16>>,
}

impl PortPool {
    pub fn new((first, last): (u16, u16)) -> Self {
        Self {
            free: Mutex::new((first..=last).collect()),
        }
    }

    /// A free port, or `None` when every port is in use.
    pub fn take(&self) -> Option<u16> {
        let mut free = self.free.lock().unwrap_or_else(|e| e.into_inner());
        free.pop_first()
    }

    pub fn give_back(&self, port: u16) {
        let mut free = self.free.lock().unwrap_or_else(|e| e.into_inner());
        free.insert(port);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_are_lent_once_and_come_back() {
        let pool = PortPool::new((40_000, 40_001));
        let a = pool.take().unwrap();
        let b = pool.take().unwrap();
        assert_ne!(a, b);
        assert_eq!(pool.take(), None);
        pool.give_back(a);
        assert_eq!(pool.take(), Some(a));
        assert_eq!(pool.take(), None);
    }
}
