// What the web benchmarks (bench.mjs, peers/run.mjs) print: RESULT lines of
// key=value fields, percentiles and one-decimal figures.

/** The p-th percentile of xs (nearest rank); NaN when empty. */
export function pct(xs, p) {
  const s = [...xs].sort((a, b) => a - b);
  if (!s.length) return NaN;
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
}

/** x with one decimal. */
export const f1 = (x) => x.toFixed(1);

/** Prints "RESULT name k=v …". */
export function result(name, fields) {
  console.log(`RESULT ${name} ` + Object.entries(fields).map(([k, v]) => `${k}=${v}`).join(' '));
}
