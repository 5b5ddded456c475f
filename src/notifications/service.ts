// The inbox's use cases: turning events into notifications (the outbox consumer) — the inbox
// entry and the delivery jobs for e-mail and webhooks, as each person's preferences choose —
// and a person reading, paging and marking their own. Nobody sees anyone else's: another
// person's notification id answers 404, as one that does not exist.
import { requirePrincipal, type Principal } from '../platform/auth/principal.js';
import type { Clock } from '../platform/clock.js';
import { fieldError } from '../platform/errors.js';
import { isUuid, uuidv7 } from '../platform/ids.js';
import type { Logger } from '../platform/logging.js';
import type { EventHandler } from '../platform/outbox/relay.js';
import { decodeCursor, pageOf, type Page } from '../platform/pagination.js';
import { laneOf } from './delivery-model.js';
import { defaultChoice, notificationsFor, type ChannelChoice, type Notification } from './model.js';
import type { DeliveryPayload, NewJob, QueueStore } from './queue-store.js';
import type { SettingsStore } from './settings-store.js';
import type { NotificationsStore } from './store.js';

/** Told of each new notification once it is committed: where WebSocket push plugs in (with /ws). */
export type NotificationListener = (notification: Notification) => void;

export interface InboxPage extends Page<Notification> {
  unreadCount: number;
}

export class NotificationService {
  private readonly listeners = new Set<NotificationListener>();

  /** Told after a commit that queued deliveries (the workers of this node look at once). */
  private jobsQueued: () => void = () => {};

  constructor(
    private readonly store: NotificationsStore,
    private readonly clock: Clock,
    private readonly logger: Logger,
    private readonly delivery: { queue: QueueStore; settings: SettingsStore },
  ) {}

  onJobsQueued(listener: () => void): void {
    this.jobsQueued = listener;
  }

  /** Registers a listener; returns the function that removes it. */
  onNotification(listener: NotificationListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * The outbox consumer. Writes through the delivery's transaction, so the notification, the
   * jobs for the other channels (as the recipient's preferences choose) and the checkpoint
   * commit together; an event seen again finds its notification and its jobs there already.
   */
  readonly handleEvent: EventHandler = async (event, delivery) => {
    const mapping = notificationsFor(event);
    if (!mapping.ok) {
      // Retrying cannot fix a producer's bug, and stalling would hold back everyone's
      // notifications behind it: it is logged loudly and passed. (Dead letters are for deliveries
      // that failed; this event never made one.)
      this.logger.error({ eventId: event.id, topic: event.topic, reason: mapping.reason }, 'event not notified: its payload is malformed');
      return;
    }
    if (mapping.drafts.length === 0) return;
    const nowMs = this.clock.nowMs();
    const recipients = mapping.drafts.map((d) => d.recipientUserId);
    const saved = await this.delivery.settings.savedPreferences(recipients, delivery.tx);
    const webhooks = await this.delivery.settings.webhooksOfAll(delivery.tx, recipients);
    const jobs: NewJob[] = [];
    for (const draft of mapping.drafts) {
      const notification: Notification = { ...draft, id: uuidv7(nowMs), eventId: event.id, createdAtMs: nowMs, readAtMs: null };
      const choice: ChannelChoice = saved.get(draft.recipientUserId)?.get(draft.kind) ?? defaultChoice(draft.kind);
      if (choice.inbox && (await this.store.insert(delivery.tx, notification))) delivery.afterCommit(() => this.tell(notification));
      const payload: DeliveryPayload = { id: notification.id, kind: draft.kind, title: draft.title, body: draft.body, data: draft.data, createdAt: new Date(nowMs).toISOString() };
      const job = (channel: NewJob['channel'], target: string): NewJob => ({
        id: uuidv7(nowMs),
        lane: laneOf(draft.recipientUserId, channel, target),
        eventId: event.id,
        recipientUserId: draft.recipientUserId,
        kind: draft.kind,
        channel,
        target,
        payload,
        createdAtMs: nowMs,
      });
      if (choice.email) jobs.push(job('email', ''));
      if (choice.webhook) for (const hook of webhooks.get(draft.recipientUserId) ?? []) jobs.push(job('webhook', hook.id));
    }
    if ((await this.delivery.queue.enqueue(delivery.tx, jobs)) > 0) delivery.afterCommit(() => this.jobsQueued());
  };

  private tell(notification: Notification): void {
    for (const listener of this.listeners) {
      try {
        listener(notification);
      } catch (error) {
        this.logger.error({ err: error, notificationId: notification.id }, 'a notification listener failed');
      }
    }
  }

  /** The caller's notifications, newest first, with how many are unread in all. */
  async list(caller: Principal | null, query: { unread?: boolean | undefined; limit: number; cursor?: string | undefined }): Promise<InboxPage> {
    const me = requirePrincipal(caller);
    const beforeId = query.cursor === undefined ? undefined : decodeCursor(query.cursor, isUuid);
    const rows = await this.store.list(me.userId, { unreadOnly: query.unread === true, beforeId, limit: query.limit + 1 });
    return { ...pageOf(rows, query.limit, (n) => n.id), unreadCount: await this.store.unreadCount(me.userId) };
  }

  /** Marks one of the caller's notifications read (again: no change) and returns it. */
  async markRead(caller: Principal | null, id: string): Promise<Notification> {
    const me = requirePrincipal(caller);
    const key = id.toLowerCase();
    await this.store.markRead(me.userId, key, this.clock.nowMs());
    const found = await this.store.find(me.userId, key);
    if (!found) throw fieldError('NOT_FOUND', 'params', 'id', 'you have no such notification');
    return found;
  }

  async markAllRead(caller: Principal | null): Promise<{ marked: number }> {
    const me = requirePrincipal(caller);
    return { marked: await this.store.markAllRead(me.userId, this.clock.nowMs()) };
  }
}
