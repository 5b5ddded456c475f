import { describe, expect, it } from 'vitest';
import { BatchCommitter, type Outcome } from './batch-commit.js';

describe('batch commit', () => {
  it('inputs that arrive together reach the processor as one group, each answered with its own outcome', async () => {
    const groups: number[][] = [];
    const committer = new BatchCommitter<number, number>(async (inputs) => {
      groups.push(inputs);
      return inputs.map((n): Outcome<number> => (n % 3 === 0 ? { ok: false, error: new Error(`refused ${n}`) } : { ok: true, value: n * 10 }));
    }, 4);
    const answers = await Promise.allSettled([1, 2, 3, 4, 5, 6].map((n) => committer.submit(n)));
    expect(groups).toEqual([[1, 2, 3, 4], [5, 6]]);
    expect(answers.map((a) => (a.status === 'fulfilled' ? a.value : (a.reason as Error).message))).toEqual([10, 20, 'refused 3', 40, 50, 'refused 6']);
  });

  it('nobody hears back before the processor returned (its transaction committed)', async () => {
    let committed = false;
    const committer = new BatchCommitter<string, string>(async (inputs) => {
      await new Promise((r) => setTimeout(r, 20));
      committed = true;
      return inputs.map((value) => ({ ok: true, value }));
    });
    const value = await committer.submit('a');
    expect(value).toBe('a');
    expect(committed).toBe(true);
  });

  it('a processor that throws rejects its whole group, and the next group still runs', async () => {
    let calls = 0;
    const committer = new BatchCommitter<number, number>(async (inputs) => {
      calls += 1;
      if (calls === 1) throw new Error('the transaction failed');
      return inputs.map((value) => ({ ok: true, value }));
    });
    const first = await Promise.allSettled([committer.submit(1), committer.submit(2)]);
    expect(first.map((a) => a.status)).toEqual(['rejected', 'rejected']);
    expect(await committer.submit(3)).toBe(3);
  });

  it('one group at a time: work submitted while a group commits forms the next group', async () => {
    const groups: number[][] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const committer = new BatchCommitter<number, number>(async (inputs) => {
      groups.push(inputs);
      if (groups.length === 1) await gate;
      return inputs.map((value) => ({ ok: true, value }));
    });
    const first = committer.submit(1);
    await new Promise((r) => setTimeout(r, 5));
    const later = [committer.submit(2), committer.submit(3)];
    release();
    await Promise.all([first, ...later]);
    expect(groups).toEqual([[1], [2, 3]]);
  });

  it('with maxInFlight 2, a second group commits while the first is still committing, never a third', async () => {
    let running = 0;
    let most = 0;
    const gates: Array<() => void> = [];
    const committer = new BatchCommitter<number, number>(
      async (inputs) => {
        running += 1;
        most = Math.max(most, running);
        await new Promise<void>((r) => gates.push(r));
        running -= 1;
        return inputs.map((value) => ({ ok: true, value }));
      },
      1,
      2,
    );
    const all = Promise.all([1, 2, 3, 4].map((n) => committer.submit(n)));
    await new Promise((r) => setTimeout(r, 5));
    expect(gates).toHaveLength(2);
    while (gates.length) {
      gates.shift()!();
      await new Promise((r) => setTimeout(r, 5));
    }
    expect(await all).toEqual([1, 2, 3, 4]);
    expect(most).toBe(2);
  });
  it("gathering by 'turn': inputs sent from separate I/O callbacks of one event-loop turn share a group; 'microtask' gives each its own", async () => {
    const { createServer, connect } = await import('node:net');
    for (const [gather, expected] of [['turn', [[0, 1, 2, 3]]], ['microtask', [[0], [1], [2], [3]]]] as const) {
      const groups: number[][] = [];
      const committer = new BatchCommitter<number, number>(async (inputs) => {
        groups.push(inputs);
        return inputs.map((value) => ({ ok: true, value }));
      }, undefined, 1, gather);
      // Four sockets whose data all waits in one poll phase: each 'data' callback submits.
      const answers: Promise<number>[] = [];
      const server = createServer((socket) => socket.on('data', (chunk) => answers.push(committer.submit(chunk[0]!))));
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      const { port } = server.address() as { port: number };
      const clients = await Promise.all([0, 1, 2, 3].map(() => new Promise<import('node:net').Socket>((r) => { const c = connect(port, '127.0.0.1', () => r(c)); })));
      await new Promise((r) => setTimeout(r, 20));
      // Written while the server's loop is blocked, so all four arrive before it polls again.
      clients.forEach((c, i) => c.write(Buffer.from([i])));
      const until = Date.now() + 30;
      while (Date.now() < until) { /* block the loop: the writes land in the kernel meanwhile */ }
      while (answers.length < 4) await new Promise((r) => setTimeout(r, 1));
      expect((await Promise.all(answers)).sort()).toEqual([0, 1, 2, 3]);
      expect(groups.map((g) => [...g].sort())).toEqual(expected);
      clients.forEach((c) => c.destroy());
      await new Promise((r) => server.close(r));
    }
  });

  it("gathering by 'microtask' cannot be starved by a caller that loops on promises alone", async () => {
    const committer = new BatchCommitter<number, number>(async (inputs) => inputs.map((value) => ({ ok: true, value })));
    let done = false;
    void committer.submit(7).then(() => (done = true));
    // A poll loop that never yields to I/O: it ends only if the commit happens within it.
    let spins = 0;
    while (!done && spins < 10_000) {
      await Promise.resolve();
      spins += 1;
    }
    expect(done).toBe(true);
  });
});
