// Batching for writers that do their work in bulk: inputs that arrive together are handed to
// `process` as one array; it runs one transaction for all of them and answers each input with
// a value or an error of its own. The processor sees the whole group at once, so it can read
// every row the group needs in one query and write every change in one statement per table.
// Nobody hears back before `process` returned, i.e. after its transaction committed.

export type Outcome<T> = { ok: true; value: T } | { ok: false; error: unknown };

/** The most inputs one transaction carries; the bound keeps a commit's latency in check. */
export const BATCH_COMMIT_MAX_UNITS = 256;

interface Pending<In, Out> {
  input: In;
  resolve: (value: Out) => void;
  reject: (error: unknown) => void;
}

export class BatchCommitter<In, Out> {
  private readonly queue: Pending<In, Out>[] = [];
  private draining = false;
  private inFlight = 0;

  /**
   * `maxInFlight` groups may commit at once: 1 for a single-writer database (their commits
   * queue anyway), more where the database overlaps one group's commit with the next one's work.
   *
   * `gather` decides when a group closes. 'microtask': at the end of the current synchronous
   * run — a caller that loops on promises alone (never yielding to I/O) cannot starve it.
   * 'turn': after the I/O callbacks already waiting in this turn of the event loop, so requests
   * that arrived together (each socket's message is its own callback) share one commit and one
   * fsync; for writers fed by network requests, whose callers always yield to I/O.
   */
  constructor(
    private readonly process: (inputs: In[]) => Promise<Outcome<Out>[]>,
    private readonly maxUnits: number = BATCH_COMMIT_MAX_UNITS,
    private readonly maxInFlight = 1,
    private readonly gather: 'microtask' | 'turn' = 'microtask',
  ) {}

  /** Resolves with this input's value once the group it joined has committed. */
  submit(input: In): Promise<Out> {
    return new Promise<Out>((resolve, reject) => {
      this.queue.push({ input, resolve, reject });
      if (!this.draining && this.inFlight < this.maxInFlight) {
        this.draining = true;
        // Not a timer either way: nothing waits longer than this turn of the event loop.
        if (this.gather === 'turn') setImmediate(() => this.drain());
        else queueMicrotask(() => this.drain());
      }
    });
  }

  /** Up to maxInFlight groups at a time: while they commit, the next one gathers. */
  private drain(): void {
    this.draining = false;
    while (this.queue.length > 0 && this.inFlight < this.maxInFlight) {
      const group = this.queue.splice(0, this.maxUnits);
      this.inFlight += 1;
      void this.commit(group).finally(() => {
        this.inFlight -= 1;
        this.drain();
      });
    }
  }

  private async commit(group: Pending<In, Out>[]): Promise<void> {
    let outcomes: Outcome<Out>[];
    try {
      outcomes = await this.process(group.map((unit) => unit.input));
    } catch (error) {
      // The transaction itself failed: nothing of the group was written.
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
