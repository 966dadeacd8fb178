// Summaries of timings: medians, percentiles and ratios of paired runs.
// Rules: a ratio is taken run by run between commands run next to each other, then summarized; nothing is averaged away silently.

/** Returns the q-quantile (0..1) of `values` by linear interpolation; NaN for an empty list. */
export function quantile(values, q) {
  if (values.length === 0) return NaN;
  const sorted = Float64Array.from(values).sort();
  const at = (sorted.length - 1) * q;
  const lo = Math.floor(at);
  const hi = Math.ceil(at);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (at - lo);
}

/** Returns the median of `values`. */
export function median(values) {
  return quantile(values, 0.5);
}

/** Returns { n, median, p25, p75, min, max, mean } of `values`. */
export function summarize(values) {
  return {
    n: values.length,
    median: median(values),
    p25: quantile(values, 0.25),
    p75: quantile(values, 0.75),
    min: values.length ? Math.min(...values) : NaN,
    max: values.length ? Math.max(...values) : NaN,
    mean: values.length ? values.reduce((a, b) => a + b, 0) / values.length : NaN,
  };
}

/**
 * Returns the summary of the per-run ratios a[i] / b[i] (runs of the same round), and the ratio of the
 * medians for reference. Throws if the lists differ in length.
 */
export function pairedRatio(a, b) {
  if (a.length !== b.length) throw new Error(`paired lists differ in length (${a.length} and ${b.length})`);
  const ratios = a.map((x, i) => x / b[i]);
  return { ...summarize(ratios), ofMedians: median(a) / median(b) };
}

/** Percentiles of a latency sample (a Float64Array or array of ms): p50, p90, p99, max. */
export function latencyPercentiles(sample) {
  if (sample.length === 0) return { p50: NaN, p90: NaN, p99: NaN, max: NaN };
  const sorted = Float64Array.from(sample).sort();
  const pick = (q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
  return { p50: pick(0.5), p90: pick(0.9), p99: pick(0.99), max: sorted[sorted.length - 1] };
}

/** Returns a copy of `list` in random order (Fisher–Yates). */
export function shuffled(list) {
  const out = [...list];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}
