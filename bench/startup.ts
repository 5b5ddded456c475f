// Time from `gavel start` to its "listening" line: once on an empty data dir (creates and
// migrates the database), then on the existing one. Runs the compiled CLI (npm run build).
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SERVER_NODE_FLAGS } from '../src/platform/node-flags.js';

const RUNS = Number(process.env.RUNS ?? 7);
const TIMEOUT_MS = 30_000;
const bin = fileURLToPath(new URL('../bin/gavel.js', import.meta.url));

function startOnce(dataDir: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const began = performance.now();
    const child = spawn(process.execPath, [...SERVER_NODE_FLAGS, bin, 'start', '--port', '0', '--data-dir', dataDir, '--no-demo'], { stdio: ['ignore', 'pipe', 'inherit'] });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error('no listening line within 30 s'));
    }, TIMEOUT_MS);
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes('listening on')) {
        const ms = performance.now() - began;
        clearTimeout(timer);
        child.once('exit', () => resolve(ms));
        child.kill('SIGTERM');
      }
    });
  });
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const dir = mkdtempSync(join(tmpdir(), 'gavel-bench-startup-'));
try {
  const cold = await startOnce(join(dir, 'data'));
  console.log(`first start (empty data dir, migrations): ${cold.toFixed(0)} ms`);
  const warm: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    warm.push(await startOnce(join(dir, 'data')));
    console.log(`start ${i + 1}/${RUNS}: ${warm[i]!.toFixed(0)} ms`);
  }
  console.log(`startup to ready: median ${median(warm).toFixed(0)} ms over ${RUNS} starts (first start ${cold.toFixed(0)} ms; target < 3000 ms)`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
