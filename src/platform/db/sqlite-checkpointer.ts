// WAL checkpoints mostly off the event loop. SQLite's automatic checkpoint runs inside the
// commit that takes the WAL past 1,000 pages, on the connection's thread (ours: the event
// loop): it copies those pages into the database file and fsyncs it while every request
// waits, a few milliseconds at a time.
//
// A worker thread with a connection of its own runs PASSIVE checkpoints as the WAL grows: they
// copy the frames no reader still needs, never block the writer, and fsync the WAL before
// copying anything, so nothing reaches the database file before it is durable in the WAL.
// Copying alone does not shorten the WAL: SQLite starts it over at the next write only once
// every frame has been copied, and under steady writes the worker is always a little behind.
// So the main connection keeps SQLite's own automatic checkpoint: at 1,000 pages it copies
// what the worker has not copied yet (a few pages, not a thousand), and the WAL starts over.
// Should the worker fall behind, the main connection copies more, as it did alone: the WAL
// stays as short as before.
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

/**
 * How often the worker checkpoints. Each checkpoint that copies anything fsyncs the WAL and the
 * database file, so not too often; at 2,000 pages a second (a busy bench) 25 ms leaves the
 * main connection about 50 pages to copy when the WAL reaches 1,000.
 */
export const CHECKPOINT_INTERVAL_MS = 25;

// CommonJS, run with `eval`, so the worker needs no file of its own in src/ and dist/.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driverPath);
const db = new Database(workerData.file);
db.pragma('wal_autocheckpoint = 0');
let stopped = false;
let timer;
let copies = 0;
function pass() {
  timer = undefined;
  if (stopped) return;
  try {
    const [row] = db.pragma('wal_checkpoint(PASSIVE)');
    if (Number(row.checkpointed) > 0) parentPort.postMessage({ copies: ++copies });
  } catch (error) {
    parentPort.postMessage({ error: String((error && error.message) || error) });
  }
  timer = setTimeout(pass, workerData.intervalMs);
}
parentPort.on('message', (m) => {
  if (m !== 'stop') return;
  stopped = true;
  if (timer) clearTimeout(timer);
  db.close();
  parentPort.close();
});
pass();
`;

/** The worker running checkpoints on `file` (a SQLite database in WAL mode) until closed. */
export class WalCheckpointer {
  private readonly worker: Worker;
  private closed = false;
  /** Checkpoints the worker ran that copied pages. */
  copies = 0;

  /** `onError`: a checkpoint failed (the main connection's own checkpoints go on); by default the first is a process warning. */
  constructor(file: string, onError: (message: string) => void = warnOnce) {
    const driverPath = createRequire(import.meta.url).resolve('better-sqlite3');
    this.worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { file, driverPath, intervalMs: CHECKPOINT_INTERVAL_MS } });
    this.worker.unref(); // it never keeps a process alive
    this.worker.on('message', (m: { copies?: number; error?: string }) => {
      if (m.error !== undefined) onError(m.error);
      else this.copies = m.copies ?? this.copies;
    });
    this.worker.on('error', (error) => onError(String(error)));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const exited = new Promise<void>((resolve) => this.worker.once('exit', () => resolve()));
    this.worker.postMessage('stop');
    await exited;
  }
}

let warned = false;
function warnOnce(message: string): void {
  if (warned) return;
  warned = true;
  process.emitWarning(`WAL checkpoint worker: ${message} (the main connection still checkpoints)`);
}
