// The server's clock as seen from this browser. Countdowns run on it, never on the device's own
// clock (which may be minutes off). The WebSocket's hello and ping/pong round trips measure the
// offset (serverTime − local time, at the midpoint of the fastest round trip seen); REST answers
// that carry serverTimeMs give a first estimate before the socket is up.
import { useEffect, useState } from 'react';
import { onServerTime } from './api.js';
import { createStore, useStore } from './store.js';

export interface ClockState {
  offsetMs: number;
  /** Round trip of the sample the offset came from (Infinity until a ping returns). */
  rttMs: number;
  source: 'none' | 'http' | 'ws';
}

export const clock = createStore<ClockState>({ offsetMs: 0, rttMs: Infinity, source: 'none' });

export function serverNow(): number {
  return Date.now() + clock.get().offsetMs;
}

/** A one-way sample (hello, an HTTP answer): its error is at most the one-way delay. */
export function sampleOneWay(serverTimeMs: number, receivedAtMs: number, source: 'http' | 'ws'): void {
  const current = clock.get();
  if (current.source === 'ws' && source === 'http') return;
  if (current.rttMs !== Infinity) return;
  clock.set({ offsetMs: serverTimeMs - receivedAtMs, rttMs: Infinity, source });
}

/** A round trip: the server's time sits at the midpoint; the fastest round trip wins. */
export function sampleRoundTrip(serverTimeMs: number, sentAtMs: number, receivedAtMs: number): void {
  const rttMs = receivedAtMs - sentAtMs;
  const current = clock.get();
  // Keep the fastest sample; one a little slower still replaces it, so the offset follows drift.
  if (current.rttMs !== Infinity && rttMs > current.rttMs * 1.5 + 5) return;
  clock.set({ offsetMs: serverTimeMs - (sentAtMs + rttMs / 2), rttMs, source: 'ws' });
}

onServerTime((serverTimeMs, receivedAtMs) => sampleOneWay(serverTimeMs, receivedAtMs, 'http'));

/** The server's time, re-rendered every `periodMs` (aligned to the second for countdowns). */
export function useServerNow(periodMs = 1000): number {
  const { offsetMs } = useStore(clock);
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    let timer: ReturnType<typeof setTimeout>;
    const tick = () => {
      setNow(Date.now());
      const t = Date.now() + clock.get().offsetMs;
      timer = setTimeout(tick, periodMs - (t % periodMs) + 5);
    };
    tick();
    return () => clearTimeout(timer);
  }, [periodMs]);
  return now + offsetMs;
}
