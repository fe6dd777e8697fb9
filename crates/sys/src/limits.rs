//! Process limits.

/// Raises the soft limit on open descriptors to the hard limit, as servers
/// do: a broker holds a socket per client and two per pipe connection.
/// Returns the limit now in force.
pub fn raise_fd_limit() -> u64 {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let mut limit = getrlimit(Resource::Nofile);
    if let Some(hard) = limit.maximum
        && limit.current.is_some_and(|soft| soft < hard)
    {
        limit.current = Some(hard);
        let _ = setrlimit(Resource::Nofile, limit);
    }
    getrlimit(Resource::Nofile).current.unwrap_or(u64::MAX)
}

/// The limit on open descriptors in force now (the soft limit).
pub fn fd_limit() -> u64 {
    rustix::process::getrlimit(rustix::process::Resource::Nofile).current.unwrap_or(u64::MAX)
}

/// Gives memory the allocator holds but no longer uses back to the system
/// (`malloc_trim`), as a server does after a burst: a client that queued
/// megabytes of replies and left should not leave the broker that large.
pub fn give_back_memory() {
    // SAFETY: malloc_trim only releases free memory at the top of glibc's
    // heaps and arenas; it touches no memory that is in use, takes no
    // pointer, and is safe to call from any thread at any time.
    #[allow(unsafe_code)]
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_soft_limit_reaches_the_hard_one() {
        let now = super::raise_fd_limit();
        let hard = rustix::process::getrlimit(rustix::process::Resource::Nofile).maximum.unwrap_or(u64::MAX);
        assert_eq!(now, hard);
    }
}
