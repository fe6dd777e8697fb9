//! Events: manual-reset or auto-reset, set, reset, pulse.

use std::any::Any;

use switchboard_types::ObjectKind;
use switchboard_types::security::{AccessMask, GenericMapping};

use super::objects::{Acquired, Object};

/// `EVENT_QUERY_STATE`.
pub const EVENT_QUERY_STATE: u32 = 0x0001;
/// `EVENT_MODIFY_STATE`: needed to set, reset or pulse.
pub const EVENT_MODIFY_STATE: u32 = 0x0002;
/// `EVENT_ALL_ACCESS`.
pub const EVENT_ALL_ACCESS: u32 = 0x001F_0003;

/// The generic mapping of events, as Windows defines it.
pub const EVENT_MAPPING: GenericMapping = GenericMapping {
    read: AccessMask(AccessMask::READ_CONTROL.0 | EVENT_QUERY_STATE),
    write: AccessMask(AccessMask::READ_CONTROL.0 | EVENT_MODIFY_STATE),
    execute: AccessMask(AccessMask::READ_CONTROL.0 | AccessMask::SYNCHRONIZE.0),
    all: AccessMask(EVENT_ALL_ACCESS),
};

/// An event's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Event {
    /// Stays signaled until reset (else one satisfied wait resets it).
    pub manual_reset: bool,
    /// Signaled now.
    pub signaled: bool,
}

impl Object for Event {
    fn kind(&self) -> ObjectKind {
        ObjectKind::Event
    }

    fn mapping(&self) -> GenericMapping {
        EVENT_MAPPING
    }

    fn is_waitable(&self) -> bool {
        true
    }

    fn is_signaled(&self) -> bool {
        self.signaled
    }

    fn satisfy_wait(&mut self) -> Acquired {
        if !self.manual_reset {
            self.signaled = false;
        }
        Acquired::Normal
    }

    fn describe(&self) -> String {
        format!(
            "{}, {}",
            if self.signaled { "signaled" } else { "not signaled" },
            if self.manual_reset { "manual-reset" } else { "auto-reset" }
        )
    }

    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
}
