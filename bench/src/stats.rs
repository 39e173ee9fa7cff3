//! Percentiles: exact ones over a list of values ([`Summary`]), and a fixed-bucket histogram
//! ([`Histogram`]) for the millions of per-packet lateness values of a run.

use serde::Serialize;

/// p50/p95/p99 and the extremes of a list of values (milliseconds, unless said otherwise).
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Summary {
    pub count: usize,
    pub min: f64,
    pub p50: f64,
    pub p95: f64,
    pub p99: f64,
    pub max: f64,
    pub mean: f64,
}

impl Summary {
    /// Nearest-rank percentiles of `values` (sorted here; NaNs ignored).
    pub fn of(mut values: Vec<f64>) -> Summary {
        values.retain(|v| !v.is_nan());
        if values.is_empty() {
            return Summary::default();
        }
        values.sort_by(f64::total_cmp);
        let rank = |p: f64| -> f64 {
            let n = values.len();
            let i = ((p / 100.0) * n as f64).ceil() as usize;
            values.get(i.clamp(1, n) - 1).copied().unwrap_or_default()
        };
        Summary {
            count: values.len(),
            min: values.first().copied().unwrap_or_default(),
            p50: rank(50.0),
            p95: rank(95.0),
            p99: rank(99.0),
            max: values.last().copied().unwrap_or_default(),
            mean: values.iter().sum::<f64>() / values.len() as f64,
        }
    }
}

/// Counts of non-negative values in buckets of `width` up to `width * buckets`; larger values go
/// to the last bucket, and the exact maximum is kept.
#[derive(Debug, Clone)]
pub struct Histogram {
    width: f64,
    counts: Vec<u64>,
    total: u64,
    max: f64,
}

impl Histogram {
    pub fn new(width: f64, buckets: usize) -> Histogram {
        Histogram {
            width,
            counts: vec![0; buckets.max(1)],
            total: 0,
            max: 0.0,
        }
    }

    pub fn record(&mut self, value: f64) {
        let value = value.max(0.0);
        let i = ((value / self.width) as usize).min(self.counts.len() - 1);
        if let Some(c) = self.counts.get_mut(i) {
            *c += 1;
        }
        self.total += 1;
        if value > self.max {
            self.max = value;
        }
    }

    pub fn merge(&mut self, other: &Histogram) {
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a += b;
        }
        self.total += other.total;
        self.max = self.max.max(other.max);
    }

    pub fn total(&self) -> u64 {
        self.total
    }

    /// Values above `threshold` (bucket resolution: the bucket holding `threshold` is counted
    /// as not above).
    pub fn above(&self, threshold: f64) -> u64 {
        let first = (threshold / self.width) as usize + 1;
        self.counts.iter().skip(first).sum()
    }

    /// The upper edge of the bucket holding the p-th percentile (the maximum for p = 100).
    pub fn percentile(&self, p: f64) -> f64 {
        if self.total == 0 {
            return 0.0;
        }
        if p >= 100.0 {
            return self.max;
        }
        let rank = ((p / 100.0) * self.total as f64).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (i, c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return ((i + 1) as f64 * self.width).min(self.max);
            }
        }
        self.max
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank() {
        let s = Summary::of((1..=100).map(f64::from).collect());
        assert_eq!(s.p50, 50.0);
        assert_eq!(s.p95, 95.0);
        assert_eq!(s.p99, 99.0);
        assert_eq!(s.max, 100.0);
    }

    #[test]
    fn histogram_percentiles() {
        let mut h = Histogram::new(0.1, 1000);
        for i in 0..1000 {
            // Off the bucket edges: 0.005, 0.015, ... 9.995.
            h.record(f64::from(i) * 0.01 + 0.005);
        }
        assert!((h.percentile(50.0) - 5.0).abs() < 0.11);
        assert_eq!(h.above(9.0), 90);
        assert!((h.percentile(100.0) - 9.995).abs() < 1e-9);
    }
}
