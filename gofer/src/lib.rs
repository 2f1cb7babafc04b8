//! Gofer protocol.
