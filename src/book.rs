//! The exact level-2 order book.
