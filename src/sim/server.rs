//! The listening side: shared server state, the accept loop, and TLS.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::time::timeout;
use tokio_rustls::TlsAcceptor;

use super::clock::ServerClock;
use super::config::SimConfig;
use super::connection;
use super::limits::RateWindow;
use super::log::SimLog;
use super::market::Market;
use super::outlets::Outlets;
use super::protocol::{Channel, served_id};

/// A TLS handshake that takes longer than this is abandoned.
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// One product's market, shared by every connection.
pub struct ProductState {
    pub id: String,
    market: Mutex<Market>,
}

impl ProductState {
    pub fn new(market: Market) -> ProductState {
        ProductState {
            id: market.spec.id.clone(),
            market: Mutex::new(market),
        }
    }

    /// The market, locked. Never held across an await.
    pub fn lock(&self) -> MutexGuard<'_, Market> {
        // A panic while holding the lock cannot leave the book half-updated in a way that
        // matters more than stopping the server would, so a poisoned lock is still used.
        self.market.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl std::fmt::Debug for ProductState {
    // The whole book would be thousands of lines: name the product only.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProductState")
            .field("id", &self.id)
            .finish()
    }
}

/// What every task of one server shares.
#[derive(Debug)]
pub struct Shared {
    pub config: SimConfig,
    pub clock: ServerClock,
    pub products: Vec<ProductState>,
    /// Every open connection's queue of market frames; the publisher fans frames out to them.
    pub outlets: Arc<Outlets>,
    pub shutdown: watch::Receiver<bool>,
    pub log: SimLog,
    pub next_connection: AtomicU64,
    pub open_connections: AtomicUsize,
    /// `--max-connections-per-sec`: WebSocket upgrades admitted in the last second.
    pub connection_rate: Mutex<RateWindow>,
    /// `--max-unauth-messages-per-sec`: messages without a JWT admitted in the last second.
    pub message_rate: Mutex<RateWindow>,
    /// Upgrades refused with HTTP 429, for the log and [`super::SimHandle::refused_connections`].
    pub refused_connections: AtomicU64,
    /// Messages refused by `--max-unauth-messages-per-sec`.
    pub refused_messages: AtomicU64,
    /// Every trusted key's orders, for the `user` channel.
    pub accounts: super::orders::Accounts,
}

impl Shared {
    /// `--stop-updates-after` has passed: the markets no longer change, and the sequence faults
    /// (gaps, duplicates, late frames) stop too, so that a client's books settle and can be
    /// compared with the simulator's (docs/sim.md, "Faults").
    pub fn frozen(&self) -> bool {
        self.config
            .stop_updates_after
            .is_some_and(|after| std::time::Instant::now() >= self.clock.started() + after)
    }

    /// The index of a product the server simulates.
    pub fn product_index(&self, id: &str) -> Option<usize> {
        self.products.iter().position(|p| p.id == id)
    }

    /// The product whose data `channel` serves for a requested id: with `-USDC` aliasing on,
    /// `BTC-USDC` is served as `BTC-USD` on every channel but `user` (docs/sim.md, "-USDC
    /// aliasing"; the rule is [`crate::product_id::served_as`]).
    pub fn served_id<'a>(&self, channel: Channel, id: &'a str) -> &'a str {
        served_id(self.config.usdc_alias, channel, id)
    }

    /// The index of the product `channel` serves for a requested id.
    pub fn served_index(&self, channel: Channel, id: &str) -> Option<usize> {
        self.product_index(self.served_id(channel, id))
    }

    /// Whether a new WebSocket connection is within `--max-connections-per-sec`; a refusal is
    /// counted.
    pub fn admit_connection(&self) -> bool {
        let admitted = lock(&self.connection_rate).admit(std::time::Instant::now());
        if !admitted {
            self.refused_connections.fetch_add(1, Ordering::SeqCst);
        }
        admitted
    }

    /// Whether a message without a JWT is within `--max-unauth-messages-per-sec`; a refusal is
    /// counted.
    pub fn admit_unauthenticated_message(&self) -> bool {
        let admitted = lock(&self.message_rate).admit(std::time::Instant::now());
        if !admitted {
            self.refused_messages.fetch_add(1, Ordering::SeqCst);
        }
        admitted
    }
}

/// A lock never held across an await or a panic that matters (see [`ProductState::lock`]).
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Counts a connection as open for as long as it lives.
pub struct OpenGuard(Arc<Shared>);

impl OpenGuard {
    pub fn new(shared: Arc<Shared>) -> OpenGuard {
        shared.open_connections.fetch_add(1, Ordering::SeqCst);
        OpenGuard(shared)
    }
}

impl Drop for OpenGuard {
    fn drop(&mut self) {
        self.0.open_connections.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Accepts connections until shutdown; each one gets its own task.
pub async fn accept_loop(shared: Arc<Shared>, listener: TcpListener) {
    let acceptor = shared.config.tls.clone().map(TlsAcceptor::from);
    let mut shutdown = shared.shutdown.clone();
    loop {
        let accepted = tokio::select! {
            _ = shutdown.changed() => return,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((tcp, peer)) => {
                // Latency matters more than packet count on a market feed.
                let _ = tcp.set_nodelay(true);
                let id = shared.next_connection.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(handle(shared.clone(), tcp, peer, id, acceptor.clone()));
            }
            Err(e) => {
                shared
                    .log
                    .line(format_args!("accept failed: {e}; retrying"));
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

async fn handle(
    shared: Arc<Shared>,
    tcp: TcpStream,
    peer: SocketAddr,
    id: u64,
    acceptor: Option<TlsAcceptor>,
) {
    let Some(acceptor) = acceptor else {
        connection::serve(shared, tcp, peer, id, "ws").await;
        return;
    };
    match timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
        Ok(Ok(tls)) => connection::serve(shared, tls, peer, id, "wss").await,
        Ok(Err(e)) => shared.log.line(format_args!(
            "connection {id} from {peer} refused: TLS handshake failed: {e}"
        )),
        Err(_) => shared.log.line(format_args!(
            "connection {id} from {peer} refused: no TLS handshake within {} s",
            TLS_HANDSHAKE_TIMEOUT.as_secs()
        )),
    }
}
