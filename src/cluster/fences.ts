// Fencing: storage's side of market ownership (leases.ts). Each market has the highest lease
// token that has written to it; a write carrying a lower token comes from an engine that lost
// the lease (and may not know it yet), and is refused inside the same transaction as the
// journal append it guards, so nothing of it commits. Two engines can therefore never both
// append to one market's journal, whatever their clocks or pauses.
import type { Kysely } from 'kysely';

/** Thrown inside the append's transaction: the writer's lease was superseded. */
export class FencedError extends Error {
  readonly code = 'FENCED';
  constructor(
    readonly market: string,
    readonly token: number,
  ) {
    super(`market ${market}: lease token ${token} is superseded by a later owner; this engine no longer owns it`);
    this.name = 'FencedError';
  }
}

/**
 * Records that `token`'s holder writes to `market` in transaction `ex`, or throws FencedError
 * when a larger token has written already. Equal tokens pass (the same owner, again).
 */
export async function checkFence(ex: Kysely<any>, market: string, token: number, nowMs: number): Promise<void> {
  const row = await ex
    .insertInto('cluster_fences')
    .values({ market, token, updated_at_ms: nowMs })
    .onConflict((oc) =>
      oc
        .column('market')
        .doUpdateSet((eb) => ({ token: eb.ref('excluded.token'), updated_at_ms: eb.ref('excluded.updated_at_ms') }))
        .where('cluster_fences.token', '<=', token),
    )
    .returning('token')
    .executeTakeFirst();
  if (!row) throw new FencedError(market, token);
}

/** The highest token that has written to `market`, if any. */
export async function fenceOf(ex: Kysely<any>, market: string): Promise<number | undefined> {
  const row = await ex.selectFrom('cluster_fences').select('token').where('market', '=', market).executeTakeFirst();
  return row === undefined ? undefined : Number(row.token);
}
