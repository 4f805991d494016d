//! Latency percentiles from recorded samples.

/// Percentile `p` (0–100) of `samples` in microseconds, returned in milliseconds.
pub fn percentile_ms(samples: &mut [u32], p: f64) -> f64 {
    if samples.is_empty() {
        return 0.0;
    }
    samples.sort_unstable();
    let rank = ((p / 100.0) * (samples.len() - 1) as f64).round() as usize;
    f64::from(samples[rank.min(samples.len() - 1)]) / 1000.0
}

#[cfg(test)]
mod tests {
    #[test]
    fn percentiles() {
        let mut s: Vec<u32> = (1..=100).map(|x| x * 1000).collect();
        assert_eq!(super::percentile_ms(&mut s, 50.0), 51.0);
        assert_eq!(super::percentile_ms(&mut s, 99.0), 99.0);
        assert_eq!(super::percentile_ms(&mut [], 99.0), 0.0);
    }
}
