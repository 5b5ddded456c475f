import { join } from 'node:path';
import type { Idempotency } from '../platform/idempotency/idempotency.js';
import type { Bus } from '../platform/outbox/bus.js';
import type { GavelModule, ModuleContext } from '../platform/module.js';
import { deliveryRoutes } from './delivery-routes.js';
import { DeliveryService } from './delivery-service.js';
import { DeliveryWorkers, WORKER_DEFAULTS, type ContactOf, type WorkerOptions } from './delivery-workers.js';
import { fileMailer, smtpMailer, type Mailer } from './mailer.js';
import { notificationsMigrations } from './migrations.js';
import { NOTIFIED_TOPICS } from './model.js';
import { QueueStore } from './queue-store.js';
import { notificationsRoutes } from './routes.js';
import { NotificationService } from './service.js';
import { SettingsStore } from './settings-store.js';
import { NotificationsStore } from './store.js';

/** The inbox's durable consumer name: its checkpoint row in platform_outbox_consumers. */
export const INBOX_CONSUMER = 'notifications.inbox';

export interface NotificationsModule extends GavelModule {
  service: NotificationService;
  delivery: DeliveryService;
  /** The e-mail and webhook workers of this node (running only where deliveries are made). */
  workers: DeliveryWorkers;
  queue: QueueStore;
  /** Starts the workers on a node that delivers; called once the node is built. */
  startDelivery(): void;
}

export interface NotificationsDeps {
  bus: Bus;
  idempotency: Idempotency;
  /** A person's name and e-mail address (undefined: no such person any more). */
  contactOf: ContactOf;
  /** `deliver: false` keeps this node's workers idle (the worker role runs them); the rest tunes them. */
  delivery?: Partial<Omit<WorkerOptions, 'retry'>> & { retry?: Partial<WorkerOptions['retry']>; deliver?: boolean };
}

export function createNotificationsModule(ctx: ModuleContext, deps: NotificationsDeps): NotificationsModule {
  const logger = ctx.logger.child({ module: 'notifications' });
  const queue = new QueueStore(ctx.database);
  const settings = new SettingsStore(ctx.database);
  const service = new NotificationService(new NotificationsStore(ctx.database), ctx.clock, logger, { queue, settings });
  const { deliver = true, retry, ...tuning } = deps.delivery ?? {};
  const mailDir = ctx.config.mailDir ?? join(ctx.config.dataDir, 'mail');
  let mailer: Mailer | undefined;
  const lazyMailer: Mailer = {
    get describe() {
      return (mailer ??= makeMailer()).describe;
    },
    send: (mail) => (mailer ??= makeMailer()).send(mail),
    close: () => mailer?.close(),
  };
  const makeMailer = () => (ctx.config.smtpUrl ? smtpMailer(ctx.config.smtpUrl, ctx.config.mailFrom, ctx.config.notifyWorkers) : fileMailer(mailDir, ctx.config.mailFrom));
  const workers = new DeliveryWorkers(
    { queue, settings, mailer: lazyMailer, contactOf: deps.contactOf, clock: ctx.clock, logger },
    { workers: ctx.config.notifyWorkers, webhookAllowPrivate: ctx.config.webhookAllowPrivate, ...tuning, retry: { ...WORKER_DEFAULTS.retry, maxAttempts: ctx.config.notifyMaxAttempts, ...retry } },
  );
  service.onJobsQueued(() => workers.poke());
  const delivery = new DeliveryService(queue, settings, ctx.clock, () => workers.poke());
  deps.bus.subscribe(INBOX_CONSUMER, NOTIFIED_TOPICS, service.handleEvent);
  let delivering = false;
  return {
    name: 'notifications',
    migrations: notificationsMigrations,
    service,
    delivery,
    workers,
    queue,
    routes: (app) => {
      notificationsRoutes(app, service);
      deliveryRoutes(app, delivery, { idempotency: deps.idempotency, webhookAllowPrivate: ctx.config.webhookAllowPrivate });
    },
    startDelivery() {
      if (!deliver || delivering) return;
      delivering = true;
      workers.start();
      logger.info(
        { workers: workers.workerCount, maxAttempts: ctx.config.notifyMaxAttempts },
        ctx.config.smtpUrl
          ? `notification e-mail is sent over ${lazyMailer.describe}`
          : `notification e-mail is written as .eml files into ${mailDir} (set GAVEL_SMTP_URL to send it over SMTP)`,
      );
    },
    async stop() {
      if (delivering) await workers.stop();
      lazyMailer.close();
    },
  };
}
