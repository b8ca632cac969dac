//! A hasher that makes in-place rehashes deterministic, for the test binaries that count them.

use std::hash::{BuildHasher, Hasher};

/// A hasher that keeps a `u64` key's low bits as the bucket index: consecutive keys fill
/// consecutive buckets, so removing keys from the middle of the run leaves tombstones
/// (hashbrown frees a bucket outright when an empty one is near) and the next insert into the
/// full table rehashes in place. The top seven bits (the control tag) are scrambled so that
/// probing stays selective.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Clustered;

#[derive(Debug)]
pub(crate) struct ClusteredHasher(u64);

impl BuildHasher for Clustered {
    type Hasher = ClusteredHasher;
    fn build_hasher(&self) -> ClusteredHasher {
        ClusteredHasher(0)
    }
}

impl Hasher for ClusteredHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }
    fn write_u64(&mut self, x: u64) {
        self.0 ^= x;
    }
    fn finish(&self) -> u64 {
        let x = self.0;
        (x & !(0x7F << 57)) | (x.wrapping_mul(0x9E37_79B9_7F4A_7C15) & (0x7F << 57))
    }
}
