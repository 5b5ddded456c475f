// N workers delivering the queue's jobs (e-mail, webhooks) on a worker node. One claim
// statement fills every idle worker with the due head of a different lane; each delivery runs
// outside any transaction under a lease; outcomes that finish together are written in one
// transaction with the next claim, an asynchronous commit (queue-store.ts: finishAndClaim).
// Several nodes may run
// workers on one database: a job is leased to one of them, and a node that dies mid-delivery
// leaves its jobs due again when their leases end.
import assert from 'node:assert/strict';
import type { Clock } from '../platform/clock.js';
import { uuidv7 } from '../platform/ids.js';
import type { Logger } from '../platform/logging.js';
import { nextStep, type AttemptOutcome, type RetryPolicy } from './delivery-model.js';
import type { Mailer } from './mailer.js';
import type { Finished, Job, QueueStore } from './queue-store.js';
import type { SettingsStore } from './settings-store.js';
import type { HostResolver } from './webhook-address.js';
import { postWebhook } from './webhook-sender.js';

export interface WorkerOptions {
  /** Deliveries in flight at once. */
  workers: number;
  retry: RetryPolicy;
  /** How long a claimed job is a worker's; longer than any one attempt may take. */
  leaseMs: number;
  /** How often idle workers look for jobs nobody poked about (another node's, retries coming due). */
  pollIntervalMs: number;
  webhookTimeoutMs: number;
  /**
   * How long a turn may wait for the deliveries under way to finish, so their outcomes share
   * one commit with the next claim.
   */
  gatherMs: number;
  /** Finished jobs and attempts are kept this long (the delivery log), then pruned. */
  retentionMs: number;
  pruneIntervalMs: number;
  /** Webhooks may go to private, loopback and link-local addresses (GAVEL_WEBHOOK_ALLOW_PRIVATE). */
  webhookAllowPrivate: boolean;
  /** Resolves webhook host names; the system resolver when absent (tests pass their own). */
  resolveWebhookHost?: HostResolver;
}

export const WORKER_DEFAULTS: WorkerOptions = {
  workers: 10,
  // 8 attempts: waits of up to 15 s, 30 s, 1 min … 16 min: about half an hour of trying at most.
  retry: { maxAttempts: 8, firstDelayMs: 15_000, maxDelayMs: 60 * 60_000 },
  leaseMs: 60_000,
  pollIntervalMs: 250,
  webhookTimeoutMs: 10_000,
  gatherMs: 5,
  retentionMs: 7 * 24 * 60 * 60_000,
  pruneIntervalMs: 10 * 60_000,
  webhookAllowPrivate: false,
};

/** A person's name and address, looked up when a mail is sent (so a changed address is used). */
export type ContactOf = (userId: string) => Promise<{ name: string; email: string } | undefined>;

export interface WorkerDeps {
  queue: QueueStore;
  settings: SettingsStore;
  mailer: Mailer;
  contactOf: ContactOf;
  clock: Clock;
  logger: Logger;
  /** In [0, 1): the jitter of retries. */
  random?: () => number;
}

/** An attempt's result before it is written: 'cancelled' when its destination is gone. */
type Result = (AttemptOutcome & { cancelled?: false; statusCode: number | null; permanent?: true }) | { ok: false; cancelled: true; error: string; statusCode: null };

export class DeliveryWorkers {
  private readonly options: WorkerOptions;
  private readonly random: () => number;
  /** Deliveries under way, by job: each holds a worker until its outcome is handed over. */
  private readonly running = new Map<string, Promise<void>>();
  /** Outcomes waiting for the next turn's commit, with who waits for them. */
  private done: Array<{ finished: Finished; written: (applied: boolean | undefined) => void }> = [];
  private started = false;
  private stopped = false;
  private turning: Promise<void> | undefined;
  private again = false;
  private poller: NodeJS.Timeout | undefined;
  private lastPruneMs = -Infinity;
  private failures = 0;
  /** Set while a turn gathers outcomes: told each time a delivery hands one over. */
  private handedOver: (() => void) | undefined;

  constructor(
    private readonly deps: WorkerDeps,
    options: Partial<WorkerOptions> = {},
  ) {
    this.options = { ...WORKER_DEFAULTS, ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) };
    assert(this.options.workers >= 1 && this.options.retry.maxAttempts >= 1 && this.options.leaseMs > this.options.webhookTimeoutMs);
    this.random = deps.random ?? Math.random;
  }

  get workerCount(): number {
    return this.options.workers;
  }

  start(): void {
    assert(!this.started, 'the workers start once');
    this.started = true;
    this.poller = setInterval(() => this.poke(), this.options.pollIntervalMs);
    this.poller.unref();
    this.poke();
  }

  /** Stops taking jobs, waits for the deliveries under way and writes how they went. */
  async stop(): Promise<void> {
    if (!this.started || this.stopped) return;
    this.stopped = true;
    clearInterval(this.poller);
    await this.turning;
    await Promise.all([...this.running.values()]);
    await this.turning;
    if (this.done.length > 0) await this.turn();
    // Whatever could not be written stays leased; the lease ends and another worker retries.
    for (const d of this.done.splice(0)) d.written(undefined);
  }

  /** Looks for jobs now (new ones were committed); cheap to call often. */
  poke(): void {
    if (!this.started) return;
    if (this.turning) {
      this.again = true;
      return;
    }
    this.turning = this.turns().finally(() => {
      this.turning = undefined;
    });
  }

  /**
   * Turns until there is nothing to write and no worker to fill: each turn is one commit that
   * writes the outcomes gathered since the last and leases jobs for the idle workers.
   */
  private async turns(): Promise<void> {
    do {
      this.again = false;
      // Outcomes that end in the same turn of the event loop share the commit.
      await new Promise((resolve) => setImmediate(resolve));
      await this.gather();
      await this.turn();
      await this.pruneNowAndThen();
    } while (this.again && (!this.stopped || this.done.length > 0));
  }

  /** With outcomes to write and deliveries still under way: waits for those, up to gatherMs. */
  private async gather(): Promise<void> {
    if (this.done.length === 0 || this.running.size === 0 || this.stopped || this.options.gatherMs <= 0) return;
    await new Promise<void>((resolve) => {
      const finish = () => {
        clearTimeout(timer);
        this.handedOver = undefined;
        resolve();
      };
      const timer = setTimeout(finish, this.options.gatherMs);
      this.handedOver = () => {
        if (this.running.size === 0) finish();
      };
    });
  }

  private async turn(): Promise<void> {
    const outcomes = this.done.splice(0);
    const free = this.stopped ? 0 : this.options.workers - this.running.size;
    if (outcomes.length === 0 && free <= 0) return;
    const nowMs = this.deps.clock.nowMs();
    let applied: Set<string>;
    let claimed: Job[];
    try {
      ({ applied, claimed } = await this.deps.queue.finishAndClaim(
        outcomes.map((o) => o.finished),
        { nowMs, leaseMs: this.options.leaseMs, limit: free, leaseToken: uuidv7(nowMs) },
      ));
      this.failures = 0;
    } catch (error) {
      // Storage away: keep the outcomes for the next turn (the poll) — their leases outlast it.
      this.done.unshift(...outcomes);
      this.failures += 1;
      this.deps.logger[this.failures >= 5 ? 'error' : 'warn']({ err: error, attempt: this.failures }, 'writing or claiming notification deliveries failed');
      return;
    }
    for (const o of outcomes) o.written(applied.has(o.finished.jobId));
    for (const job of claimed) this.launch(job);
    // A full claim may have left more behind.
    if (free > 0 && claimed.length === free) this.again = true;
  }

  private launch(job: Job): void {
    const run = this.deliver(job)
      .catch((error: unknown) => this.deps.logger.error({ err: error, jobId: job.id }, 'a notification delivery failed unexpectedly; it is tried again when its lease ends'))
      .finally(() => {
        if (this.running.delete(job.id)) {
          this.handedOver?.();
          this.poke();
        }
      });
    this.running.set(job.id, run);
  }

  /** Passes an outcome to the next turn's commit (the worker is free then); logs what became of it once written. */
  private handOver(finished: Finished, job: Job, error: string | null): void {
    const written = new Promise<boolean | undefined>((resolve) => this.done.push({ finished, written: resolve }));
    this.running.delete(job.id);
    this.handedOver?.();
    this.poke();
    if (!finished.attempt) return;
    const about = { jobId: job.id, channel: job.channel, recipientUserId: job.recipientUserId, kind: job.kind, attempt: finished.attempt.attempt };
    void written.then((applied) => {
      if (applied === undefined) this.deps.logger.warn(about, 'the outcome of a notification delivery was not written before stopping; it is tried again when its lease ends');
      else if (!applied) this.deps.logger.warn(about, 'a notification delivery outlived its lease; another worker has it');
      else if (finished.state === 'dead') this.deps.logger.error({ ...about, error }, 'notification delivery failed for the last time: dead letter');
      else if (finished.state === 'pending') this.deps.logger.warn({ ...about, error, retryInMs: finished.dueAtMs - finished.nowMs }, 'notification delivery failed; retrying');
    });
  }

  /** One attempt at one job (counted when it was leased); hands its outcome over. */
  private async deliver(job: Job): Promise<void> {
    const attempt = job.attempts;
    const startedMs = performance.now();
    const result = await this.attempt(job, attempt).catch((error: unknown): Result => ({ ok: false, error: errorText(error), statusCode: null }));
    const durationMs = Math.round(performance.now() - startedMs);
    const nowMs = this.deps.clock.nowMs();
    // A destination that is not allowed stays so: a dead letter at once, not after every retry.
    const step = result.cancelled ? ({ state: 'cancelled' } as const) : result.permanent ? ({ state: 'dead' } as const) : nextStep(result, attempt, this.options.retry, nowMs, this.random());
    const error = result.ok ? null : result.error;
    if (result.cancelled) {
      this.deps.logger.info({ jobId: job.id, channel: job.channel, recipientUserId: job.recipientUserId, reason: error }, 'notification delivery cancelled');
      this.handOver({ jobId: job.id, leaseToken: job.leaseToken!, state: 'cancelled', dueAtMs: job.dueAtMs, error, nowMs, attempt: undefined }, job, error);
      return;
    }
    this.handOver(
      {
        jobId: job.id,
        leaseToken: job.leaseToken!,
        state: step.state,
        dueAtMs: step.state === 'pending' ? step.dueAtMs : job.dueAtMs,
        error,
        nowMs,
        attempt: {
          id: uuidv7(nowMs),
          jobId: job.id,
          notificationId: job.payload.id,
          kind: job.kind,
          webhookId: job.channel === 'webhook' ? job.target : null,
          channel: job.channel,
          attempt,
          outcome: result.ok ? 'delivered' : 'failed',
          statusCode: result.statusCode,
          error,
          durationMs,
          atMs: nowMs,
        },
      },
      job,
      error,
    );
  }

  /** One try at the destination. */
  private async attempt(job: Job, attempt: number): Promise<Result> {
    if (job.channel === 'email') {
      const contact = await this.deps.contactOf(job.recipientUserId);
      if (!contact) return { ok: false, cancelled: true, error: 'the person no longer exists', statusCode: null };
      await this.deps.mailer.send({
        id: job.id,
        to: { name: contact.name, address: contact.email },
        subject: job.payload.title,
        text: mailText(contact.name, job),
        headers: { 'X-Gavel-Notification-Id': job.payload.id, 'X-Gavel-Kind': job.kind },
      });
      return { ok: true, statusCode: null };
    }
    const webhook = await this.deps.settings.findWebhook(job.target);
    if (!webhook || webhook.userId !== job.recipientUserId) return { ok: false, cancelled: true, error: 'the webhook was deleted', statusCode: null };
    const body = JSON.stringify({ id: job.id, type: 'notification', webhookId: webhook.id, userId: job.recipientUserId, notification: job.payload });
    const answer = await postWebhook(
      { url: webhook.url, secret: webhook.secret, webhookId: webhook.id, deliveryId: job.id, attempt, body, timestampS: Math.floor(this.deps.clock.nowMs() / 1000) },
      { timeoutMs: this.options.webhookTimeoutMs, allowPrivate: this.options.webhookAllowPrivate, resolve: this.options.resolveWebhookHost },
    );
    return answer.ok ? { ok: true, statusCode: answer.statusCode } : { ok: false, error: answer.error ?? 'failed', statusCode: answer.statusCode, ...(answer.permanent && { permanent: true }) };
  }

  private async pruneNowAndThen(): Promise<void> {
    const now = performance.now();
    if (now - this.lastPruneMs < this.options.pruneIntervalMs) return;
    this.lastPruneMs = now;
    try {
      const deleted = await this.deps.queue.prune(this.deps.clock.nowMs() - this.options.retentionMs);
      if (deleted > 0) this.deps.logger.info({ deleted }, 'pruned finished notification deliveries');
    } catch (error) {
      this.deps.logger.error({ err: error }, 'pruning notification deliveries failed');
    }
  }
}

function mailText(name: string, job: Job): string {
  return [
    `Hello ${name},`,
    '',
    job.payload.body,
    '',
    '-- ',
    `Gavel. You get this e-mail for "${job.kind}" notifications; choose which kinds reach you by e-mail with PUT /api/notifications/preferences.`,
    '',
  ].join('\n');
}

function errorText(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.slice(0, 500);
}
