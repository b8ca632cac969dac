//! Iterators of [`SplitMap`](super::SplitMap): they visit one table after the other.

use std::fmt::{self, Debug};
use std::iter::FusedIterator;

use hashbrown::hash_table;

use super::Table;
use crate::stats::MapCell;

/// Walks a list of tables, yielding the items of one table's iterator after the other.
macro_rules! chained {
    ($self:ident, $open:expr) => {
        loop {
            if let Some(cur) = $self.cur.as_mut()
                && let Some(item) = cur.next()
            {
                $self.remaining -= 1;
                return Some(item);
            }
            let table = $self.tables.next()?;
            $self.cur = Some($open(table));
        }
    };
}

/// An iterator over the entries of a [`SplitMap`](super::SplitMap): `(&K, &V)`.
pub struct Iter<'a, K, V> {
    tables: std::slice::Iter<'a, Table<K, V>>,
    cur: Option<hash_table::Iter<'a, (K, V)>>,
    remaining: usize,
}

impl<'a, K, V> Iter<'a, K, V> {
    pub(super) fn new(tables: &'a [Table<K, V>], len: usize) -> Self {
        Iter {
            tables: tables.iter(),
            cur: None,
            remaining: len,
        }
    }
}

impl<'a, K, V> Iterator for Iter<'a, K, V> {
    type Item = (&'a K, &'a V);

    #[inline]
    fn next(&mut self) -> Option<(&'a K, &'a V)> {
        let (k, v) = (|| chained!(self, |t: &'a Table<K, V>| t.raw.iter()))()?;
        Some((k, v))
    }

    #[inline]
    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining, Some(self.remaining))
    }
}

impl<K, V> ExactSizeIterator for Iter<'_, K, V> {}
impl<K, V> FusedIterator for Iter<'_, K, V> {}

impl<K, V> Clone for Iter<'_, K, V> {
    fn clone(&self) -> Self {
        Iter {
            tables: self.tables.clone(),
            cur: self.cur.clone(),
            remaining: self.remaining,
        }
    }
}

impl<K: Debug, V: Debug> Debug for Iter<'_, K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.clone()).finish()
    }
}

/// A mutable iterator over the entries of a [`SplitMap`](super::SplitMap): `(&K, &mut V)`.
pub struct IterMut<'a, K, V> {
    tables: std::slice::IterMut<'a, Table<K, V>>,
    cur: Option<hash_table::IterMut<'a, (K, V)>>,
    remaining: usize,
}

impl<'a, K, V> IterMut<'a, K, V> {
    pub(super) fn new(tables: &'a mut [Table<K, V>], len: usize) -> Self {
        IterMut {
            tables: tables.iter_mut(),
            cur: None,
            remaining: len,
        }
    }
}

impl<'a, K, V> Iterator for IterMut<'a, K, V> {
    type Item = (&'a K, &'a mut V);

    #[inline]
    fn next(&mut self) -> Option<(&'a K, &'a mut V)> {
        let (k, v) = (|| chained!(self, |t: &'a mut Table<K, V>| t.raw.iter_mut()))()?;
        Some((&*k, v))
    }

    #[inline]
    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining, Some(self.remaining))
    }
}

impl<K, V> ExactSizeIterator for IterMut<'_, K, V> {}
impl<K, V> FusedIterator for IterMut<'_, K, V> {}

impl<K, V> Debug for IterMut<'_, K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IterMut")
            .field("remaining", &self.remaining)
            .finish_non_exhaustive()
    }
}

/// An owning iterator over the entries of a [`SplitMap`](super::SplitMap): `(K, V)`.
pub struct IntoIter<K, V> {
    tables: std::vec::IntoIter<Table<K, V>>,
    cur: Option<hash_table::IntoIter<(K, V)>>,
    remaining: usize,
}

impl<K, V> IntoIter<K, V> {
    pub(super) fn new(tables: Vec<Table<K, V>>, len: usize) -> Self {
        IntoIter {
            tables: tables.into_iter(),
            cur: None,
            remaining: len,
        }
    }
}

impl<K, V> Iterator for IntoIter<K, V> {
    type Item = (K, V);

    #[inline]
    fn next(&mut self) -> Option<(K, V)> {
        chained!(self, |t: Table<K, V>| t.raw.into_iter())
    }

    #[inline]
    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining, Some(self.remaining))
    }
}

impl<K, V> ExactSizeIterator for IntoIter<K, V> {}
impl<K, V> FusedIterator for IntoIter<K, V> {}

impl<K, V> Debug for IntoIter<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IntoIter")
            .field("remaining", &self.remaining)
            .finish_non_exhaustive()
    }
}

/// A draining iterator over the entries of a [`SplitMap`](super::SplitMap). Every table is
/// emptied when the iterator is created; entries not yielded are dropped with it.
pub struct Drain<'a, K, V> {
    drains: std::vec::IntoIter<hash_table::Drain<'a, (K, V)>>,
    cur: Option<hash_table::Drain<'a, (K, V)>>,
    remaining: usize,
    /// The map's accounting is stale until every table is back (see `Drop`).
    stale: &'a mut bool,
}

impl<K, V> Drop for Drain<'_, K, V> {
    fn drop(&mut self) {
        // Dropping hashbrown's drains puts each table back with its allocation; if an entry's
        // `Drop` panics on the way, that table stays unallocated and the flag stays set, so
        // the map sums its tables again.
        self.cur = None;
        self.drains = Vec::new().into_iter();
        *self.stale = false;
    }
}

impl<'a, K, V> Drain<'a, K, V> {
    /// `drains` empty their tables at once (hashbrown's drain does), so the map is empty even
    /// if this iterator is leaked.
    pub(super) fn new(
        drains: Vec<hash_table::Drain<'a, (K, V)>>,
        len: usize,
        stale: &'a mut bool,
    ) -> Self {
        Drain {
            drains: drains.into_iter(),
            cur: None,
            remaining: len,
            stale,
        }
    }
}

impl<K, V> Iterator for Drain<'_, K, V> {
    type Item = (K, V);

    #[inline]
    fn next(&mut self) -> Option<(K, V)> {
        loop {
            if let Some(cur) = self.cur.as_mut()
                && let Some(item) = cur.next()
            {
                self.remaining -= 1;
                return Some(item);
            }
            self.cur = Some(self.drains.next()?);
        }
    }

    #[inline]
    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining, Some(self.remaining))
    }
}

impl<K, V> ExactSizeIterator for Drain<'_, K, V> {}
impl<K, V> FusedIterator for Drain<'_, K, V> {}

impl<K, V> Debug for Drain<'_, K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Drain")
            .field("remaining", &self.remaining)
            .finish_non_exhaustive()
    }
}

/// An iterator that removes and yields the entries of a [`SplitMap`](super::SplitMap) for
/// which its predicate returns `true`.
pub struct ExtractIf<'a, K, V, F> {
    tables: &'a mut [Table<K, V>],
    table: usize,
    bucket: usize,
    len: &'a mut usize,
    cell: Option<&'a MapCell>,
    pred: F,
}

impl<'a, K, V, F> ExtractIf<'a, K, V, F> {
    pub(super) fn new(
        tables: &'a mut [Table<K, V>],
        len: &'a mut usize,
        cell: Option<&'a MapCell>,
        pred: F,
    ) -> Self {
        ExtractIf {
            tables,
            table: 0,
            bucket: 0,
            len,
            cell,
            pred,
        }
    }
}

impl<K, V, F> Iterator for ExtractIf<'_, K, V, F>
where
    F: FnMut(&K, &mut V) -> bool,
{
    type Item = (K, V);

    fn next(&mut self) -> Option<(K, V)> {
        loop {
            let raw = &mut self.tables.get_mut(self.table)?.raw;
            if self.bucket >= raw.num_buckets() {
                self.table += 1;
                self.bucket = 0;
                continue;
            }
            let i = self.bucket;
            self.bucket += 1;
            let take = match raw.get_bucket_mut(i) {
                Some((k, v)) => (self.pred)(k, v),
                None => false,
            };
            if take && let Ok(e) = raw.get_bucket_entry(i) {
                let (kv, _) = e.remove();
                *self.len -= 1;
                if let Some(c) = self.cell
                    && c.on_remove(*self.len)
                {
                    // The policy check (a shrink) waits for the next insert through the map,
                    // as for the other map's bulk removals.
                    c.arm_inserts(1);
                }
                return Some(kv);
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, Some(*self.len))
    }
}

impl<K, V, F> FusedIterator for ExtractIf<'_, K, V, F> where F: FnMut(&K, &mut V) -> bool {}

impl<K, V, F> Debug for ExtractIf<'_, K, V, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExtractIf").finish_non_exhaustive()
    }
}

/// Projections of the map iterators (keys, values).
macro_rules! projection {
    ($(#[$m:meta])* $name:ident<$($lt:lifetime,)? K, V>: $inner:ty => $item:ty, |$p:pat_param| $e:expr) => {
        $(#[$m])*
        pub struct $name<$($lt,)? K, V> {
            inner: $inner,
        }

        impl<$($lt,)? K, V> $name<$($lt,)? K, V> {
            pub(super) fn new(inner: $inner) -> Self {
                $name { inner }
            }
        }

        impl<$($lt,)? K, V> Iterator for $name<$($lt,)? K, V> {
            type Item = $item;

            #[inline]
            fn next(&mut self) -> Option<$item> {
                self.inner.next().map(|$p| $e)
            }

            #[inline]
            fn size_hint(&self) -> (usize, Option<usize>) {
                self.inner.size_hint()
            }
        }

        impl<$($lt,)? K, V> ExactSizeIterator for $name<$($lt,)? K, V> {}
        impl<$($lt,)? K, V> FusedIterator for $name<$($lt,)? K, V> {}

        impl<$($lt,)? K, V> Debug for $name<$($lt,)? K, V> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(stringify!($name)).finish_non_exhaustive()
            }
        }
    };
}

projection!(
    /// An iterator over the keys of a [`SplitMap`](super::SplitMap).
    Keys<'a, K, V>: Iter<'a, K, V> => &'a K, |(k, _)| k
);
projection!(
    /// An iterator over the values of a [`SplitMap`](super::SplitMap).
    Values<'a, K, V>: Iter<'a, K, V> => &'a V, |(_, v)| v
);
projection!(
    /// A mutable iterator over the values of a [`SplitMap`](super::SplitMap).
    ValuesMut<'a, K, V>: IterMut<'a, K, V> => &'a mut V, |(_, v)| v
);
projection!(
    /// An owning iterator over the keys of a [`SplitMap`](super::SplitMap).
    IntoKeys<K, V>: IntoIter<K, V> => K, |(k, _)| k
);
projection!(
    /// An owning iterator over the values of a [`SplitMap`](super::SplitMap).
    IntoValues<K, V>: IntoIter<K, V> => V, |(_, v)| v
);

impl<K, V> Clone for Keys<'_, K, V> {
    fn clone(&self) -> Self {
        Keys {
            inner: self.inner.clone(),
        }
    }
}

impl<K, V> Clone for Values<'_, K, V> {
    fn clone(&self) -> Self {
        Values {
            inner: self.inner.clone(),
        }
    }
}
