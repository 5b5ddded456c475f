// The seller's side of Gavel: lots and their images (the catalog), auctions of those lots, and
// the figures afterwards (auction statistics). The shapes of those answers, the calls, and the
// small rules the seller pages share: who may sell, times in the seller's own zone, periods.
import { api, apiUpload } from './api.js';
import type { AuctionList, AuctionOutcome, AuctionPage, AuctionStatus, CategoryRef } from './auctions.js';
import type { User } from './session.js';

// --- shapes -------------------------------------------------------------------------------------

export interface LotImage {
  id: string;
  url: string;
  contentType: string;
  sizeBytes: number;
  /** 0 is the cover. */
  position: number;
  createdAt: string;
}

export interface Lot {
  id: string;
  sellerId: string;
  title: string;
  description: string;
  categoryId: string;
  categoryPath: CategoryRef[];
  condition: Condition;
  /** An auction holds the lot: it can no longer be changed. */
  locked: boolean;
  images: LotImage[];
  createdAt: string;
  updatedAt: string;
}

export const LOT_CONDITIONS = ['new', 'like_new', 'used_good', 'used_fair', 'for_parts'] as const;
export type Condition = (typeof LOT_CONDITIONS)[number];

/** What each condition promises a bidder (docs/catalog.md). */
export const CONDITION_MEANINGS: Record<Condition, string> = {
  new: 'Unused, in its original packaging where it had one',
  like_new: 'Used briefly or opened; no visible wear',
  used_good: 'Used, with light wear; everything works',
  used_fair: 'Used, with visible wear or cosmetic faults; it works',
  for_parts: 'Does not work as it should; sold for parts or repair',
};

export interface LotFields {
  title: string;
  description: string;
  categoryId: string;
  condition: Condition;
}

export const LOT_TITLE_MAX_LENGTH = 140;
export const LOT_DESCRIPTION_MAX_LENGTH = 10_000;

export interface ImageLimits {
  contentTypes: string[];
  imageMaxBytes: number;
  imagesPerLotMax: number;
}

export interface IncrementBand {
  from: string;
  increment: string;
}

export interface NewAuction {
  lotId: string;
  kind: 'timed' | 'live';
  currency: string;
  startingPrice: string;
  reserve?: string;
  buyNow?: string;
  increments?: IncrementBand[];
  minReputation?: number;
  startsAt: string;
  endsAt?: string;
  softCloseSeconds?: number;
  auctioneerId?: string;
  clerkIds?: string[];
}

/** GET /api/auctions/{id}/stats. */
export interface AuctionStats {
  auctionId: string;
  currency: string;
  status: AuctionStatus;
  outcome: AuctionOutcome;
  participants: number;
  bidders: number;
  bids: number;
  startingPrice: string;
  finalPrice: string | null;
  reserve: string | null;
  /** The final price as a share of the reserve (1 = exactly met). */
  priceToReserve: number | null;
  openedAt: string | null;
  closedAt: string | null;
  durationMs: number | null;
  /** The room's price after each bid it saw. */
  bidsOverTime: Array<{ at: string; price: string }>;
}

/** GET /api/auction-stats: auctions that ended in [from, to). */
export interface PeriodStats {
  from: string;
  to: string;
  auctions: number;
  sold: number;
  unsold: number;
  cancelled: number;
  /** sold ÷ (sold + unsold); null when none ended either way. */
  sellThrough: number | null;
  salesByCurrency: Array<{ currency: string; total: string }>;
  meanBids: number | null;
  meanParticipants: number | null;
  meanDurationMs: number | null;
}

// --- who may sell -------------------------------------------------------------------------------

/** Sellers list lots and auction them; admins may do anything. */
export function maySell(user: Pick<User, 'roles'> | null | undefined): boolean {
  return !!user && (user.roles.includes('seller') || user.roles.includes('admin'));
}

/** Anyone may give themselves the seller role (PUT /api/user); the answer is the updated user. */
export function becomeSeller(user: User): Promise<User> {
  // Every role kept as it is: only admins may change the others.
  return api<User>('PUT', '/api/user', { body: { id: user.id, roles: [...new Set([...user.roles, 'seller'])] } });
}

// --- calls --------------------------------------------------------------------------------------

export const ALL_STATUSES = ['scheduled', 'open', 'closed', 'cancelled'] as const;
const PAGE = 50;

export const sellApi = {
  myLots: (cursor: string | null, signal?: AbortSignal) => api<{ items: Lot[]; nextCursor: string | null }>('GET', '/api/lots', { query: { sellerId: 'me', limit: PAGE, cursor }, ...(signal && { signal }) }),
  myAuctions: (cursor: string | null, signal?: AbortSignal) =>
    api<AuctionList>('GET', '/api/auctions', { query: { sellerId: 'me', status: ALL_STATUSES.join(','), sort: 'newest', limit: PAGE, cursor }, ...(signal && { signal }) }),
  lot: (id: string, signal?: AbortSignal) => api<Lot>('GET', `/api/lots/${id}`, { ...(signal && { signal }) }),
  createLot: (fields: LotFields, idempotencyKey: string) => api<Lot>('POST', '/api/lots', { body: fields, idempotencyKey }),
  updateLot: (id: string, patch: Partial<LotFields>) => api<Lot>('PATCH', `/api/lots/${id}`, { body: patch }),
  deleteLot: (id: string) => api<void>('DELETE', `/api/lots/${id}`),
  uploadImages: (lotId: string, files: readonly File[]) => {
    const form = new FormData();
    for (const file of files) form.append('file', file, file.name);
    return apiUpload<{ items: LotImage[] }>(`/api/lots/${lotId}/images`, form);
  },
  deleteImage: (lotId: string, imageId: string) => api<void>('DELETE', `/api/lots/${lotId}/images/${imageId}`),
  reorderImages: (lotId: string, imageIds: string[]) => api<{ items: LotImage[] }>('PUT', `/api/lots/${lotId}/images/order`, { body: { imageIds } }),
  createAuction: (input: NewAuction, idempotencyKey: string) => api<AuctionPage>('POST', '/api/auctions', { body: input, idempotencyKey }),
  cancelAuction: (id: string, reason: string) => api('POST', `/api/auctions/${id}/cancel`, { body: { reason } }),
  auction: (id: string, signal?: AbortSignal) => api<AuctionPage>('GET', `/api/auctions/${id}`, { ...(signal && { signal }) }),
  auctionStats: (id: string, signal?: AbortSignal) => api<AuctionStats>('GET', `/api/auctions/${id}/stats`, { ...(signal && { signal }) }),
  periodStats: (fromMs: number, toMs: number, signal?: AbortSignal) =>
    api<PeriodStats>('GET', '/api/auction-stats', { query: { from: new Date(fromMs).toISOString(), to: new Date(toMs).toISOString() }, ...(signal && { signal }) }),
  defaultLadder: (currency: string, signal?: AbortSignal) => api<{ currency: string; increments: IncrementBand[] }>('GET', '/api/auction-increments', { query: { currency }, ...(signal && { signal }) }),
};

let limits: Promise<ImageLimits> | undefined;
/** What an image upload accepts on this node (asked once per page load). */
export function imageLimits(): Promise<ImageLimits> {
  limits ??= api<ImageLimits>('GET', '/api/images/limits').catch((error: unknown) => {
    limits = undefined;
    throw error;
  });
  return limits;
}

/** "5 MB", "820 KB": sizes as people read them (1 MB = 1,048,576 bytes, as file managers count). */
export function formatBytes(bytes: number): string {
  const units: Array<[number, string]> = [
    [1024 * 1024, 'megabyte'],
    [1024, 'kilobyte'],
  ];
  for (const [size, unit] of units) {
    if (bytes >= size) return new Intl.NumberFormat(undefined, { style: 'unit', unit, unitDisplay: 'short', maximumFractionDigits: 1 }).format(bytes / size);
  }
  return new Intl.NumberFormat(undefined, { style: 'unit', unit: 'byte', unitDisplay: 'short' }).format(bytes);
}

/**
 * The problem an upload answered, in words for the seller. The server counts files from 1 in
 * the order sent ("file 2 is …"): `names` puts each file's own name there.
 */
export function uploadRefusal(code: string, detail: string, limits: ImageLimits | undefined, names: readonly string[] = []): string {
  const named = detail.replace(/\bfile (\d+)\b/g, (whole, n: string) => {
    const name = names[Number(n) - 1];
    return name ? `“${name}”` : whole;
  });
  switch (code) {
    case 'IMAGE_TYPE_UNSUPPORTED':
      return `No image was added: ${named}.`;
    case 'IMAGE_TOO_LARGE':
      return `No image was added: ${named}.${limits ? ` Each image may be at most ${formatBytes(limits.imageMaxBytes)}.` : ''}`;
    case 'IMAGE_LIMIT_REACHED':
      return `No image was added: ${named} (a lot has at most ${limits?.imagesPerLotMax ?? 12} images).`;
    case 'LOT_LOCKED':
      return 'An auction holds this lot now, so its images can no longer change.';
    default:
      return named;
  }
}

/** A message for the next page to show, kept across one navigation (a lot just created). */
const notices = new Map<string, { tone: 'success' | 'danger'; text: string }>();
export function leaveNotice(key: string, notice: { tone: 'success' | 'danger'; text: string }): void {
  notices.set(key, notice);
}
export function takeNotice(key: string): { tone: 'success' | 'danger'; text: string } | undefined {
  const notice = notices.get(key);
  notices.delete(key);
  return notice;
}

// --- times in the seller's zone ------------------------------------------------------------------

const pad = (n: number, width = 2) => String(n).padStart(width, '0');

/** A datetime-local value for an instant, in this browser's zone: "2031-06-01T09:00:00". */
export function toLocalInput(ms: number): string {
  const d = new Date(ms);
  return `${pad(d.getFullYear(), 4)}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** The instant a datetime-local value names in this browser's zone; null when it is not one. */
export function fromLocalInput(text: string): number | null {
  const m = /^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d)(?::(\d\d)(?:\.\d+)?)?$/.exec(text.trim());
  if (!m) return null;
  const ms = new Date(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6] ?? 0)).getTime();
  return Number.isFinite(ms) ? ms : null;
}

/** "UTC+02:00" for this browser's zone at an instant (summer and winter differ). */
export function utcOffset(atMs: number): string {
  const minutes = -new Date(atMs).getTimezoneOffset();
  const sign = minutes < 0 ? '−' : '+';
  const abs = Math.abs(minutes);
  return `UTC${sign}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`;
}

/** "Europe/Paris (UTC+02:00)". */
export function timeZoneLabel(atMs: number): string {
  const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  return `${zone ?? 'Local time'} (${utcOffset(atMs)})`;
}

const longDateTime = new Intl.DateTimeFormat(undefined, { weekday: 'short', day: 'numeric', month: 'short', year: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit', timeZoneName: 'short' });
/** "Sun, 1 Jun 2031, 09:00:00 CEST": an instant in full, with its zone. */
export function formatZoned(ms: number): string {
  return longDateTime.format(new Date(ms));
}

// --- periods for statistics ------------------------------------------------------------------------

export const PERIODS = {
  '7d': { label: 'Last 7 days', unit: 'day', count: 7 },
  '8w': { label: 'Last 8 weeks', unit: 'week', count: 8 },
  '12m': { label: 'Last 12 months', unit: 'month', count: 12 },
} as const;
export type PeriodKey = keyof typeof PERIODS;

export interface Bucket {
  fromMs: number;
  toMs: number;
  label: string;
}

const dayLabel = new Intl.DateTimeFormat(undefined, { weekday: 'short', day: 'numeric' });
const weekLabel = new Intl.DateTimeFormat(undefined, { day: 'numeric', month: 'short' });
const monthLabel = new Intl.DateTimeFormat(undefined, { month: 'short', year: '2-digit' });

/** The period cut into calendar days, weeks (from Monday) or months of this browser's zone, oldest first, the current one last. */
export function bucketsOf(period: PeriodKey, nowMs: number): Bucket[] {
  const { unit, count } = PERIODS[period];
  const now = new Date(nowMs);
  const start = (i: number): Date => {
    if (unit === 'month') return new Date(now.getFullYear(), now.getMonth() - i, 1);
    const today = new Date(now.getFullYear(), now.getMonth(), now.getDate());
    if (unit === 'day') return new Date(today.getFullYear(), today.getMonth(), today.getDate() - i);
    const monday = today.getDate() - ((today.getDay() + 6) % 7);
    return new Date(today.getFullYear(), today.getMonth(), monday - 7 * i);
  };
  const out: Bucket[] = [];
  for (let i = count - 1; i >= 0; i--) {
    const from = start(i);
    const to = start(i - 1);
    const label = unit === 'day' ? dayLabel.format(from) : unit === 'week' ? weekLabel.format(from) : monthLabel.format(from);
    out.push({ fromMs: from.getTime(), toMs: to.getTime(), label });
  }
  return out;
}

/** "60 %" for a share of 1; "—" without one. */
export function formatShare(share: number | null): string {
  if (share === null) return '—';
  return new Intl.NumberFormat(undefined, { style: 'percent', maximumFractionDigits: 1 }).format(share);
}
