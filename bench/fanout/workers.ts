// The driver's side of the client workers (bench/fanout/clients.ts, speaking the protocol of
// bench/fanout/shared.ts), for bench:fanout and bench:cluster: each worker holds its share of
// the WebSocket subscribers and answers with summaries. bench/cluster.ts points each worker at
// one api node, so a worker's figures are that node's.
import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { within } from '../../test/support/process.js';
import { Histogram, now, type ConnectAnswer, type CountAnswer, type FromWorker, type PhaseReport, type WorkerRequest } from './shared.js';

const CLIENT_SCRIPT = fileURLToPath(new URL('./clients.ts', import.meta.url));
const READY_TIMEOUT_MS = 60_000;

export class SubscriberWorker {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (answer: any) => void; reject: (error: Error) => void }>();
  opened = 0;
  failed = 0;

  private constructor(readonly child: ChildProcess) {
    child.on('message', (message: FromWorker | { type: 'progress'; opened: number; failed: number } | { type: 'ready' }) => {
      if (message.type === 'ready') return;
      if (message.type === 'progress') {
        this.opened = message.opened;
        this.failed = message.failed;
        return;
      }
      const waiter = this.pending.get(message.id);
      this.pending.delete(message.id);
      if (message.type === 'answer') waiter?.resolve(message.answer);
      else waiter?.reject(new Error(`client worker ${child.pid}: ${message.error}`));
    });
    child.once('exit', (code, signal) => {
      for (const waiter of this.pending.values()) waiter.reject(new Error(`client worker ${child.pid} exited (code ${code}, signal ${signal})`));
      this.pending.clear();
    });
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** `forkChild` forks the script with IPC (each bench tracks its children its own way). */
  static async start(forkChild: (script: string) => ChildProcess): Promise<SubscriberWorker> {
    const child = forkChild(CLIENT_SCRIPT);
    await within(
      READY_TIMEOUT_MS,
      'a client worker to start',
      new Promise<void>((resolve, reject) => {
        child.once('message', () => resolve());
        child.once('exit', (code) => reject(new Error(`client worker exited with ${code} before it was ready`)));
      }),
    );
    return new SubscriberWorker(child);
  }

  ask<T>(message: WorkerRequest, timeoutMs = 120_000): Promise<T> {
    const id = this.nextId++;
    const answer = new Promise<T>((resolve, reject) => this.pending.set(id, { resolve, reject }));
    this.child.send({ ...message, id });
    return within(timeoutMs, `client worker ${this.pid} to answer "${message.type}"`, answer);
  }

  connect(url: string, count: number, inFlight: number, localAddress: string, topic: string): Promise<ConnectAnswer> {
    return this.ask<ConnectAnswer>({ type: 'connect', url, count, inFlight, localAddress, topic }, 600_000);
  }

  count(): Promise<CountAnswer> {
    return this.ask<CountAnswer>({ type: 'count' }, 30_000);
  }

  /** The worker's clock minus this one's, from the round trip with the smallest delay (± half of it). */
  async clockOffset(): Promise<{ offsetMs: number; uncertaintyMs: number }> {
    let best = { offsetMs: NaN, uncertaintyMs: Infinity };
    for (let i = 0; i < 7; i++) {
      const sent = now();
      const workerMinusSent = await this.ask<number>({ type: 'clock', driverMs: sent });
      const roundTrip = now() - sent;
      if (roundTrip / 2 < best.uncertaintyMs) best = { offsetMs: workerMinusSent - roundTrip / 2, uncertaintyMs: roundTrip / 2 };
    }
    return best;
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.child.kill('SIGTERM');
    await within(15_000, `client worker ${this.pid} to exit`, exited).catch(() => this.child.kill('SIGKILL'));
  }
}

/** Deliveries summed over some workers' reports: one api node's, or everyone's. */
export function merged(reports: PhaseReport[]): { histogram: Histogram; delivered: number; open: number; dropped: number; unmatched: number; perSocketMin: number; perSocketMax: number } {
  const histogram = new Histogram();
  for (const r of reports) histogram.merge({ counts: r.histogram, maxMs: r.maxMs });
  return {
    histogram,
    delivered: reports.reduce((a, r) => a + r.delivered, 0),
    open: reports.reduce((a, r) => a + r.open, 0),
    dropped: reports.reduce((a, r) => a + r.dropped, 0),
    unmatched: reports.reduce((a, r) => a + r.unmatched, 0),
    perSocketMin: Math.min(...reports.map((r) => r.perSocketMin)),
    perSocketMax: Math.max(...reports.map((r) => r.perSocketMax)),
  };
}
