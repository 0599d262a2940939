//! A product's health badge (CONNECTING, LIVE, STALE, RESYNC, CROSSED, AUTH-ERR, DOWN, and END for a
//! finished replay), derived from the feed's view: the connection, the book state, the age of the
//! last frame and the auth outcome.

use crate::feed::events::{BookState, ConnectionState, FeedView, ProductView};

/// A live book with no frame for this long is shown as STALE (heartbeats come every second).
pub const STALE_MS: i64 = 3_000;

/// A product's health, as its tab badge says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Health {
    Connecting,
    Live,
    Stale,
    Resync,
    /// The book is crossed (best bid at or above best ask): suspect, a fresh snapshot is asked for.
    Crossed,
    AuthError,
    Down,
    /// A replay reached the end of its recording: the book is as recorded at the end.
    Ended,
}

impl Health {
    pub fn label(self) -> &'static str {
        match self {
            Health::Connecting => "CONNECTING",
            Health::Live => "LIVE",
            Health::Stale => "STALE",
            Health::Resync => "RESYNC",
            Health::Crossed => "CROSSED",
            Health::AuthError => "AUTH-ERR",
            Health::Down => "DOWN",
            Health::Ended => "END",
        }
    }
}

/// The server refused the key on the current connection (and the feed did not fall back).
pub fn auth_refused(view: &FeedView) -> bool {
    let Some(error) = &view.auth.last_error else {
        return false;
    };
    let since = view.stats.connected_since_ms.unwrap_or(i64::MIN);
    // After a retry with the server's clock the refusal is settled: signed, or fell back.
    error.is_auth_failure()
        && error.at_ms >= since
        && !view.auth.fell_back_to_public
        && !view.auth.clock_retried
}

/// The server refused to subscribe this product (e.g. "FOO-BAR is not a valid product").
fn product_refused(view: &FeedView, product: &str) -> bool {
    view.auth
        .last_error
        .as_ref()
        .is_some_and(|error| error.refuses_product(product))
}

/// The level2 subscribe was refused on the current connection and never acknowledged: it names
/// every product in one message, so no product gets data (the server refuses it whole when one
/// product is unknown). A refusal that named products is not this: the feed marked them
/// [`BookState::Refused`] and asked again for the others.
pub fn level2_refused(view: &FeedView) -> bool {
    let since = view.stats.connected_since_ms.unwrap_or(i64::MIN);
    view.auth.last_error.as_ref().is_some_and(|error| {
        error.is_subscribe_failure()
            && error.at_ms >= since
            && !view
                .products
                .iter()
                .any(|p| p.state == BookState::Refused && error.refuses_product(&p.product))
    }) && !view.auth.acknowledged.contains_key("level2")
}

fn acknowledged(view: &FeedView, product: &str) -> bool {
    view.auth
        .acknowledged
        .get("level2")
        .is_some_and(|products| products.iter().any(|p| p == product))
}

/// Derives a product's badge from the connection, its book state, the age of the last frame and
/// the auth outcome. A finished feed is DOWN here; the viewer of a replay shows END instead
/// (`App::health_of`), since only it knows the feed was a recording.
pub fn health(view: &FeedView, product: &ProductView, now_ms: i64) -> Health {
    match view.connection {
        ConnectionState::Reconnecting { .. } | ConnectionState::Finished => Health::Down,
        ConnectionState::Connecting { .. } => Health::Connecting,
        ConnectionState::Connected | ConnectionState::Subscribed | ConnectionState::Replaying => {
            match product.state {
                BookState::Waiting
                    if product_refused(view, &product.product) || level2_refused(view) =>
                {
                    Health::Down
                }
                BookState::Waiting
                    if auth_refused(view) && !acknowledged(view, &product.product) =>
                {
                    Health::AuthError
                }
                BookState::Waiting => Health::Connecting,
                BookState::Refused => Health::Down,
                BookState::Desynced => Health::Resync,
                BookState::Crossed => Health::Crossed,
                BookState::Live => {
                    let replaying = view.connection == ConnectionState::Replaying;
                    let age = view.stats.last_frame_ms.map(|t| now_ms - t);
                    if !replaying && age.is_none_or(|age| age > STALE_MS) {
                        Health::Stale
                    } else {
                        Health::Live
                    }
                }
            }
        }
    }
}
