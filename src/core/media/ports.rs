//! The RTP port pool: an even port per call (RTCP takes the odd one above), never
//! handed to two calls, released on hang-up.

use std::collections::BTreeSet;

#[derive(Debug)]
pub struct PortPool {
    free: BTreeSet<u16>,
    /// Where the next search starts, so a freed port is not reused at once.
    cursor: u16,
}

impl PortPool {
    /// All even ports in `low..=high` whose RTCP port also fits.
    pub fn new(low: u16, high: u16) -> Self {
        let first = low + (low % 2);
        let free = (first..high).step_by(2).collect();
        PortPool {
            free,
            cursor: first,
        }
    }

    pub fn available(&self) -> usize {
        self.free.len()
    }

    /// Takes a port, round-robin through the range.
    pub fn take(&mut self) -> Option<u16> {
        let port = self
            .free
            .range(self.cursor..)
            .next()
            .or_else(|| self.free.iter().next())
            .copied()?;
        self.free.remove(&port);
        self.cursor = port.saturating_add(2);
        Some(port)
    }

    /// Gives a port back; a port not from this pool or already free is ignored.
    pub fn release(&mut self, port: u16) {
        self.free.insert(port);
    }
}
