//! Buffer timestamps: the driver names frames with a nanosecond value carried
//! in `struct v4l2_buffer.timestamp` (a timeval). The kernel compares references
//! with `v4l2_timeval_to_ns()` (= sec * 1e9 + usec * 1000), so only values that
//! are multiples of 1000 ns round-trip exactly: see [`is_exact`].

/// Nanoseconds → (tv_sec, tv_usec); sub-microsecond nanoseconds are truncated.
pub fn ns_to_timeval(ns: u64) -> (i64, i64) {
    ((ns / 1_000_000_000) as i64, ((ns % 1_000_000_000) / 1_000) as i64)
}

/// (tv_sec, tv_usec) → nanoseconds, as `v4l2_timeval_to_ns()`; negative
/// fields clamp to 0, overflow saturates.
pub fn timeval_to_ns(sec: i64, usec: i64) -> u64 {
    let sec = sec.max(0) as u64;
    let usec = usec.max(0) as u64;
    sec.saturating_mul(1_000_000_000).saturating_add(usec.saturating_mul(1_000))
}

/// Whether `ns` survives the round trip through a timeval unchanged.
#[cfg(test)]
pub fn is_exact(ns: u64) -> bool {
    timeval_to_ns(ns_to_timeval(ns).0, ns_to_timeval(ns).1) == ns
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        for ns in [0u64, 1_000, 999_000, 1_000_000_000, 1_234_567_000, 42_000 * 1_000_000] {
            let (s, u) = ns_to_timeval(ns);
            assert!(u < 1_000_000);
            assert_eq!(timeval_to_ns(s, u), ns);
            assert!(is_exact(ns));
        }
    }

    #[test]
    fn truncation_and_clamping() {
        assert_eq!(ns_to_timeval(1_500), (0, 1));
        assert!(!is_exact(1_500));
        assert_eq!(ns_to_timeval(3_000_000_999), (3, 0));
        assert_eq!(timeval_to_ns(-1, -5), 0);
        assert_eq!(timeval_to_ns(i64::MAX, 0), u64::MAX);
    }
}
