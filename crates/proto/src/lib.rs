//! The control protocol between a Switchboard client and its broker.
//!
//! Sans-IO: this crate turns messages into bytes and bytes into messages; the
//! broker's event loop and the client's connection do the reading and writing.
//!
//! A connection starts with the fixed-layout [`handshake`], then carries
//! length-prefixed [`frame`]s whose bodies are postcard-encoded
//! [`RequestFrame`]s (client to broker) and [`ReplyFrame`]s (broker to
//! client). Every request is declared once, in [`messages`], and everything
//! else — the [`Request`] and [`Reply`] enums, opcodes, the broker's
//! [`Handler`] trait and the client's [`Call`] typing — follows from that table.
#![forbid(unsafe_code)]

#[macro_use]
mod table;
pub mod frame;
pub mod handshake;
pub mod messages;

pub use frame::{FrameError, decode_body, encode_frame, split_frame};
pub use handshake::{HandshakeError, HandshakeReply, HandshakeStatus, Hello, PROTOCOL_VERSION};
pub use messages::*;
