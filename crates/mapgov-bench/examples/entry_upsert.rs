//! What the entry API's upsert (`*map.entry(k).or_insert(0) += 1`) costs in the cases
//! `mapbench`'s one upsert row (a map growing from empty, every key upserted twice) mixes
//! together: a pre-sized map, every key present, every key new.
//!
//! ```sh
//! cargo run --release -p mapgov-bench --example entry_upsert             # mapgov as configured
//! MAPGOV=off cargo run --release -p mapgov-bench --example entry_upsert  # governance off
//! ```
//!
//! 2^19 distinct random `u64` keys, hashbrown's map and mapgov's with the same hasher, the two
//! interleaved (their order alternating) over 15 repetitions. Each row gives each map's median
//! ns per operation and the ratio of the medians. The rows:
//!
//! - `grow upsert`: every key upserted twice, in random order, into a map created empty;
//! - `pre-sized upsert`: the same into a map created with room for every key;
//! - `every key present`: each key upserted once more into that map, now holding every key;
//! - `every key new, pre-sized`: each key upserted once into a pre-sized map;
//! - `insert, pre-sized`: the same keys through `insert`, for reference.
//!
//! There is no A/A control here (`mapbench` has one): on the machine these figures come from,
//! the same loops read a few percent apart from one run to the next.

use std::hash::BuildHasher;
use std::hint::black_box;
use std::time::Instant;

use mapgov_bench::SplitMix64;

/// The two maps, with the operations the kernels time.
trait Map: Sized {
    const NAME: &'static str;
    fn with_room(n: usize) -> Self;
    fn upsert(&mut self, k: u64);
    fn put(&mut self, k: u64);
    fn len(&self) -> usize;
}

/// `Map` for hashbrown's map and mapgov's, whose APIs agree here.
macro_rules! impl_map {
    ($map:ident, $name:literal) => {
        impl<S: BuildHasher + Default> Map for $map::HashMap<u64, u64, S> {
            const NAME: &'static str = $name;
            fn with_room(n: usize) -> Self {
                Self::with_capacity_and_hasher(n, S::default())
            }
            #[inline(always)]
            fn upsert(&mut self, k: u64) {
                *self.entry(k).or_insert(0) += 1;
            }
            #[inline(always)]
            fn put(&mut self, k: u64) {
                self.insert(k, 1);
            }
            fn len(&self) -> usize {
                $map::HashMap::len(self)
            }
        }
    };
}

impl_map!(hashbrown, "hashbrown");
impl_map!(mapgov, "mapgov");

#[inline(never)]
fn upsert_all<M: Map>(m: &mut M, keys: &[u64]) {
    for &k in keys {
        m.upsert(k);
    }
}

#[inline(never)]
fn insert_all<M: Map>(m: &mut M, keys: &[u64]) {
    for &k in keys {
        m.put(k);
    }
}

const ROWS: [&str; 5] = [
    "grow upsert",
    "pre-sized upsert",
    "every key present",
    "every key new, pre-sized",
    "insert, pre-sized",
];

/// The keys: each distinct key once, every key twice (shuffled), the distinct keys again in
/// another order.
struct Keys {
    distinct: Vec<u64>,
    twice: Vec<u64>,
    again: Vec<u64>,
}

/// Times `f` over `ops` operations: ns per operation.
fn ns_per_op(ops: usize, f: impl FnOnce()) -> f64 {
    let start = Instant::now();
    f();
    start.elapsed().as_secs_f64() * 1e9 / ops as f64
}

/// One repetition of every row for map `M`: ns per operation, in `ROWS` order.
fn one_rep<M: Map>(k: &Keys) -> [f64; 5] {
    let n = k.distinct.len();
    let mut t = [0.0; 5];
    let mut m = M::with_room(0);
    t[0] = ns_per_op(k.twice.len(), || upsert_all(&mut m, &k.twice));
    assert_eq!(black_box(&m).len(), n);
    drop(m);
    let mut m = M::with_room(n);
    t[1] = ns_per_op(k.twice.len(), || upsert_all(&mut m, &k.twice));
    t[2] = ns_per_op(n, || upsert_all(&mut m, &k.again));
    assert_eq!(black_box(&m).len(), n);
    drop(m);
    let mut m = M::with_room(n);
    t[3] = ns_per_op(n, || upsert_all(&mut m, &k.distinct));
    assert_eq!(black_box(&m).len(), n);
    drop(m);
    let mut m = M::with_room(n);
    t[4] = ns_per_op(n, || insert_all(&mut m, &k.distinct));
    assert_eq!(black_box(&m).len(), n);
    t
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Interleaves hashbrown's map `A` and mapgov's `B` and prints the table.
fn compare<A: Map, B: Map>(hasher: &str, k: &Keys) {
    const REPS: usize = 15;
    let (mut a, mut b) = (vec![Vec::new(); ROWS.len()], vec![Vec::new(); ROWS.len()]);
    for rep in 0..REPS {
        let (ta, tb) = if rep % 2 == 0 {
            let ta = one_rep::<A>(k);
            (ta, one_rep::<B>(k))
        } else {
            let tb = one_rep::<B>(k);
            (one_rep::<A>(k), tb)
        };
        for i in 0..ROWS.len() {
            a[i].push(ta[i]);
            b[i].push(tb[i]);
        }
    }
    println!(
        "{hasher}, {} keys, median of {REPS} (ns/op):",
        k.distinct.len()
    );
    for (i, row) in ROWS.iter().enumerate() {
        let (ma, mb) = (median(a[i].clone()), median(b[i].clone()));
        println!(
            "  {row:26} {} {ma:6.2}  {} {mb:6.2}  ratio {:.3}",
            A::NAME,
            B::NAME,
            mb / ma
        );
    }
}

fn main() {
    let n = 1 << 19;
    let mut rng = SplitMix64::new(0x7570_7365_7274);
    let distinct = rng.keys(n);
    let mut twice = distinct.clone();
    twice.extend_from_slice(&distinct);
    rng.shuffle(&mut twice);
    let again = rng.shuffled(&distinct);
    let keys = Keys {
        distinct,
        twice,
        again,
    };
    type Fh = foldhash::fast::RandomState;
    type Std = std::hash::RandomState;
    compare::<hashbrown::HashMap<u64, u64, Fh>, mapgov::HashMap<u64, u64, Fh>>("foldhash", &keys);
    compare::<hashbrown::HashMap<u64, u64, Std>, mapgov::HashMap<u64, u64, Std>>(
        "std RandomState",
        &keys,
    );
}
