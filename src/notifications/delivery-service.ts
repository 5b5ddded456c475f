// What people and admins do with delivery: register webhooks and read their delivery log,
// choose channels per kind, and (admins) inspect and redrive dead letters. A person reaches only
// their own webhooks: anyone else's id answers 404, as one that does not exist.
import { randomBytes } from 'node:crypto';
import { requireAdmin, requirePrincipal, type Principal } from '../platform/auth/principal.js';
import type { Clock } from '../platform/clock.js';
import { AppError, fieldError } from '../platform/errors.js';
import { isUuid, uuidv7 } from '../platform/ids.js';
import { decodeCursor, pageOf, type Page } from '../platform/pagination.js';
import { webhookUrlProblem, WEBHOOKS_PER_PERSON_MAX } from './delivery-model.js';
import { preferencesFrom, type ChannelChoice, type NotificationKind, type Preferences } from './model.js';
import type { Attempt, Job, QueueStore } from './queue-store.js';
import type { SettingsStore, Webhook } from './settings-store.js';

/** Dead letters moved back per redrive-all call; the answer says how many remain. */
export const REDRIVE_ALL_MAX = 10_000;

export type PreferencesPatch = Partial<Record<NotificationKind, Partial<ChannelChoice>>>;

export class DeliveryService {
  constructor(
    private readonly queue: QueueStore,
    private readonly settings: SettingsStore,
    private readonly clock: Clock,
    /** Told when dead letters are due again, so this node's workers look at once. */
    private readonly jobsQueued: () => void,
  ) {}

  // --- webhooks --------------------------------------------------------------------------

  /** Registers a webhook; the answer is the only time its secret is shown. */
  async registerWebhook(caller: Principal | null, input: { url: string; description?: string | undefined }): Promise<Webhook> {
    const me = requirePrincipal(caller);
    const problem = webhookUrlProblem(input.url);
    if (problem) throw fieldError('VALIDATION', 'body', 'url', problem);
    const nowMs = this.clock.nowMs();
    const webhook: Webhook = { id: uuidv7(nowMs), userId: me.userId, url: input.url, description: input.description ?? '', secret: `whsec_${randomBytes(32).toString('base64url')}`, createdAtMs: nowMs };
    if (!(await this.settings.insertWebhook(webhook, WEBHOOKS_PER_PERSON_MAX))) {
      throw new AppError('WEBHOOK_LIMIT_REACHED', `you have ${WEBHOOKS_PER_PERSON_MAX} webhooks already; delete one first`);
    }
    return webhook;
  }

  async listWebhooks(caller: Principal | null): Promise<Webhook[]> {
    return this.settings.webhooksOf(requirePrincipal(caller).userId);
  }

  /** Deletes one of the caller's webhooks; its waiting deliveries are cancelled with it. */
  async deleteWebhook(caller: Principal | null, id: string): Promise<void> {
    const me = requirePrincipal(caller);
    const nowMs = this.clock.nowMs();
    const deleted = await this.settings.deleteWebhook(me.userId, id.toLowerCase(), (tx) => this.queue.cancelTarget(tx, id.toLowerCase(), nowMs));
    if (!deleted) throw fieldError('NOT_FOUND', 'params', 'id', 'you have no such webhook');
  }

  /** Every attempt at delivering to one of the caller's webhooks, newest first. */
  async webhookDeliveries(caller: Principal | null, id: string, query: { limit: number; cursor?: string | undefined }): Promise<Page<Attempt>> {
    const me = requirePrincipal(caller);
    const webhook = await this.settings.findWebhook(id.toLowerCase());
    if (!webhook || webhook.userId !== me.userId) throw fieldError('NOT_FOUND', 'params', 'id', 'you have no such webhook');
    const beforeId = query.cursor === undefined ? undefined : decodeCursor(query.cursor, isUuid);
    const rows = await this.queue.attemptsOf(webhook.id, { beforeId, limit: query.limit + 1 });
    return pageOf(rows, query.limit, (a) => a.id);
  }

  // --- preferences -----------------------------------------------------------------------

  async preferences(caller: Principal | null): Promise<Preferences> {
    const me = requirePrincipal(caller);
    const saved = await this.settings.savedPreferences([me.userId]);
    return preferencesFrom(saved.get(me.userId) ?? new Map());
  }

  /** Changes the channels named for the kinds named; everything else stays as it was. */
  async updatePreferences(caller: Principal | null, patch: PreferencesPatch): Promise<Preferences> {
    const me = requirePrincipal(caller);
    const current = await this.preferences(me);
    const changed = new Map<NotificationKind, ChannelChoice>();
    for (const [kind, choice] of Object.entries(patch) as Array<[NotificationKind, Partial<ChannelChoice>]>) {
      changed.set(kind, { ...current[kind], ...choice });
    }
    await this.settings.savePreferences(me.userId, changed, this.clock.nowMs());
    for (const [kind, choice] of changed) current[kind] = choice;
    return current;
  }

  // --- dead letters (admin) --------------------------------------------------------------

  async deadLetters(caller: Principal | null, query: { limit: number; cursor?: string | undefined }): Promise<Page<Job> & { total: number }> {
    requireAdmin(caller);
    const beforeId = query.cursor === undefined ? undefined : decodeCursor(query.cursor, isUuid);
    const rows = await this.queue.listDead({ beforeId, limit: query.limit + 1 });
    return { ...pageOf(rows, query.limit, (j) => j.id), total: await this.queue.countDead() };
  }

  /** Sends one dead letter again from its first attempt; it goes back to its lane. */
  async redrive(caller: Principal | null, id: string): Promise<Job> {
    requireAdmin(caller);
    const key = id.toLowerCase();
    const nowMs = this.clock.nowMs();
    const moved = await this.queue.redrive({ ids: [key], limit: 1, nowMs });
    const job = await this.queue.find(key);
    if (!job) throw fieldError('NOT_FOUND', 'params', 'id', 'no such delivery');
    if (moved === 0) throw new AppError('DELIVERY_NOT_DEAD', `the delivery is ${job.state}, not a dead letter`);
    this.jobsQueued();
    // The job as the redrive left it: a worker may already have leased it (or even sent it)
    // between the redrive and the read above, which is not what this answer is about.
    return { ...job, state: 'pending', attempts: 0, dueAtMs: nowMs, leaseToken: null, finishedAtMs: null };
  }

  async redriveAll(caller: Principal | null): Promise<{ redriven: number; remaining: number }> {
    requireAdmin(caller);
    const redriven = await this.queue.redrive({ limit: REDRIVE_ALL_MAX, nowMs: this.clock.nowMs() });
    if (redriven > 0) this.jobsQueued();
    return { redriven, remaining: await this.queue.countDead() };
  }
}
