//! What a client call returns and how it fails, and [`Call`], the
//! connection the stubs `#[interface]` generates call through: a
//! transport's blocking client, or [`InProcess`] straight into a server.

use std::fmt;
use std::io;

use crate::DataRep;
use crate::ndr::NdrError;

/// Why a call failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The connection failed (or timed out: `ErrorKind::TimedOut`/`WouldBlock`).
    Io(io::Error),
    /// The server refused the bind (`bind_nak`, or the context was rejected).
    BindRefused(String),
    /// The server answered with a fault.
    Fault {
        /// The operation.
        opnum: u16,
        /// The fault status (`nca_s_op_rng_error` 0x1C010002, …).
        status: u32,
    },
    /// The server sent something that is not a well-formed answer.
    Protocol(String),
    /// No answer within the call's timeout (the connection is dropped).
    Timeout {
        /// The operation.
        opnum: u16,
    },
    /// The call was cancelled from another thread (the connection is dropped).
    Cancelled {
        /// The operation.
        opnum: u16,
    },
    /// The reply's stub data could not be read.
    Reply {
        /// The operation.
        opnum: u16,
        /// What was wrong.
        error: NdrError,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io(e) => write!(f, "rpc connection: {e}"),
            Self::BindRefused(why) => write!(f, "rpc bind refused: {why}"),
            Self::Fault { opnum, status } => write!(f, "rpc call of operation {opnum}: fault 0x{status:08x}"),
            Self::Protocol(why) => write!(f, "rpc protocol error: {why}"),
            Self::Reply { opnum, error } => write!(f, "rpc reply to operation {opnum}: {error}"),
            Self::Timeout { opnum } => write!(f, "rpc call of operation {opnum}: no answer within the timeout"),
            Self::Cancelled { opnum } => write!(f, "rpc call of operation {opnum}: cancelled"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Io(e) => Some(e),
            Self::Reply { error, .. } => Some(error),
            _ => None,
        }
    }
}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Self {
        Self::Io(e)
    }
}

/// A reply's stub data and the byte order it was written in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    /// The stub data, all fragments together.
    pub stub: Vec<u8>,
    /// Its data representation (receiver makes right).
    pub drep: DataRep,
}

/// A connection bound to one interface that calls can go over: what the
/// stubs `#[interface]` generates call.
pub trait Call {
    /// Calls operation `opnum` with NDR20 stub data.
    fn call(&mut self, opnum: u16, stub: Vec<u8>) -> Result<Reply, Error>;
}

/// Calls straight into a server-side [`crate::server::Interface`] in this
/// process, through the same stub data as on the wire: for tests, and to
/// call a local implementation through its generated client.
#[derive(Debug)]
pub struct InProcess<I>(pub I);

impl<I: crate::server::Interface> Call for InProcess<I> {
    fn call(&mut self, opnum: u16, stub: Vec<u8>) -> Result<Reply, Error> {
        match self.0.call(opnum, &stub, DataRep::NATIVE) {
            Ok(stub) => Ok(Reply { stub, drep: DataRep::NATIVE }),
            Err(status) => Err(Error::Fault { opnum, status }),
        }
    }
}
