// Top-ups and withdrawals, put together: the store, the provider (the built-in sandbox), the
// service, its routes, the webhook secret, and the sweep a worker runs. The ledger module
// starts and stops it with itself.
import { randomBytes } from 'node:crypto';
import type { Idempotency } from '../../platform/idempotency/idempotency.js';
import type { EventPublisher } from '../../platform/outbox/bus.js';
import type { HttpServer } from '../../platform/http/server.js';
import type { ModuleContext } from '../../platform/module.js';
import type { LedgerService } from '../service.js';
import { selfDeliver } from './deliver.js';
import type { PaymentProvider } from './provider.js';
import { paymentsRoutes } from './routes.js';
import { SandboxProvider } from './sandbox-provider.js';
import { SandboxStore } from './sandbox-store.js';
import { PaymentsService } from './service.js';
import { PaymentsStore } from './store.js';

/** How often a worker expires unconfirmed top-ups and retries the sandbox's webhooks. */
export const PAYMENTS_SWEEP_INTERVAL_MS = 5_000;
const SECRET_SETTING = 'webhook_secret';

export interface Payments {
  service: PaymentsService;
  provider: PaymentProvider;
  routes(app: HttpServer): void;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export function createPayments(ctx: ModuleContext, deps: { ledger: LedgerService; idempotency: Idempotency; events: EventPublisher }): Payments {
  const logger = ctx.logger.child({ module: 'ledger', part: 'payments' });
  const store = new PaymentsStore(ctx.database);
  let secret: string | undefined;
  let http: HttpServer | undefined;
  const provider = new SandboxProvider({
    store: new SandboxStore(ctx.database),
    clock: ctx.clock,
    logger: logger.child({ provider: 'sandbox' }),
    secret: () => {
      if (secret === undefined) throw new Error('payments have not started: no webhook secret yet');
      return secret;
    },
    deliver: selfDeliver(() => http),
  });
  const service = new PaymentsService(store, deps.ledger, provider, ctx.clock, logger, deps.events);

  let sweeper: NodeJS.Timeout | undefined;
  let sweeping: Promise<unknown> | undefined;
  const sweep = async () => {
    await service.expireTopups();
    await service.pruneEvents();
    // The sandbox reaches Gavel through this node's own HTTP server, so only where it serves one.
    if (http) await provider.sweep();
  };

  return {
    service,
    provider,
    routes(app) {
      http = app;
      paymentsRoutes(app, { payments: service, provider, ledger: deps.ledger, idempotency: deps.idempotency, clock: ctx.clock });
      provider.routes(app);
    },
    async start() {
      secret = ctx.config.paymentsWebhookSecret ?? (await store.setting(SECRET_SETTING));
      if (secret === undefined) {
        const generated = `whsec_${randomBytes(32).toString('hex')}`;
        secret = await store.settingOrInsert(SECRET_SETTING, generated, ctx.clock.nowMs());
        // Never the secret itself: only that one now exists.
        if (secret === generated) logger.info('generated a payments webhook secret and kept it in the database (GAVEL_PAYMENTS_WEBHOOK_SECRET sets your own)');
      }
      if (ctx.config.roles.has('worker')) {
        sweeper = setInterval(() => {
          // One sweep at a time: a slow one is not joined by the next.
          sweeping ??= sweep()
            .catch((error: unknown) => logger.error({ err: error }, 'payments sweep failed'))
            .finally(() => {
              sweeping = undefined;
            });
        }, PAYMENTS_SWEEP_INTERVAL_MS);
        sweeper.unref();
      }
    },
    async stop() {
      clearInterval(sweeper);
      await sweeping;
    },
  };
}
