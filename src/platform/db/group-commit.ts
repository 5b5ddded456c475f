// Group commit for a single-writer database (SQLite): units of work that arrive together run
// in one transaction, each inside its own savepoint, and the transaction commits once. A unit
// that fails rolls back to its savepoint alone. Nobody hears "done" before the commit: the
// results are handed out only after it, so durability is unchanged and one fsync is shared.
import type { Kysely, Transaction } from 'kysely';

/** The most units one transaction carries; the bound keeps a commit's latency in check. */
export const GROUP_COMMIT_MAX_UNITS = 256;

interface Pending<DB> {
  work: (tx: Transaction<DB>) => Promise<unknown>;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

export class GroupCommitter<DB> {
  private readonly queue: Pending<DB>[] = [];
  private draining = false;

  constructor(
    private readonly db: Kysely<DB>,
    private readonly maxUnits: number = GROUP_COMMIT_MAX_UNITS,
  ) {}

  /** Runs `work` in the next group's transaction; resolves after that transaction committed. */
  run<T>(work: (tx: Transaction<DB>) => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ work, resolve: resolve as (value: unknown) => void, reject });
      if (!this.draining) {
        this.draining = true;
        // A microtask, not a timer: callers queued in this synchronous run join the first
        // group, and a caller looping on promises alone cannot starve the drain.
        queueMicrotask(() => void this.drain());
      }
    });
  }

  private async drain(): Promise<void> {
    try {
      while (this.queue.length > 0) await this.commitGroup(this.queue.splice(0, this.maxUnits));
    } finally {
      this.draining = false;
      if (this.queue.length > 0) {
        this.draining = true;
        queueMicrotask(() => void this.drain());
      }
    }
  }

  private async commitGroup(group: Pending<DB>[]): Promise<void> {
    const outcomes: Array<{ ok: true; value: unknown } | { ok: false; error: unknown }> = [];
    let trx;
    try {
      trx = await this.db.startTransaction().execute();
      for (const unit of group) {
        const sp = await trx.savepoint('unit').execute();
        try {
          const value = await unit.work(sp as unknown as Transaction<DB>);
          await sp.releaseSavepoint('unit').execute();
          outcomes.push({ ok: true, value });
        } catch (error) {
          await sp.rollbackToSavepoint('unit').execute();
          outcomes.push({ ok: false, error });
        }
      }
      await trx.commit().execute();
    } catch (error) {
      // The transaction itself failed: nothing of the group was written.
      if (trx) await trx.rollback().execute().catch(() => {});
      for (const unit of group) unit.reject(error);
      return;
    }
    group.forEach((unit, i) => {
      const outcome = outcomes[i]!;
      if (outcome.ok) unit.resolve(outcome.value);
      else unit.reject(outcome.error);
    });
  }
}
