//! The viewer's state and how actions change it: pure, no I/O.
