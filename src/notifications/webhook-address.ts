// Where webhooks may go: public addresses only, so a person cannot point Gavel at something
// inside its own network (a database, an admin port, a cloud's metadata service at
// 169.254.169.254). Checked twice:
// - at registration, the URL's host when it is a literal address or a localhost name (other
//   names may resolve anywhere later, so they are judged at delivery);
// - at every delivery, every address the host resolves to; the connection then goes to the
//   address that was checked, so a name answering differently the second time (DNS
//   rebinding) cannot slip through.
// `allowPrivate` (GAVEL_WEBHOOK_ALLOW_PRIVATE) lifts both checks, for development and tests.
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';

interface Range {
  family: 4 | 6;
  prefix: Uint8Array;
  bits: number;
  /** What an address in it is, for the refusal: "a loopback address". */
  what: string;
  /** IPv6 ranges that carry an IPv4 address: judged by that address instead (byte offset). */
  embedsIpv4At?: number;
}

const range = (cidr: string, what: string, embedsIpv4At?: number): Range => {
  const [text, bits] = cidr.split('/') as [string, string];
  const family = isIP(text) as 4 | 6;
  return { family, prefix: addressBytes(text)!, bits: Number(bits), what, ...(embedsIpv4At !== undefined && { embedsIpv4At }) };
};

/** Ranges that are not public unicast destinations (most specific first where they overlap). */
const FORBIDDEN: readonly Range[] = [
  range('0.0.0.0/8', 'an unspecified ("this network") address'),
  range('10.0.0.0/8', 'a private address'),
  range('100.64.0.0/10', 'a shared (carrier-grade NAT) address'),
  range('127.0.0.0/8', 'a loopback address'),
  range('169.254.0.0/16', 'a link-local address (where clouds serve instance metadata)'),
  range('172.16.0.0/12', 'a private address'),
  range('192.0.0.0/24', 'an IETF protocol address'),
  range('192.168.0.0/16', 'a private address'),
  range('198.18.0.0/15', 'a benchmarking address'),
  range('224.0.0.0/4', 'a multicast address'),
  range('240.0.0.0/4', 'a reserved or broadcast address'),
  range('::/128', 'the unspecified address'),
  range('::1/128', 'a loopback address'),
  range('::ffff:0:0/96', 'an IPv4-mapped address', 12),
  range('::/96', 'an IPv4-compatible address (deprecated)'),
  range('64:ff9b::/96', 'a NAT64 address', 12),
  range('64:ff9b:1::/48', 'a local NAT64 address'),
  range('100::/64', 'a discard-only address'),
  range('2002::/16', 'a 6to4 address', 2),
  range('fc00::/7', 'a unique local (private) address'),
  range('fe80::/10', 'a link-local address'),
  range('fec0::/10', 'a site-local address (deprecated)'),
  range('ff00::/8', 'a multicast address'),
];

/**
 * What kind of non-public address `address` (an IPv4 or IPv6 literal) is — "a loopback
 * address" — or undefined for a public one.
 */
export function forbiddenAddressKind(address: string): string | undefined {
  const bytes = addressBytes(address);
  if (!bytes) return 'not an IP address';
  const family = bytes.length === 4 ? 4 : 6;
  for (const r of FORBIDDEN) {
    if (r.family !== family || !inRange(bytes, r)) continue;
    if (r.embedsIpv4At === undefined) return r.what;
    // A wrapper around an IPv4 address is as good as the address it wraps.
    const inner = [...bytes.subarray(r.embedsIpv4At, r.embedsIpv4At + 4)].join('.');
    const innerKind = forbiddenAddressKind(inner);
    return innerKind === undefined ? undefined : `${r.what} for ${inner}, ${innerKind}`;
  }
  return undefined;
}

/**
 * At registration: why the URL's host may not receive webhooks — a literal address that is not
 * public, or a localhost name — or undefined (names are judged again at every delivery).
 */
export function webhookHostProblem(url: URL, options: { allowPrivate: boolean }): string | undefined {
  if (options.allowPrivate) return undefined;
  const host = bareHost(url.hostname);
  if (isIP(host) !== 0) {
    const kind = forbiddenAddressKind(host);
    return kind && `points at ${host}, ${kind}: webhooks go to public addresses only`;
  }
  const name = host.toLowerCase().replace(/\.+$/, '');
  if (name === 'localhost' || name.endsWith('.localhost')) return `points at ${host}, this machine: webhooks go to public addresses only`;
  return undefined;
}

export interface ResolvedAddress {
  address: string;
  family: 4 | 6;
}

/** Every address a host name resolves to (the system resolver by default; tests pass their own). */
export type HostResolver = (hostname: string) => Promise<ResolvedAddress[]>;

export const systemResolver: HostResolver = async (hostname) => (await lookup(hostname, { all: true, verbatim: true })).map((a) => ({ address: a.address, family: a.family === 6 ? 6 : 4 }));

/** Where to connect for a delivery, or why not: `forbidden` when trying again cannot help. */
export type WebhookTarget = ({ ok: true } & ResolvedAddress) | { ok: false; forbidden: true; reason: string };

/**
 * At delivery: the address to connect to for `hostname` (a URL's hostname, IPv6 in brackets).
 * A name is refused when any address it resolves to is not public, so a receiver cannot mix a
 * private address in and hope to be connected to it. Resolver failures (no such name) throw:
 * those may heal, and are retried like any network error.
 */
export async function webhookTarget(hostname: string, options: { allowPrivate: boolean; resolve?: HostResolver | undefined }): Promise<WebhookTarget> {
  const host = bareHost(hostname);
  const family = isIP(host);
  if (family !== 0) {
    const kind = options.allowPrivate ? undefined : forbiddenAddressKind(host);
    return kind ? { ok: false, forbidden: true, reason: `${host} is ${kind}: webhooks go to public addresses only` } : { ok: true, address: host, family: family === 6 ? 6 : 4 };
  }
  const addresses = await (options.resolve ?? systemResolver)(host);
  const first = addresses[0];
  if (!first) throw Object.assign(new Error(`${host} resolves to no address`), { code: 'ENOTFOUND' });
  if (!options.allowPrivate) {
    for (const a of addresses) {
      const kind = forbiddenAddressKind(a.address);
      if (kind) return { ok: false, forbidden: true, reason: `${host} resolves to ${a.address}, ${kind}: webhooks go to public addresses only` };
    }
  }
  return { ok: true, address: first.address, family: first.family };
}

// --- addresses as bytes ------------------------------------------------------------------------

function bareHost(hostname: string): string {
  return hostname.startsWith('[') && hostname.endsWith(']') ? hostname.slice(1, -1) : hostname;
}

function inRange(bytes: Uint8Array, r: Range): boolean {
  const whole = Math.floor(r.bits / 8);
  for (let i = 0; i < whole; i++) if (bytes[i] !== r.prefix[i]) return false;
  const rest = r.bits % 8;
  if (rest === 0) return true;
  const mask = (0xff << (8 - rest)) & 0xff;
  return (bytes[whole]! & mask) === (r.prefix[whole]! & mask);
}

/** 4 bytes for an IPv4 literal, 16 for IPv6 (a zone, `%eth0`, is ignored); undefined for anything else. */
function addressBytes(text: string): Uint8Array | undefined {
  const address = text.split('%')[0]!;
  const family = isIP(address);
  if (family === 4) return Uint8Array.from(address.split('.').map(Number));
  if (family !== 6) return undefined;
  // A dotted IPv4 tail (::ffff:127.0.0.1) becomes two hex groups.
  const tail = /^(.*:)(\d+\.\d+\.\d+\.\d+)$/.exec(address);
  let hex = address;
  if (tail) {
    const [a, b, c, d] = tail[2]!.split('.').map(Number) as [number, number, number, number];
    hex = `${tail[1]}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, rest] = hex.split('::') as [string, string | undefined];
  const headGroups = head === '' ? [] : head.split(':');
  const restGroups = rest === undefined || rest === '' ? [] : rest.split(':');
  const groups = rest === undefined ? headGroups : [...headGroups, ...Array<string>(8 - headGroups.length - restGroups.length).fill('0'), ...restGroups];
  const bytes = new Uint8Array(16);
  groups.forEach((g, i) => {
    const n = parseInt(g, 16);
    bytes[i * 2] = n >> 8;
    bytes[i * 2 + 1] = n & 0xff;
  });
  return bytes;
}
