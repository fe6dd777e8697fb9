//! Waiting on a descriptor's readiness from tokio without a second
//! descriptor: [`Readiness`] registers the descriptor an owner already has
//! with the runtime (feature `tokio`; [`Stable`] is always there, so
//! owners can name it).
//!
//! tokio's `AsyncFd::register` is unsafe: the descriptor must stay open, and
//! the same, for as long as it is registered. [`Readiness`] keeps an `Arc` of
//! the owner beside the registration, and only owners that can neither close
//! nor replace their descriptor while shared ([`Stable`], sealed to std's own
//! types) are accepted.

use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::UnixStream;
#[cfg(feature = "tokio")]
use std::{
    io,
    os::fd::{AsRawFd, RawFd},
    sync::Arc,
};

#[cfg(feature = "tokio")]
use tokio::io::unix::AsyncFd;

mod sealed {
    pub trait Sealed {}
    impl Sealed for std::os::fd::OwnedFd {}
    impl Sealed for std::os::unix::net::UnixStream {}
}

/// An owner whose descriptor is fixed when it is made and closed only when
/// it is dropped: std's [`OwnedFd`] and [`UnixStream`].
pub trait Stable: AsFd + Send + Sync + std::fmt::Debug + sealed::Sealed {}

impl Stable for OwnedFd {}
impl Stable for UnixStream {}

/// The registered descriptor and what keeps it open.
#[cfg(feature = "tokio")]
#[derive(Debug)]
struct Held {
    _owner: Arc<dyn Stable>,
    fd: RawFd,
}

#[cfg(feature = "tokio")]
impl AsRawFd for Held {
    fn as_raw_fd(&self) -> RawFd {
        self.fd
    }
}

/// A descriptor registered with the current tokio runtime for readable and
/// writable readiness, for as long as this lives.
#[cfg(feature = "tokio")]
#[derive(Debug)]
pub struct Readiness {
    registered: AsyncFd<Held>,
}

#[cfg(feature = "tokio")]
impl Readiness {
    /// Registers `owner`'s descriptor with the current runtime (call it
    /// inside one). Fails if the descriptor is already registered there.
    pub fn register(owner: Arc<dyn Stable>) -> io::Result<Self> {
        let fd = owner.as_fd().as_raw_fd();
        let held = Held { _owner: owner, fd };
        // SAFETY: `fd` is the descriptor of the owner `held` keeps alive as
        // long as the registration (it is dropped after deregistering), and a
        // `Stable` owner neither closes nor replaces its descriptor while alive.
        #[allow(unsafe_code)]
        let registered = unsafe { AsyncFd::register(held) }?;
        Ok(Self { registered })
    }

    /// Waits until the descriptor is readable and `attempt` makes progress:
    /// `attempt` is called after each readiness event and returns `Ok(None)`
    /// when it would block, which clears the readiness and waits again.
    pub async fn read_with<R>(&self, mut attempt: impl FnMut() -> io::Result<Option<R>>) -> io::Result<R> {
        loop {
            let mut ready = self.registered.readable().await?;
            match attempt()? {
                Some(r) => return Ok(r),
                None => ready.clear_ready(),
            }
        }
    }

    /// As [`Self::read_with`], for writable readiness.
    pub async fn write_with<R>(&self, mut attempt: impl FnMut() -> io::Result<Option<R>>) -> io::Result<R> {
        loop {
            let mut ready = self.registered.writable().await?;
            match attempt()? {
                Some(r) => return Ok(r),
                None => ready.clear_ready(),
            }
        }
    }
}
