//! Iterator types of the governed map.
//!
//! The borrowing and consuming iterators are hashbrown's own (std's are the same code), so they
//! cost exactly what std's cost. [`ExtractIf`] wraps hashbrown's to count what it removes.

use std::fmt;
use std::iter::FusedIterator;

use crate::stats::MapCell;

/// An iterator over a map's entries: [`HashMap::iter`](crate::HashMap::iter).
pub type Iter<'a, K, V> = hashbrown::hash_map::Iter<'a, K, V>;
/// A mutable iterator over a map's entries: [`HashMap::iter_mut`](crate::HashMap::iter_mut).
pub type IterMut<'a, K, V> = hashbrown::hash_map::IterMut<'a, K, V>;
/// An iterator over a map's keys: [`HashMap::keys`](crate::HashMap::keys).
pub type Keys<'a, K, V> = hashbrown::hash_map::Keys<'a, K, V>;
/// An iterator over a map's values: [`HashMap::values`](crate::HashMap::values).
pub type Values<'a, K, V> = hashbrown::hash_map::Values<'a, K, V>;
/// A mutable iterator over a map's values: [`HashMap::values_mut`](crate::HashMap::values_mut).
pub type ValuesMut<'a, K, V> = hashbrown::hash_map::ValuesMut<'a, K, V>;
/// An owning iterator over a map's entries: `HashMap::into_iter`.
pub type IntoIter<K, V> = hashbrown::hash_map::IntoIter<K, V>;
/// An owning iterator over a map's keys: [`HashMap::into_keys`](crate::HashMap::into_keys).
pub type IntoKeys<K, V> = hashbrown::hash_map::IntoKeys<K, V>;
/// An owning iterator over a map's values: [`HashMap::into_values`](crate::HashMap::into_values).
pub type IntoValues<K, V> = hashbrown::hash_map::IntoValues<K, V>;

/// A draining iterator: [`HashMap::drain`](crate::HashMap::drain).
///
/// While it exists the map's table is held by the iterator (the map itself is empty and owns
/// no allocation); dropping it gives the table back, emptied. The map's `allocated_bytes`
/// follows: zero while draining, and zero afterwards if the table was never given back (the
/// iterator leaked, or a value's `Drop` panicked while it dropped the rest). A small map
/// without stats of its own publishes its table to its site at its next resize or its drop,
/// so there its site holds the old table until then.
pub struct Drain<'a, K, V> {
    inner: Option<hashbrown::hash_map::Drain<'a, K, V>>,
    cell: Option<&'a MapCell>,
    bytes: u64,
    capacity: u64,
}

impl<'a, K, V> Drain<'a, K, V> {
    pub(crate) fn new(
        inner: hashbrown::hash_map::Drain<'a, K, V>,
        cell: Option<&'a MapCell>,
    ) -> Self {
        let (bytes, capacity) = match cell {
            Some(c) => {
                let held = (c.bytes(), c.capacity());
                c.set_table(0, 0);
                held
            }
            None => (0, 0),
        };
        Drain {
            inner: Some(inner),
            cell,
            bytes,
            capacity,
        }
    }
}

impl<K, V> Drop for Drain<'_, K, V> {
    fn drop(&mut self) {
        // If dropping the remaining entries panics, hashbrown keeps the table: the lines below
        // are skipped and the map stays at zero bytes, which is then the truth.
        drop(self.inner.take());
        if let Some(c) = self.cell {
            c.set_table(self.bytes, self.capacity);
            if 0 < c.remove_watch.get() {
                // The map is empty: budgets re-arm; a shrink waits for the next operation.
                let _ = crate::policy::on_limit(c, 0);
            }
        }
    }
}

impl<K, V> Iterator for Drain<'_, K, V> {
    type Item = (K, V);

    #[inline]
    fn next(&mut self) -> Option<(K, V)> {
        self.inner.as_mut()?.next()
    }

    #[inline]
    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.as_ref().map_or((0, Some(0)), |i| i.size_hint())
    }
}

impl<K, V> ExactSizeIterator for Drain<'_, K, V> {
    #[inline]
    fn len(&self) -> usize {
        self.inner.as_ref().map_or(0, |i| i.len())
    }
}

impl<K, V> FusedIterator for Drain<'_, K, V> {}

impl<K: fmt::Debug, V: fmt::Debug> fmt::Debug for Drain<'_, K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.inner {
            Some(i) => fmt::Debug::fmt(i, f),
            None => f.write_str("[]"),
        }
    }
}

/// An iterator that removes and yields the entries a predicate selects:
/// [`HashMap::extract_if`](crate::HashMap::extract_if).
#[must_use = "iterators are lazy and do nothing unless consumed"]
pub struct ExtractIf<'a, K, V, F> {
    inner: hashbrown::hash_map::ExtractIf<'a, K, V, F>,
    cell: Option<&'a MapCell>,
    /// The map's length now.
    len: usize,
}

impl<'a, K, V, F> ExtractIf<'a, K, V, F> {
    pub(crate) fn new(
        inner: hashbrown::hash_map::ExtractIf<'a, K, V, F>,
        cell: Option<&'a MapCell>,
        len: usize,
    ) -> Self {
        ExtractIf { inner, cell, len }
    }
}

impl<K, V, F> Iterator for ExtractIf<'_, K, V, F>
where
    F: FnMut(&K, &mut V) -> bool,
{
    type Item = (K, V);

    #[inline]
    fn next(&mut self) -> Option<(K, V)> {
        let r = self.inner.next();
        if r.is_some() {
            self.len -= 1;
            if let Some(c) = self.cell {
                c.count_removes(1, self.len as u64 + 1);
            }
        }
        r
    }

    #[inline]
    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.size_hint()
    }
}

impl<K, V, F> FusedIterator for ExtractIf<'_, K, V, F> where F: FnMut(&K, &mut V) -> bool {}

impl<K, V, F> Drop for ExtractIf<'_, K, V, F> {
    fn drop(&mut self) {
        if let Some(c) = self.cell
            && (self.len as u64) < c.remove_watch.get()
        {
            // Budgets re-arm now; a shrink waits for the next operation through the map.
            let _ = crate::policy::on_limit(c, self.len as u64);
        }
    }
}

impl<K, V, F> fmt::Debug for ExtractIf<'_, K, V, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExtractIf").finish_non_exhaustive()
    }
}
