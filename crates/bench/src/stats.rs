//! Latency samples: median and 99th percentile.

use std::time::Duration;

/// Sorted latencies.
#[derive(Clone)]
pub struct Sample(Vec<Duration>);

impl Sample {
    /// Sorts the measurements.
    pub fn new(mut v: Vec<Duration>) -> Self {
        v.sort_unstable();
        Self(v)
    }

    /// The value at `permille`/1000 of the way, nearest rank.
    fn at(&self, permille: usize) -> Duration {
        if self.0.is_empty() {
            return Duration::ZERO;
        }
        let last = self.0.len() - 1;
        self.0[((last * permille + 500) / 1000).min(last)]
    }

    /// The median.
    pub fn median(&self) -> Duration {
        self.at(500)
    }

    /// The 99th percentile.
    pub fn p99(&self) -> Duration {
        self.at(990)
    }
}

/// Microseconds with one decimal.
pub fn fmt(d: Duration) -> String {
    format!("{:.1} µs", d.as_secs_f64() * 1e6)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_and_p99_of_one_to_hundred() {
        let s = Sample::new((1..=100).rev().map(Duration::from_micros).collect());
        assert_eq!(s.median(), Duration::from_micros(51));
        assert_eq!(s.p99(), Duration::from_micros(99));
    }
}
