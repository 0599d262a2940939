//! The user connection of a recording, replayed (docs/recording.md, "Your orders"): its `connect`
//! line says `"user":true`, and its frames rebuild the open orders and fills in a [`UserCore`],
//! as live, instead of going through a market core.

use super::Connections;
use crate::feed::core::UserCore;
use crate::feed::record::{Entry, USER_CONNECTION};
use crate::feed::user_events::UserView;

impl Connections {
    /// Whether `entry`, on connection `conn`, is the user connection's: on its index, or its
    /// `connect` (or `continued`) line says so, or an earlier one did for this index. (Lines of
    /// that index before its `connect` are ignored: they have no state to go to.)
    pub(super) fn is_user_entry(&self, conn: usize, entry: &Entry<'_>) -> bool {
        conn == USER_CONNECTION
            || match entry {
                Entry::Connect { info, .. } | Entry::Continued { info, .. } => info.user,
                _ => self.user_conn == Some(conn),
            }
    }

    /// One entry of the user connection, at `t_ms`.
    pub(super) fn user_entry(&mut self, conn: usize, entry: Entry<'_>, t_ms: i64) {
        match entry {
            Entry::Connect { info, .. } | Entry::Continued { info, .. } => {
                self.user_conn = Some(conn);
                self.user
                    .get_or_insert_with(|| UserCore::new(info.url.clone()))
                    .connection_started();
            }
            Entry::Frame { text, .. } => {
                let Some(user) = self.user.as_mut() else {
                    return;
                };
                let outcome = user.on_frame(&String::from_utf8_lossy(&text), t_ms);
                // Live resubscribed here; the recording holds the snapshot that followed.
                if outcome.resubscribe {
                    user.resubscribing();
                }
            }
            Entry::Resync { .. } => {
                if let Some(user) = self.user.as_mut() {
                    user.resubscribing();
                }
            }
            Entry::Disconnect { reason, .. } => {
                if let Some(user) = self.user.as_mut() {
                    user.reconnecting(&reason, t_ms, 0);
                }
            }
            // Live counted nothing for these on the user connection.
            Entry::Binary { .. } | Entry::Unread { .. } => {}
        }
    }

    /// Whether the recording has a user connection so far.
    pub fn has_user(&self) -> bool {
        self.user.is_some()
    }

    /// The user connection's state now, for a view.
    pub fn user_view(&self) -> Option<UserView> {
        self.user.as_ref().map(UserCore::view)
    }
}
