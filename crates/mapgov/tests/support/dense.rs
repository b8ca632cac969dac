//! A hasher that lays consecutive `u64` keys out in consecutive buckets of a table (a
//! `HashMap`'s, or one of a `SplitMap`'s), for the test binaries that need tombstoned tables.

use std::hash::{BuildHasher, Hasher};

/// The splitmix64 finalizer.
pub(crate) fn mix(mut x: u64) -> u64 {
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// A hasher that keeps a key's low 32 bits as its bucket bits, so that consecutive keys fill
/// consecutive buckets of a table: removing the middle of such a run leaves tombstones (which
/// is how tables come to need a rebuild). The directory bits (56 down) and the control tag
/// (57 up) come from a mix of the key, so the directory still spreads the keys.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Dense;

#[derive(Debug)]
pub(crate) struct DenseHasher(u64);

impl BuildHasher for Dense {
    type Hasher = DenseHasher;
    fn build_hasher(&self) -> DenseHasher {
        DenseHasher(0)
    }
}

impl Hasher for DenseHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }
    fn write_u64(&mut self, x: u64) {
        self.0 ^= x;
    }
    fn finish(&self) -> u64 {
        const LOW: u64 = (1 << 32) - 1;
        (self.0 & LOW) | (mix(self.0) & !LOW)
    }
}
