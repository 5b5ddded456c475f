import type { Bus } from '../platform/outbox/bus.js';
import type { GavelModule, ModuleContext } from '../platform/module.js';
import { notificationsMigrations } from './migrations.js';
import { NOTIFIED_TOPICS } from './model.js';
import { notificationsRoutes } from './routes.js';
import { NotificationService } from './service.js';
import { NotificationsStore } from './store.js';

/** The inbox's durable consumer name: its checkpoint row in platform_outbox_consumers. */
export const INBOX_CONSUMER = 'notifications.inbox';

export interface NotificationsModule extends GavelModule {
  service: NotificationService;
}

export function createNotificationsModule(ctx: ModuleContext, deps: { bus: Bus }): NotificationsModule {
  const service = new NotificationService(new NotificationsStore(ctx.database), ctx.clock, ctx.logger.child({ module: 'notifications' }));
  deps.bus.subscribe(INBOX_CONSUMER, NOTIFIED_TOPICS, service.handleEvent);
  return {
    name: 'notifications',
    migrations: notificationsMigrations,
    service,
    routes: (app) => notificationsRoutes(app, service),
  };
}
