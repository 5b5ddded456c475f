// The auctions a person has joined in this browser. The API has no "auctions I joined" list
// yet, so "My bids" combines this list with what the server does tell: the auctions named by
// their notifications (outbid, won, lost) and by their wallets' bid holds.
const KEY = (userId: string) => `gavel.auctions.${userId}`;
const REMEMBERED_MAX = 100;

export function rememberAuction(userId: string, auctionId: string): void {
  try {
    const list = remembered(userId).filter((id) => id !== auctionId);
    list.unshift(auctionId);
    window.localStorage.setItem(KEY(userId), JSON.stringify(list.slice(0, REMEMBERED_MAX)));
  } catch {
    // no storage: the server's side of the list still works
  }
}

export function remembered(userId: string): string[] {
  try {
    const value: unknown = JSON.parse(window.localStorage.getItem(KEY(userId)) ?? '[]');
    return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
  } catch {
    return [];
  }
}
