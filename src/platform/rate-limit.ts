// A fixed-window attempt counter with a bound on how many keys it tracks. In memory: each
// api process limits on its own (documented in docs/accounts.md).
export interface RateLimitDecision {
  allowed: boolean;
  retryAfterSeconds: number;
}

export interface AttemptLimits {
  maxAttempts: number;
  windowMs: number;
  /** How many keys are tracked at most; past it the oldest window is forgotten. */
  maxKeys: number;
}

export class AttemptLimiter {
  private readonly windows = new Map<string, { startMs: number; count: number }>();

  constructor(private readonly limits: AttemptLimits) {}

  /** Whether another attempt is allowed now; does not count it. */
  check(key: string, nowMs: number): RateLimitDecision {
    const w = this.windows.get(key);
    if (!w || nowMs - w.startMs >= this.limits.windowMs || w.count < this.limits.maxAttempts) {
      return { allowed: true, retryAfterSeconds: 0 };
    }
    return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil((w.startMs + this.limits.windowMs - nowMs) / 1000)) };
  }

  record(key: string, nowMs: number): void {
    const w = this.windows.get(key);
    if (!w || nowMs - w.startMs >= this.limits.windowMs) {
      this.windows.delete(key);
      // At the bound, forget the oldest window (Map keeps insertion order) rather than grow.
      if (this.windows.size >= this.limits.maxKeys) this.windows.delete(this.windows.keys().next().value!);
      this.windows.set(key, { startMs: nowMs, count: 1 });
    } else {
      w.count += 1;
    }
  }

  reset(key: string): void {
    this.windows.delete(key);
  }
}
