/**
 * A seeded stand-in for Math.random (mulberry32: 32-bit state, full period, fast): the training
 * worker installs it so every random draw of a training — TensorFlow.js's initial weights, the
 * shuffles of model.fit, the dropout masks, all of which read Math.random when not given a seed —
 * follows from one number. The same data, settings and seed then give the same models.
 */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
