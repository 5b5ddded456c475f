// Instructions per posted transfer on SQLite, for changes too small for bench:ledger's
// wall-clock figure to show on a noisy machine. valgrind's callgrind counts instructions, which
// repeat from run to run whatever else the machine is doing, once timing is taken out: the workload's fsyncs are answered on the next turn
// of the event loop, and V8 runs single-threaded (`--single-threaded`: no concurrent compiling or
// marking, whose timing moved the count by a few per cent; two runs now agree within 0.4 %).
// The workload runs twice, with N and 2N transfers;
// (instructions of the second − of the first) ÷ N is the steady-state cost of one transfer, with
// the set-up and the JIT's warm-up cancelled out. Needs valgrind; runs on the built code
// (`npm run bench:ledger-instructions` builds it first). About 1–2 minutes.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const N = Number(process.env.LEDGER_INSTRUCTIONS_N ?? 10_000);
const workload = new URL('./ledger-transfers-workload.mjs', import.meta.url).pathname;
const outDir = mkdtempSync(join(tmpdir(), 'gavel-callgrind-'));

function count(n) {
  return new Promise((resolve, reject) => {
    const child = spawn('valgrind', ['--tool=callgrind', `--callgrind-out-file=${join(outDir, `cg.${n}.%p`)}`, process.execPath, '--single-threaded', workload], { env: { ...process.env, N: String(n) }, stdio: ['ignore', 'pipe', 'pipe'] });
    let text = '';
    child.stdout.on('data', (d) => (text += d));
    child.stderr.on('data', (d) => (text += d));
    child.on('error', reject);
    child.on('exit', (code) => {
      const collected = /Collected : (\d+)/.exec(text);
      if (code !== 0 || !collected) reject(new Error(`callgrind run with N=${n} failed (exit ${code}):\n${text.slice(-2000)}`));
      else resolve(Number(collected[1]));
    });
  });
}

try {
  console.log(`counting instructions for ${N.toLocaleString('en-US')} and ${(2 * N).toLocaleString('en-US')} posted transfers under callgrind (both at once)…`);
  const [once, twice] = await Promise.all([count(N), count(2 * N)]);
  console.log(`  N=${N}: ${once.toLocaleString('en-US')} instructions; N=${2 * N}: ${twice.toLocaleString('en-US')}`);
  console.log(`ledger instructions: ${Math.round((twice - once) / N).toLocaleString('en-US')} per posted transfer on SQLite (steady state, set-up cancelled out)`);
} finally {
  rmSync(outDir, { recursive: true, force: true });
}
