//! Per-connection queues of market frames: the registry of open connections ("outlets") that the
//! publisher fans each frame out to.
//!
//! Each connection has its own bounded queue of `queue_frames` frames and a set of products it
//! wants. A product's frame goes only to the outlets that want that product; a heartbeat
//! (`product: None`) goes to every outlet. So a connection's queue holds its own traffic only,
//! and a connection is judged a slow consumer by its own backlog, as on the exchange: when its
//! queue is full the publisher marks it overflowed, wakes it, and sends it nothing more; the
//! connection closes itself as soon as it reads its queue or, if it is waiting on a socket its
//! client does not read, at once. The publisher never waits, so nobody else does either.
//!
//! Ordering at subscribe: a connection marks a product wanted ([`Inlet::want`]) before it takes
//! the product's snapshot under the market lock, and the publisher generates a frame and reads
//! the wanted flags under that same lock ([`Outlets::publish`]), so every frame after the
//! snapshot reaches the queue. Frames already in the snapshot may be queued too; the connection
//! drops those by version.
//!
//! Lock order: a market lock, then the registry's. The registry's lock is never held across an
//! await, and a connection never takes it while holding a market lock.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, PoisonError, RwLock};

use tokio::sync::Notify;
use tokio::sync::mpsc::{self, error::TryRecvError, error::TrySendError};

use super::publisher::Outgoing;

/// The open connections' queues, for the publisher to fan frames out to.
#[derive(Debug)]
pub struct Outlets {
    open: RwLock<Vec<Arc<Outlet>>>,
    products: usize,
    capacity: usize,
    /// Every outlet wants every product (`--unsubscribed-every`: frames of products a connection
    /// did not subscribe to must reach it).
    want_all: bool,
}

/// The publisher's end of one connection's queue.
#[derive(Debug)]
struct Outlet {
    id: u64,
    tx: mpsc::Sender<Arc<Outgoing>>,
    /// `wants[product]`: queue that product's frames.
    wants: Vec<AtomicBool>,
    /// The queue was full when a frame was due: the connection is a slow consumer.
    overflowed: AtomicBool,
    /// Woken when `overflowed` is set, for a connection waiting on its socket.
    wake: Notify,
}

/// Why a connection's queue has no more frames for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lost {
    /// The queue was full when a frame was due (a slow consumer): frames were lost.
    Overflowed,
    /// The registry let go of the queue (the server is going away).
    Closed,
}

impl Outlets {
    /// A registry for `products` products whose queues hold `capacity` frames each (at least
    /// one).
    pub fn new(products: usize, capacity: usize, want_all: bool) -> Outlets {
        Outlets {
            open: RwLock::new(Vec::new()),
            products,
            capacity: capacity.max(1),
            want_all,
        }
    }

    /// The frames each queue holds.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Registers a new connection's queue; it is unregistered when the returned [`Inlet`] drops.
    /// It wants no product yet (every product with `want_all`), and gets every heartbeat.
    pub fn open(self: &Arc<Self>, id: u64) -> Inlet {
        let (tx, rx) = mpsc::channel(self.capacity);
        let outlet = Arc::new(Outlet {
            id,
            tx,
            wants: (0..self.products)
                .map(|_| AtomicBool::new(self.want_all))
                .collect(),
            overflowed: AtomicBool::new(false),
            wake: Notify::new(),
        });
        self.write().push(outlet.clone());
        Inlet {
            rx,
            outlet,
            registry: self.clone(),
        }
    }

    /// Queues `out` for every outlet that wants it, never waiting: an outlet whose queue is full
    /// is marked overflowed and gets nothing more. A product's frame must be published under that
    /// product's market lock (see the module comment).
    pub fn publish(&self, out: Outgoing) {
        let out = Arc::new(out);
        let open = self.open.read().unwrap_or_else(PoisonError::into_inner);
        for outlet in open.iter() {
            let wanted = match out.product {
                None => true,
                Some(p) => outlet
                    .wants
                    .get(p)
                    .is_some_and(|w| w.load(Ordering::SeqCst)),
            };
            if !wanted || outlet.overflowed.load(Ordering::SeqCst) {
                continue;
            }
            match outlet.tx.try_send(out.clone()) {
                Ok(()) => {}
                Err(TrySendError::Full(_)) => {
                    outlet.overflowed.store(true, Ordering::SeqCst);
                    outlet.wake.notify_one();
                }
                // The connection has let go of its queue and is about to unregister.
                Err(TrySendError::Closed(_)) => {}
            }
        }
    }

    /// How many connections are registered.
    #[cfg(test)]
    fn registered(&self) -> usize {
        self.open
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Vec<Arc<Outlet>>> {
        // Nothing panics while holding the lock in a way that leaves the list inconsistent.
        self.open.write().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A connection's end of its queue. Dropping it unregisters the queue.
#[derive(Debug)]
pub struct Inlet {
    rx: mpsc::Receiver<Arc<Outgoing>>,
    outlet: Arc<Outlet>,
    registry: Arc<Outlets>,
}

impl Inlet {
    /// From now on, queue `product`'s frames. Call it before taking the product's snapshot.
    pub fn want(&self, product: usize) {
        if let Some(w) = self.outlet.wants.get(product) {
            w.store(true, Ordering::SeqCst);
        }
    }

    /// Stop queueing `product`'s frames (unless every product is wanted, `want_all`). Frames
    /// already queued stay queued.
    pub fn unwant(&self, product: usize) {
        if self.registry.want_all {
            return;
        }
        if let Some(w) = self.outlet.wants.get(product) {
            w.store(false, Ordering::SeqCst);
        }
    }

    /// Whether `product`'s frames are queued.
    #[cfg(test)]
    fn wants(&self, product: usize) -> bool {
        self.outlet
            .wants
            .get(product)
            .is_some_and(|w| w.load(Ordering::SeqCst))
    }

    /// Unregisters the queue and lets go of what it holds (a stalled connection reads nothing
    /// more); [`Inlet::recv`] then reports [`Lost::Closed`].
    pub fn release(&mut self) {
        let id = self.outlet.id;
        self.registry.write().retain(|o| o.id != id);
        self.rx.close();
        while self.rx.try_recv().is_ok() {}
    }

    /// The next frame, waiting for one. Cancel-safe (a `select!` branch loses nothing).
    pub async fn recv(&mut self) -> Result<Arc<Outgoing>, Lost> {
        self.check()?;
        let out = self.rx.recv().await.ok_or(Lost::Closed)?;
        // A frame behind a lost one must not be forwarded: the client would see no gap.
        self.check()?;
        Ok(out)
    }

    /// The next frame if one is queued.
    pub fn try_recv(&mut self) -> Result<Option<Arc<Outgoing>>, Lost> {
        self.check()?;
        match self.rx.try_recv() {
            Ok(out) => Ok(Some(out)),
            Err(TryRecvError::Empty) => Ok(None),
            Err(TryRecvError::Disconnected) => Err(Lost::Closed),
        }
    }

    /// Completes once the queue has overflowed (never, if it does not), so that a connection
    /// waiting on a socket its client does not read can be dropped by its backlog at once.
    pub async fn overflowed(&self) {
        while !self.outlet.overflowed.load(Ordering::SeqCst) {
            // A wake-up sent before this wait is kept (`notify_one`), so none is missed.
            self.outlet.wake.notified().await;
        }
    }

    fn check(&self) -> Result<(), Lost> {
        if self.outlet.overflowed.load(Ordering::SeqCst) {
            Err(Lost::Overflowed)
        } else {
            Ok(())
        }
    }
}

impl Drop for Inlet {
    fn drop(&mut self) {
        let id = self.outlet.id;
        self.registry.write().retain(|o| o.id != id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::protocol::Channel;

    fn frame(product: Option<usize>, version: u64) -> Outgoing {
        Outgoing {
            channel: match product {
                Some(_) => Channel::Level2,
                None => Channel::Heartbeats,
            },
            product,
            version,
            timestamp: String::new(),
            events: String::new(),
        }
    }

    fn drain(inlet: &mut Inlet) -> Result<Vec<(Option<usize>, u64)>, Lost> {
        let mut got = Vec::new();
        while let Some(out) = inlet.try_recv()? {
            got.push((out.product, out.version));
        }
        Ok(got)
    }

    #[test]
    fn a_product_frame_goes_only_to_the_outlets_that_want_it_and_heartbeats_to_all() {
        let outlets = Arc::new(Outlets::new(3, 16, false));
        let mut a = outlets.open(1);
        let mut b = outlets.open(2);
        a.want(0);
        b.want(2);
        for p in 0..3 {
            outlets.publish(frame(Some(p), 7));
        }
        outlets.publish(frame(None, 0));
        assert_eq!(drain(&mut a), Ok(vec![(Some(0), 7), (None, 0)]));
        assert_eq!(drain(&mut b), Ok(vec![(Some(2), 7), (None, 0)]));
        b.unwant(2);
        outlets.publish(frame(Some(2), 8));
        assert_eq!(drain(&mut b), Ok(vec![]));
    }

    #[test]
    fn want_all_outlets_get_every_product_and_keep_them() {
        let outlets = Arc::new(Outlets::new(2, 16, true));
        let mut a = outlets.open(1);
        a.unwant(1);
        assert!(a.wants(0) && a.wants(1));
        outlets.publish(frame(Some(1), 3));
        assert_eq!(drain(&mut a), Ok(vec![(Some(1), 3)]));
    }

    #[test]
    fn a_full_queue_overflows_that_outlet_only() {
        let outlets = Arc::new(Outlets::new(2, 4, false));
        let mut slow = outlets.open(1);
        let mut busy_elsewhere = outlets.open(2);
        slow.want(0);
        busy_elsewhere.want(1);
        // Product 1's traffic alone would fill a shared queue of four many times over.
        for v in 0..100 {
            outlets.publish(frame(Some(1), v));
            let got = drain(&mut busy_elsewhere).expect("never overflows");
            assert_eq!(got, vec![(Some(1), v)]);
        }
        for v in 0..4 {
            outlets.publish(frame(Some(0), v));
        }
        assert_eq!(slow.try_recv().map(|o| o.is_some()), Ok(true));
        // Room for one more: the fifth fits, the sixth overflows the queue.
        for v in 4..7 {
            outlets.publish(frame(Some(0), v));
        }
        assert_eq!(slow.try_recv().map(|_| ()), Err(Lost::Overflowed));
        assert_eq!(drain(&mut busy_elsewhere), Ok(vec![]));
    }

    #[test]
    fn dropping_an_inlet_unregisters_its_queue() {
        let outlets = Arc::new(Outlets::new(1, 4, false));
        let a = outlets.open(1);
        let b = outlets.open(2);
        assert_eq!(outlets.registered(), 2);
        drop(a);
        assert_eq!(outlets.registered(), 1);
        drop(b);
        assert_eq!(outlets.registered(), 0);
        // Publishing to nobody is fine.
        outlets.publish(frame(None, 0));
    }

    #[tokio::test]
    async fn recv_waits_for_a_frame_and_reports_an_overflow_before_the_frames_behind_it() {
        let outlets = Arc::new(Outlets::new(1, 2, false));
        let mut a = outlets.open(1);
        a.want(0);
        let publisher = {
            let outlets = outlets.clone();
            tokio::spawn(async move { outlets.publish(frame(Some(0), 1)) })
        };
        let got = a.recv().await.map(|o| o.version);
        assert_eq!(got, Ok(1));
        publisher.await.expect("publisher");
        for v in 2..5 {
            outlets.publish(frame(Some(0), v));
        }
        assert_eq!(a.recv().await.map(|_| ()), Err(Lost::Overflowed));
    }
}
