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
});
