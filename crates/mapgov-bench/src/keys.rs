//! Pre-generated keys from a fixed-seed PRNG, so every variant sees exactly the same inputs.

/// The splitmix64 generator: tiny, fast, and good enough for benchmark keys.
///
/// Its output function is a bijection of its 64-bit state and the state steps by an odd
/// constant, so the first 2^64 outputs of one generator are pairwise distinct: keys drawn from
/// one generator never collide, and a key set and a miss set drawn one after the other from the
/// same generator are disjoint.
///
/// # Examples
///
/// ```
/// let mut a = mapgov_bench::SplitMix64::new(7);
/// let mut b = mapgov_bench::SplitMix64::new(7);
/// assert_eq!(a.next_u64(), b.next_u64());
/// assert_ne!(a.next_u64(), a.next_u64());
/// ```
#[derive(Clone, Debug)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    /// A generator starting from `seed`.
    pub fn new(seed: u64) -> SplitMix64 {
        SplitMix64 { state: seed }
    }

    /// The next 64 random bits.
    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// `n` distinct random keys (distinct from every other output of this generator).
    pub fn keys(&mut self, n: usize) -> Vec<u64> {
        (0..n).map(|_| self.next_u64()).collect()
    }

    /// A uniform index below `n` (`n > 0`), by multiply-shift.
    #[inline]
    pub fn below(&mut self, n: usize) -> usize {
        ((u128::from(self.next_u64()) * n as u128) >> 64) as usize
    }

    /// Shuffles `items` in place (Fisher–Yates).
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i + 1);
            items.swap(i, j);
        }
    }

    /// A shuffled copy of `items`.
    pub fn shuffled<T: Clone>(&mut self, items: &[T]) -> Vec<T> {
        let mut v = items.to_vec();
        self.shuffle(&mut v);
        v
    }
}

/// The wrapping sum of `keys`: what a loop that looks every key up and adds its value (the key
/// itself) must find.
pub fn wrapping_sum(keys: &[u64]) -> u64 {
    keys.iter().fold(0, |a, &k| a.wrapping_add(k))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_from_one_generator_are_distinct() {
        let mut g = SplitMix64::new(1);
        let mut keys = g.keys(100_000);
        keys.extend(g.keys(100_000));
        keys.sort_unstable();
        keys.dedup();
        assert_eq!(keys.len(), 200_000);
    }

    #[test]
    fn shuffle_is_a_permutation() {
        let mut g = SplitMix64::new(2);
        let v: Vec<u32> = (0..1000).collect();
        let mut s = g.shuffled(&v);
        assert_ne!(s, v);
        s.sort_unstable();
        assert_eq!(s, v);
    }
}
