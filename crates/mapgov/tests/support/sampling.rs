//! The check of a sampled map's lookup estimates, for the test binaries that sample lookups.
//!
//! Include with `#[path = "support/sampling.rs"] mod sampling;`.

use mapgov::MapStats;

/// Asserts that `stats`' sampled hit and miss estimates are within 5 % of the true counts and
/// that each is a whole number of samples of weight `rate` (one sampled lookup counts `rate`).
/// The caller sizes its run so that 5 % is several standard errors.
pub(crate) fn assert_estimates_within_five_percent(
    stats: &MapStats,
    hits: u64,
    misses: u64,
    rate: u64,
) {
    for (what, estimate, truth) in [("hits", stats.hits, hits), ("misses", stats.misses, misses)] {
        let error = (estimate as f64 - truth as f64).abs() / truth as f64;
        assert!(
            error <= 0.05,
            "sampled {what}: estimate {estimate}, true {truth}, error {:.2} %",
            error * 100.0
        );
        assert_eq!(estimate % rate, 0, "each sampled lookup weighs {rate}");
    }
}
