// How an auction's end moves reputations (the index 0–100 that auctions may require to join).
// Pure; the auctions module applies it when a settlement event is delivered, once per event.

export interface SettledSale {
  outcome: 'sold' | 'unsold' | 'cancelled';
  sellerId: string;
  /** The online winner, who paid at settlement (the hold on their maximum was captured). */
  winnerId: string | null;
  cancelledBy: 'seller' | 'admin' | null;
}

export interface ReputationChange {
  userId: string;
  delta: number;
  reason: string;
}

/** Points per event; docs/auctions.md ("Reputation") shows the same table. */
export const REPUTATION_POINTS = {
  wonAndPaid: 2,
  soldAndDelivered: 2,
  cancelledBySeller: -1,
  cancelledByAdmin: -5,
} as const;

export function reputationChangesOf(sale: SettledSale): ReputationChange[] {
  switch (sale.outcome) {
    case 'sold': {
      const changes: ReputationChange[] = [{ userId: sale.sellerId, delta: REPUTATION_POINTS.soldAndDelivered, reason: 'auction sold' }];
      if (sale.winnerId) changes.push({ userId: sale.winnerId, delta: REPUTATION_POINTS.wonAndPaid, reason: 'auction won and paid' });
      return changes;
    }
    case 'cancelled':
      return sale.cancelledBy === 'admin'
        ? [{ userId: sale.sellerId, delta: REPUTATION_POINTS.cancelledByAdmin, reason: 'auction cancelled by an admin' }]
        : [{ userId: sale.sellerId, delta: REPUTATION_POINTS.cancelledBySeller, reason: 'auction cancelled by the seller' }];
    case 'unsold':
      return [];
  }
}
