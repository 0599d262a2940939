//! Drawing the viewer: one file per pane.
