//! Latency histograms and the report a run prints.

use hdrhistogram::Histogram;
use serde_json::{Value, json};

/// Microsecond latencies, 1 µs to 60 s.
pub fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000, 3)
        .unwrap_or_else(|_| Histogram::new(3).unwrap_or_else(|_| unreachable!()))
}

fn ms(us: u64) -> f64 {
    us as f64 / 1000.0
}

/// `{p50, p90, p99, p999, max}` in milliseconds.
pub fn summary(h: &Histogram<u64>) -> Value {
    json!({
        "p50": ms(h.value_at_quantile(0.50)),
        "p90": ms(h.value_at_quantile(0.90)),
        "p99": ms(h.value_at_quantile(0.99)),
        "p999": ms(h.value_at_quantile(0.999)),
        "max": ms(h.max()),
        "count": h.len(),
    })
}

pub fn line(name: &str, h: &Histogram<u64>) -> String {
    format!(
        "  {name:<22} p50 {:>8.2} ms  p90 {:>8.2}  p99 {:>8.2}  p99.9 {:>8.2}  max {:>8.2}  (n={})",
        ms(h.value_at_quantile(0.50)),
        ms(h.value_at_quantile(0.90)),
        ms(h.value_at_quantile(0.99)),
        ms(h.value_at_quantile(0.999)),
        ms(h.max()),
        h.len()
    )
}
