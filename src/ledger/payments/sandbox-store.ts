// The sandbox provider's own state: what it was asked to collect or pay out, and the webhook
// events it owes Gavel. It stands in for a provider's systems, so nothing else reads it.
import type { Kysely } from 'kysely';
import { toNumber, type Database } from '../../platform/db/database.js';
import type { ProviderEventType } from './provider.js';

type Int = bigint | number;

export type SandboxKind = 'payment' | 'payout';
/** payment: pending → approved | declined. payout: pending → paid | failed. */
export type SandboxStatus = 'pending' | 'approved' | 'declined' | 'paid' | 'failed';
/** pending: owed to Gavel (retried). delivered: Gavel took it. rejected: Gavel answered 4xx. gave_up: too many failures. */
export type DeliveryState = 'pending' | 'delivered' | 'rejected' | 'gave_up';

export interface SandboxPayment {
  id: string;
  kind: SandboxKind;
  reference: string;
  amountMinor: bigint;
  currency: string;
  scale: number;
  description: string;
  status: SandboxStatus;
  expiresAtMs: number | null;
  createdAtMs: number;
  decidedAtMs: number | null;
}

export interface SandboxEvent {
  id: string;
  paymentId: string;
  type: ProviderEventType;
  /** The JSON body exactly as it is signed and sent. */
  body: string;
  state: DeliveryState;
  attempts: number;
  nextAttemptAtMs: number;
  lastStatus: number | null;
  createdAtMs: number;
}

interface PaymentsTable {
  id: string;
  kind: string;
  reference: string;
  amount_minor: Int;
  currency: string;
  scale: Int;
  description: string;
  status: string;
  expires_at_ms: Int | null;
  created_at_ms: Int;
  decided_at_ms: Int | null;
}

interface EventsTable {
  id: string;
  payment_id: string;
  type: string;
  body: string;
  state: string;
  attempts: Int;
  next_attempt_at_ms: Int;
  last_status: Int | null;
  created_at_ms: Int;
}

interface SandboxTables {
  ledger_sandbox_payments: PaymentsTable;
  ledger_sandbox_events: EventsTable;
}

type Executor = Kysely<SandboxTables>;

function toPayment(r: PaymentsTable): SandboxPayment {
  return {
    id: r.id,
    kind: r.kind as SandboxKind,
    reference: r.reference,
    amountMinor: BigInt(r.amount_minor),
    currency: r.currency,
    scale: toNumber(r.scale),
    description: r.description,
    status: r.status as SandboxStatus,
    expiresAtMs: r.expires_at_ms === null ? null : toNumber(r.expires_at_ms),
    createdAtMs: toNumber(r.created_at_ms),
    decidedAtMs: r.decided_at_ms === null ? null : toNumber(r.decided_at_ms),
  };
}

function toEvent(r: EventsTable): SandboxEvent {
  return {
    id: r.id,
    paymentId: r.payment_id,
    type: r.type as ProviderEventType,
    body: r.body,
    state: r.state as DeliveryState,
    attempts: toNumber(r.attempts),
    nextAttemptAtMs: toNumber(r.next_attempt_at_ms),
    lastStatus: r.last_status === null ? null : toNumber(r.last_status),
    createdAtMs: toNumber(r.created_at_ms),
  };
}

export class SandboxStore {
  private readonly db: Executor;

  constructor(private readonly database: Database) {
    this.db = database.kysely as unknown as Executor;
  }

  /** Inserts the payment unless one exists for (kind, reference); returns the stored one. */
  async insertOrGet(p: SandboxPayment): Promise<SandboxPayment> {
    try {
      await this.db
        .insertInto('ledger_sandbox_payments')
        .values({
          id: p.id,
          kind: p.kind,
          reference: p.reference,
          amount_minor: p.amountMinor,
          currency: p.currency,
          scale: p.scale,
          description: p.description,
          status: p.status,
          expires_at_ms: p.expiresAtMs,
          created_at_ms: p.createdAtMs,
          decided_at_ms: null,
        })
        .execute();
      return p;
    } catch (error) {
      if (!this.database.isUniqueViolation(error)) throw error;
      const row = await this.db.selectFrom('ledger_sandbox_payments').selectAll().where('kind', '=', p.kind).where('reference', '=', p.reference).executeTakeFirstOrThrow();
      return toPayment(row);
    }
  }

  async find(id: string): Promise<SandboxPayment | undefined> {
    const row = await this.db.selectFrom('ledger_sandbox_payments').selectAll().where('id', '=', id).executeTakeFirst();
    return row ? toPayment(row) : undefined;
  }

  async latestEventOf(paymentId: string): Promise<SandboxEvent | undefined> {
    const row = await this.db.selectFrom('ledger_sandbox_events').selectAll().where('payment_id', '=', paymentId).orderBy('created_at_ms', 'desc').executeTakeFirst();
    return row ? toEvent(row) : undefined;
  }

  /**
   * Settles a pending payment and queues its event, in one transaction; false when the payment
   * was not pending any more (someone settled it meanwhile).
   */
  async settle(paymentId: string, status: SandboxStatus, event: SandboxEvent, nowMs: number): Promise<boolean> {
    return this.db.transaction().execute(async (tx) => {
      const result = await tx.updateTable('ledger_sandbox_payments').set({ status, decided_at_ms: nowMs }).where('id', '=', paymentId).where('status', '=', 'pending').executeTakeFirst();
      if (result.numUpdatedRows === 0n) return false;
      await tx
        .insertInto('ledger_sandbox_events')
        .values({
          id: event.id,
          payment_id: event.paymentId,
          type: event.type,
          body: event.body,
          state: event.state,
          attempts: event.attempts,
          next_attempt_at_ms: event.nextAttemptAtMs,
          last_status: null,
          created_at_ms: event.createdAtMs,
        })
        .execute();
      return true;
    });
  }

  async recordAttempt(eventId: string, outcome: { state: DeliveryState; attempts: number; nextAttemptAtMs: number; lastStatus: number | null }): Promise<void> {
    await this.db
      .updateTable('ledger_sandbox_events')
      .set({ state: outcome.state, attempts: outcome.attempts, next_attempt_at_ms: outcome.nextAttemptAtMs, last_status: outcome.lastStatus })
      .where('id', '=', eventId)
      .execute();
  }

  /** Events still owed to Gavel whose next attempt is due, oldest first. */
  async dueEvents(nowMs: number, limit: number): Promise<SandboxEvent[]> {
    const rows = await this.db.selectFrom('ledger_sandbox_events').selectAll().where('state', '=', 'pending').where('next_attempt_at_ms', '<=', nowMs).orderBy('next_attempt_at_ms').limit(limit).execute();
    return rows.map(toEvent);
  }
}
