/** A small seeded random generator (mulberry32): the same seed replays the same simulation. */
export class Random {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** A float in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** A float in [min, max). */
  between(min: number, max: number): number {
    return min + (max - min) * this.next();
  }

  /** `value` varied by up to +-`fraction` (jitter). */
  jitter(value: number, fraction: number): number {
    return value * this.between(1 - fraction, 1 + fraction);
  }

  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** True with probability p. */
  chance(p: number): boolean {
    return this.next() < p;
  }

  /** A hex string of `length` characters (instance ids, request ids). */
  hex(length: number): string {
    let out = "";
    while (out.length < length) out += this.int(16).toString(16);
    return out;
  }
}
