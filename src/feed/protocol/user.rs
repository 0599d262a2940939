//! The events of the signed `user` channel (docs/feed.md, "Your orders"): a `snapshot` of the
//! open orders, sent in batches of 50 (several events or frames), then `update` events, one
//! order each or more. Every field but `order_id`, `status`, `product_id` and `order_side` may
//! be missing (older captures lack `limit_price`); numbers stay text here, the core makes them
//! exact decimals.

use serde::Deserialize;

/// The most orders one snapshot batch carries on the exchange ("open orders are returned in
/// the snapshot batched by 50"): a batch with fewer ends the snapshot.
pub const USER_SNAPSHOT_BATCH: usize = 50;

/// One `user` event: `snapshot` or `update`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct UserEvent {
    #[serde(rename = "type", default)]
    pub kind: String,
    /// `null` or absent is read as no orders (an empty snapshot).
    #[serde(default, deserialize_with = "null_as_empty")]
    pub orders: Vec<RawOrder>,
}

/// One order as Coinbase prints it. The four identifying fields are required by the core (an
/// order without them is counted as malformed and skipped); the rest are optional.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct RawOrder {
    pub order_id: Option<String>,
    pub client_order_id: Option<String>,
    pub product_id: Option<String>,
    pub order_side: Option<String>,
    pub order_type: Option<String>,
    pub status: Option<String>,
    pub limit_price: Option<String>,
    pub cumulative_quantity: Option<String>,
    pub leaves_quantity: Option<String>,
    pub avg_price: Option<String>,
    pub creation_time: Option<String>,
}

fn null_as_empty<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<RawOrder>, D::Error> {
    Ok(Option::<Vec<RawOrder>>::deserialize(d)?.unwrap_or_default())
}

/// The `events` array of a `user` frame; an array that is not one (or not JSON) is an error.
pub fn parse_user_events(events_json: &str) -> Result<Vec<UserEvent>, serde_json::Error> {
    serde_json::from_str(events_json)
}
