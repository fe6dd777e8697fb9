//! The `Object` trait — one per NT object type, "no state" by default —
//! and the store that owns every live object.

use std::any::Any;
use std::fmt;

use switchboard_types::security::{GenericMapping, SecurityDescriptor};
use switchboard_types::{NamespacePath, ObjectKind};

/// An object's slot in the store. Reused after the object is freed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectId(pub u32);

/// One object type. Each type implements only what it is; the defaults say
/// "not waitable" and "no state".
pub trait Object: Any + fmt::Debug + Send {
    /// The type.
    fn kind(&self) -> ObjectKind;

    /// What the generic rights mean for this type.
    fn mapping(&self) -> GenericMapping;

    /// The state in words, for `show`.
    fn describe(&self) -> String {
        String::new()
    }

    /// Threads asleep on it now (for `show`).
    fn waiters(&self) -> u32 {
        0
    }

    /// For type-specific requests.
    fn as_any_mut(&mut self) -> &mut dyn Any;
}

/// The object as its concrete type, if it is one.
pub fn downcast<T: Object>(object: &dyn Object) -> Option<&T> {
    (object as &dyn Any).downcast_ref::<T>()
}

/// A live object and its bookkeeping.
#[derive(Debug)]
pub struct Entry {
    /// The object itself.
    pub object: Box<dyn Object>,
    /// Its namespace path while it has a name.
    pub path: Option<NamespacePath>,
    /// Who may do what with it.
    pub security: SecurityDescriptor,
    /// Open handles, all processes together.
    pub handles: u32,
}

impl Entry {
    /// Whether nothing refers to it any more.
    pub fn unreferenced(&self) -> bool {
        self.handles == 0
    }
}

/// Every live object, by id.
#[derive(Debug, Default)]
pub struct Store {
    slots: Vec<Option<Entry>>,
    free: Vec<u32>,
    live: usize,
}

impl Store {
    /// Adds an object with no handles yet.
    pub fn insert(&mut self, entry: Entry) -> ObjectId {
        self.live += 1;
        if let Some(i) = self.free.pop() {
            self.slots[i as usize] = Some(entry);
            ObjectId(i)
        } else {
            self.slots.push(Some(entry));
            ObjectId((self.slots.len() - 1) as u32)
        }
    }

    /// The object, if live.
    pub fn get(&self, id: ObjectId) -> Option<&Entry> {
        self.slots.get(id.0 as usize)?.as_ref()
    }

    /// The object, if live.
    pub fn get_mut(&mut self, id: ObjectId) -> Option<&mut Entry> {
        self.slots.get_mut(id.0 as usize)?.as_mut()
    }

    /// Frees the slot.
    pub fn remove(&mut self, id: ObjectId) -> Option<Entry> {
        let entry = self.slots.get_mut(id.0 as usize)?.take()?;
        self.free.push(id.0);
        self.live -= 1;
        Some(entry)
    }

    /// Live objects.
    pub fn iter(&self) -> impl Iterator<Item = (ObjectId, &Entry)> {
        self.slots.iter().enumerate().filter_map(|(i, e)| e.as_ref().map(|e| (ObjectId(i as u32), e)))
    }

    /// How many objects are live.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.live
    }
}
