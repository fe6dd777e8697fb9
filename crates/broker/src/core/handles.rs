//! One client's handle table. Handles are multiples of 4; the low two bits
//! are ignored on lookup, as on Windows; freed slots are reused.

use switchboard_types::Handle;
use switchboard_types::security::AccessMask;

use super::objects::ObjectId;

/// What a handle refers to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HandleEntry {
    /// The object.
    pub object: ObjectId,
    /// The access granted when it was opened.
    pub access: AccessMask,
}

/// A process's handles.
#[derive(Debug, Default)]
pub struct HandleTable {
    slots: Vec<Option<HandleEntry>>,
    free: Vec<u32>,
    count: usize,
}

impl HandleTable {
    /// Adds a handle; `None` when the table already holds `limit` handles.
    pub fn insert(&mut self, entry: HandleEntry, limit: usize) -> Option<Handle> {
        if self.count >= limit {
            return None;
        }
        self.count += 1;
        // Reuse the lowest free slot, as Windows hands out low handle values first.
        if let Some(pos) = self.free.iter().enumerate().min_by_key(|(_, i)| **i).map(|(pos, _)| pos) {
            let index = self.free.swap_remove(pos);
            self.slots[index as usize] = Some(entry);
            return Some(Handle::from_index(index));
        }
        self.slots.push(Some(entry));
        Some(Handle::from_index((self.slots.len() - 1) as u32))
    }

    /// The entry behind a handle.
    pub fn get(&self, handle: Handle) -> Option<HandleEntry> {
        *self.slots.get(handle.index()? as usize)?
    }

    /// Removes a handle, returning what it referred to.
    pub fn remove(&mut self, handle: Handle) -> Option<HandleEntry> {
        let index = handle.index()?;
        let entry = self.slots.get_mut(index as usize)?.take()?;
        self.free.push(index);
        self.count -= 1;
        Some(entry)
    }

    /// Removes every handle (the process is gone).
    pub fn drain(&mut self) -> Vec<(Handle, HandleEntry)> {
        let out = self.iter().collect();
        self.slots.clear();
        self.free.clear();
        self.count = 0;
        out
    }

    /// Every handle, in handle order.
    pub fn iter(&self) -> impl Iterator<Item = (Handle, HandleEntry)> + '_ {
        self.slots.iter().enumerate().filter_map(|(i, e)| e.map(|e| (Handle::from_index(i as u32), e)))
    }

    /// How many handles are open.
    pub fn len(&self) -> usize {
        self.count
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(i: u32) -> HandleEntry {
        HandleEntry { object: ObjectId(i), access: AccessMask(0) }
    }

    #[test]
    fn handles_are_nonzero_multiples_of_four() {
        let mut t = HandleTable::default();
        for i in 0..10 {
            let h = t.insert(entry(i), 100).unwrap();
            assert!(h.0 != 0 && h.0 % 4 == 0, "{h:?}");
        }
    }

    #[test]
    fn low_bits_are_ignored_on_lookup() {
        let mut t = HandleTable::default();
        let h = t.insert(entry(1), 100).unwrap();
        assert_eq!(t.get(Handle(h.0 | 3)), Some(entry(1)));
        assert_eq!(t.get(Handle(0)), None);
        assert_eq!(t.get(Handle(3)), None);
    }

    #[test]
    fn closing_twice_fails_the_second_time() {
        let mut t = HandleTable::default();
        let h = t.insert(entry(1), 100).unwrap();
        assert!(t.remove(h).is_some());
        assert!(t.remove(h).is_none());
    }

    #[test]
    fn limit_is_enforced_and_freed_slots_are_reused() {
        let mut t = HandleTable::default();
        let a = t.insert(entry(1), 2).unwrap();
        t.insert(entry(2), 2).unwrap();
        assert!(t.insert(entry(3), 2).is_none());
        t.remove(a);
        assert_eq!(t.insert(entry(4), 2), Some(a));
    }
}
