// The purchase saga's dead letters, for admins: messages a consumer could not use (not an Avro
// envelope, an unknown schema or version, bytes that do not decode, a reply about no purchase),
// kept in orders_purchase_dead_letters while the consumer went on with the next message.
//
// What an admin may do with one:
// - read it, with whether it can be used *now*: a message from a newer producer ("has no
//   version 2 here") becomes readable once this node knows that version;
// - redrive it: only when it decodes now, is on a topic the recorded consumer reads, and names a
//   purchase that exists and has not ended (nothing waits for a message about an ended one).
//   It is put back on the bus as it was sent (same topic, key and bytes, a new event id) in the
//   commit that deletes the dead letter, so it is delivered again through the usual path, at
//   least once. That is safe because every purchase consumer is idempotent: the orchestrator
//   applies a reply only when it fits the step in flight, a participant acts once per purchase
//   and command, behind the fences compensations leave (a late command does nothing), and every
//   effect once per reference. A message that still cannot be used is refused and stays;
// - discard it: deleted, with a warning in the log naming the admin and the message.
import type { Kysely } from 'kysely';
import { requireAdmin, type Principal } from '../platform/auth/principal.js';
import { AvroDecodeError, type AvroEnvelope, type SchemaRegistry } from '../platform/bus/avro.js';
import { AppError, fieldError } from '../platform/errors.js';
import type { Logger } from '../platform/logging.js';
import type { EventPublisher } from '../platform/outbox/bus.js';
import type { DeadLetter, PurchaseStore } from './purchase-store.js';
import { PurchaseDeadLetterStore, type DeadLetterKey } from './purchase-dead-letter-store.js';
import { PARTICIPANT_CONSUMERS, PARTICIPANT_OF } from './purchase-participants.js';
import { PURCHASE_SAGA_CONSUMER } from './purchase-saga.js';
import { COMMAND_NAMES, decodeMessage, REPLY_NAMES, topicOf } from './purchase-schemas.js';
import type { PurchaseStatus, SagaCommand, SagaReply } from './purchase-model.js';

/** The consumer that reads each purchase topic: commands their participant, replies the orchestrator. */
const CONSUMER_OF_TOPIC = new Map<string, string>([
  ...COMMAND_NAMES.map((name) => [topicOf(name), PARTICIPANT_CONSUMERS[PARTICIPANT_OF[name]]] as const),
  ...REPLY_NAMES.map((name) => [topicOf(name), PURCHASE_SAGA_CONSUMER] as const),
]);

/** What a dead letter is, judged with what this node knows now. */
export type Assessment =
  | { redrivable: true; message: SagaCommand | SagaReply; problem: null }
  | { redrivable: false; message: SagaCommand | SagaReply | null; problem: string };

export interface AssessedLetter {
  letter: DeadLetter;
  assessment: Assessment;
}

export interface DeadLetterDeps {
  store: PurchaseStore;
  registry: SchemaRegistry;
  events: EventPublisher;
  logger: Logger;
}

export class PurchaseDeadLetters {
  private readonly letters: PurchaseDeadLetterStore;

  constructor(private readonly d: DeadLetterDeps) {
    this.letters = new PurchaseDeadLetterStore(d.store);
  }

  /** A page of dead letters, newest first, each assessed; `total` counts them all. */
  async list(caller: Principal | null, query: { limit: number; after?: DeadLetterKey | undefined }): Promise<{ items: AssessedLetter[]; more: boolean; total: number }> {
    requireAdmin(caller);
    const rows = await this.letters.page(query.after, query.limit + 1);
    const page = rows.slice(0, query.limit);
    const decoded = page.map((letter) => this.decode(letter));
    const ids = decoded.flatMap((d) => (d.message ? [d.message.purchaseId] : []));
    const statuses = await this.letters.purchaseStatuses(ids);
    const items = page.map((letter, i) => ({ letter, assessment: judge(letter, decoded[i]!, statuses) }));
    return { items, more: rows.length > query.limit, total: await this.letters.count() };
  }

  async get(caller: Principal | null, key: DeadLetterKey): Promise<AssessedLetter> {
    requireAdmin(caller);
    const letter = await this.letters.find(key);
    if (!letter) throw notFound();
    return { letter, assessment: await this.assess(letter) };
  }

  /**
   * Puts the message back on the bus and deletes the dead letter, in one commit; refused
   * (DEAD_LETTER_NOT_REDRIVABLE, nothing changed) when it still cannot be used.
   */
  async redrive(caller: Principal | null, key: DeadLetterKey): Promise<{ letter: DeadLetter; eventId: string; purchaseId: string }> {
    const admin = requireAdmin(caller);
    const done = await this.d.store.db.transaction().execute(async (tx) => {
      // Deleted first: of two admins redriving at once, one finds it gone (404) and sends nothing.
      const letter = await this.letters.remove(key, tx);
      if (!letter) throw notFound();
      const assessment = await this.assess(letter, tx);
      // Throwing rolls the delete back: the dead letter stays as it was.
      if (!assessment.redrivable) throw new AppError('DEAD_LETTER_NOT_REDRIVABLE', `the message still cannot be used: ${assessment.problem}`);
      const purchaseId = assessment.message.purchaseId;
      const envelope = letter.payload as AvroEnvelope;
      const eventId = await this.d.events.append(tx, { topic: letter.topic, key: purchaseId, version: envelope.version, payload: envelope });
      return { letter, eventId, purchaseId };
    });
    this.d.events.poke();
    this.d.logger.warn(
      { audit: 'purchase_dead_letter_redriven', adminId: admin.userId, consumer: key.consumer, eventId: key.eventId, topic: done.letter.topic, purchaseId: done.purchaseId, newEventId: done.eventId },
      'purchase dead letter redriven by an admin',
    );
    return done;
  }

  /** Deletes the dead letter for good; the log keeps who did it and what it was. */
  async discard(caller: Principal | null, key: DeadLetterKey): Promise<DeadLetter> {
    const admin = requireAdmin(caller);
    const letter = await this.letters.remove(key);
    if (!letter) throw notFound();
    this.d.logger.warn(
      { audit: 'purchase_dead_letter_discarded', adminId: admin.userId, consumer: letter.consumer, eventId: letter.eventId, topic: letter.topic, reason: letter.reason, payload: letter.payload },
      'purchase dead letter discarded by an admin',
    );
    return letter;
  }

  private async assess(letter: DeadLetter, ex?: Kysely<any>): Promise<Assessment> {
    const decoded = this.decode(letter);
    const statuses = await this.letters.purchaseStatuses(decoded.message ? [decoded.message.purchaseId] : [], ex);
    return judge(letter, decoded, statuses);
  }

  private decode(letter: DeadLetter): { message: SagaCommand | SagaReply | null; problem: string | null } {
    try {
      return { message: decodeMessage<SagaCommand | SagaReply>(this.d.registry, letter), problem: null };
    } catch (error) {
      if (!(error instanceof AvroDecodeError)) throw error;
      return { message: null, problem: error.message };
    }
  }
}

/** Whether a decoded letter may go back on the bus: read by the consumer that dead-lettered it, about a purchase still open. */
function judge(letter: DeadLetter, decoded: { message: SagaCommand | SagaReply | null; problem: string | null }, statuses: ReadonlyMap<string, PurchaseStatus>): Assessment {
  const { message } = decoded;
  if (!message) return { redrivable: false, message: null, problem: decoded.problem ?? 'the message cannot be read' };
  const reader = CONSUMER_OF_TOPIC.get(letter.topic);
  if (reader !== letter.consumer) return { redrivable: false, message, problem: `${letter.topic} is read by ${reader ?? 'no purchase consumer'}, not ${letter.consumer}` };
  const status = statuses.get(message.purchaseId);
  if (status === undefined) return { redrivable: false, message, problem: `no purchase ${message.purchaseId}` };
  if (status === 'completed' || status === 'compensated') return { redrivable: false, message, problem: `purchase ${message.purchaseId} has ended (${status}): nothing waits for this message` };
  return { redrivable: true, message, problem: null };
}

function notFound(): AppError {
  return fieldError('NOT_FOUND', 'params', 'eventId', 'no such dead letter');
}
