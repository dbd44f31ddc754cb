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

/**
 * Installs window.__benchPan(panBy, frames, ms) in the page: calls panBy(i)
 * at each of up to `frames` animation frames (at most ms long in all) and
 * resolves with the frames' deltas, ms. The pans of both benchmarks.
 */
export async function installPan(page) {
  await page.evaluate(() => {
    window.__benchPan = (panBy, frames, ms) =>
      new Promise((res) => {
        const deltas = [];
        const t0 = performance.now();
        let last = t0;
        let i = 0;
        const step = (t) => {
          deltas.push(t - last);
          last = t;
          panBy(i);
          if (++i < frames && t - t0 < ms) requestAnimationFrame(step);
          else res(deltas);
        };
        requestAnimationFrame((t) => {
          last = t;
          requestAnimationFrame(step);
        });
      });
  });
}
