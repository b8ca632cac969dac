//! The entry API of [`SplitMap`](super::SplitMap): std's `Entry`, `OccupiedEntry` and
//! `VacantEntry`.
//!
//! The map makes room for an absent key before it hands out a vacant entry (splitting the
//! key's table if it is full), so inserting through the entry never grows a table.

use std::fmt::{self, Debug};
use std::hash::RandomState;
use std::marker::PhantomData;

use hashbrown::hash_table;

use crate::policy;
use crate::stats::MapCell;

/// A view into a single entry of a [`SplitMap`](super::SplitMap), vacant or occupied.
pub enum Entry<'a, K, V, S = RandomState> {
    /// The key is present.
    Occupied(OccupiedEntry<'a, K, V, S>),
    /// The key is absent.
    Vacant(VacantEntry<'a, K, V, S>),
}

/// A view into an occupied entry of a [`SplitMap`](super::SplitMap).
pub struct OccupiedEntry<'a, K, V, S = RandomState> {
    inner: hash_table::OccupiedEntry<'a, (K, V)>,
    cell: Option<&'a MapCell>,
    len: &'a mut usize,
    _hasher: PhantomData<&'a S>,
}

/// A view into a vacant entry of a [`SplitMap`](super::SplitMap).
pub struct VacantEntry<'a, K, V, S = RandomState> {
    inner: hash_table::VacantEntry<'a, (K, V)>,
    key: K,
    cell: Option<&'a MapCell>,
    len: &'a mut usize,
    _hasher: PhantomData<&'a S>,
}

impl<'a, K, V, S> OccupiedEntry<'a, K, V, S> {
    pub(super) fn new(
        inner: hash_table::OccupiedEntry<'a, (K, V)>,
        cell: Option<&'a MapCell>,
        len: &'a mut usize,
    ) -> Self {
        OccupiedEntry {
            inner,
            cell,
            len,
            _hasher: PhantomData,
        }
    }
}

impl<'a, K, V, S> VacantEntry<'a, K, V, S> {
    pub(super) fn new(
        inner: hash_table::VacantEntry<'a, (K, V)>,
        key: K,
        cell: Option<&'a MapCell>,
        len: &'a mut usize,
    ) -> Self {
        VacantEntry {
            inner,
            key,
            cell,
            len,
            _hasher: PhantomData,
        }
    }
}

impl<'a, K, V, S> Entry<'a, K, V, S> {
    entry_inserting_methods!(SplitMap);
    entry_key_methods!();
}

impl<'a, K, V: Default, S> Entry<'a, K, V, S> {
    entry_default_method!();
}

impl<'a, K, V, S> OccupiedEntry<'a, K, V, S> {
    /// The entry's key.
    #[inline]
    pub fn key(&self) -> &K {
        &self.inner.get().0
    }

    /// Removes the entry, returning its key and value.
    #[inline]
    pub fn remove_entry(self) -> (K, V) {
        let (kv, _) = self.inner.remove();
        *self.len -= 1;
        if let Some(c) = self.cell {
            let len = *self.len;
            if c.on_remove(len) {
                // A shrink waits for the next operation through the map; budgets re-arm now.
                let _ = policy::on_limit(c, len as u64);
            }
        }
        kv
    }

    /// The value.
    #[inline]
    pub fn get(&self) -> &V {
        &self.inner.get().1
    }

    /// A mutable reference to the value.
    #[inline]
    pub fn get_mut(&mut self) -> &mut V {
        &mut self.inner.get_mut().1
    }

    /// Converts the entry into a mutable reference to the value, living as long as the map's
    /// borrow.
    #[inline]
    pub fn into_mut(self) -> &'a mut V {
        &mut self.inner.into_mut().1
    }

    /// Replaces the value, returning the old one (counted as an update).
    #[inline]
    pub fn insert(&mut self, value: V) -> V {
        let old = std::mem::replace(self.get_mut(), value);
        if let Some(c) = self.cell {
            c.updates.add(1);
        }
        old
    }

    /// Removes the entry, returning its value.
    #[inline]
    pub fn remove(self) -> V {
        self.remove_entry().1
    }
}

impl<'a, K, V, S> VacantEntry<'a, K, V, S> {
    /// The key that would be inserted.
    #[inline]
    pub fn key(&self) -> &K {
        &self.key
    }

    /// Takes the key back.
    #[inline]
    pub fn into_key(self) -> K {
        self.key
    }

    /// Inserts the value; returns a mutable reference to it.
    #[inline]
    pub fn insert(self, value: V) -> &'a mut V {
        &mut self.insert_entry(value).inner.into_mut().1
    }

    /// Inserts the value and returns the occupied entry.
    #[inline]
    pub fn insert_entry(self, value: V) -> OccupiedEntry<'a, K, V, S> {
        let VacantEntry {
            inner,
            key,
            cell,
            len,
            ..
        } = self;
        // Counted before the insert, which cannot fail (`SplitMap::entry` made room for it),
        // so that the value is the last thing written before the caller reads it; a panic in
        // the policy check uncounts it (see `crate::entry::VacantEntry::count_insert`).
        let n = *len + 1;
        if let Some(c) = cell
            && c.on_insert()
        {
            let _ = policy::on_limit_before_insert(c, n as u64);
        }
        *len = n;
        let inner = inner.insert((key, value));
        OccupiedEntry::new(inner, cell, len)
    }
}

entry_debug_impls!();
