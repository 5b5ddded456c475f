// Shared by the catalog tests: tiny real images built here, a multipart body builder, and
// counts of what the catalog has written (rows and files).
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { deflateSync } from 'node:zlib';
import type { Kysely } from 'kysely';
import type { TestNode } from '../support/gavel.js';

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(bytes: Buffer): number {
  let c = 0xffffffff;
  for (const b of bytes) c = CRC_TABLE[(c ^ b) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function pngChunk(type: string, data: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([length, body, crc]);
}

/** A valid 1×1 RGB PNG of the given colour. */
export function tinyPng(rgb: [number, number, number] = [200, 30, 30]): Buffer {
  const header = Buffer.alloc(13);
  header.writeUInt32BE(1, 0); // width
  header.writeUInt32BE(1, 4); // height
  header[8] = 8; // bit depth
  header[9] = 2; // colour type: RGB
  const scanline = Buffer.from([0, ...rgb]); // filter byte, then one pixel
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    pngChunk('IHDR', header),
    pngChunk('IDAT', deflateSync(scanline)),
    pngChunk('IEND', Buffer.alloc(0)),
  ]);
}

/**
 * A valid 1×1 grey baseline JPEG: one quantisation table, one-symbol Huffman tables, and a
 * scan holding a single block whose DC difference is 0 followed by end-of-block.
 */
export function tinyJpeg(): Buffer {
  const segment = (marker: number, body: number[]) => [0xff, marker, (body.length + 2) >> 8, (body.length + 2) & 0xff, ...body];
  const oneCodeTable = (tableClassAndId: number) => [tableClassAndId, 1, ...new Array<number>(15).fill(0), 0];
  return Buffer.from([
    0xff, 0xd8, // SOI
    ...segment(0xdb, [0x00, ...new Array<number>(64).fill(1)]), // DQT
    ...segment(0xc0, [8, 0, 1, 0, 1, 1, 1, 0x11, 0]), // SOF0: 8-bit, 1×1, one component
    ...segment(0xc4, oneCodeTable(0x00)), // DHT, DC table 0
    ...segment(0xc4, oneCodeTable(0x10)), // DHT, AC table 0
    ...segment(0xda, [1, 1, 0x00, 0, 63, 0]), // SOS
    0x3f, // the scan: DC code "0", EOB code "0", padded with ones
    0xff, 0xd9, // EOI
  ]);
}

/** The first bytes of a WebP file (RIFF container, WEBP form). */
export function webpHead(): Buffer {
  const riff = Buffer.alloc(20);
  riff.write('RIFF', 0, 'latin1');
  riff.writeUInt32LE(12, 4);
  riff.write('WEBP', 8, 'latin1');
  riff.write('VP8L', 12, 'latin1');
  return riff;
}

export interface FilePart {
  name?: string;
  filename?: string;
  contentType?: string;
  data: Buffer | string;
}

/** A multipart/form-data body, written by hand as a browser would send it. */
export function multipart(parts: FilePart[], boundary = `----gavel${Math.random().toString(16).slice(2)}`): { payload: Buffer; contentType: string } {
  const chunks: Buffer[] = [];
  for (const p of parts) {
    const disposition = `form-data; name="${p.name ?? 'file'}"${p.filename === undefined ? '' : `; filename="${p.filename}"`}`;
    const head = [`--${boundary}`, `Content-Disposition: ${disposition}`, ...(p.contentType ? [`Content-Type: ${p.contentType}`] : []), '', ''].join('\r\n');
    chunks.push(Buffer.from(head, 'utf8'), Buffer.isBuffer(p.data) ? p.data : Buffer.from(p.data, 'utf8'), Buffer.from('\r\n'));
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return { payload: Buffer.concat(chunks), contentType: `multipart/form-data; boundary=${boundary}` };
}

export function upload(t: TestNode, lotId: string, token: string | undefined, parts: FilePart[]) {
  const body = multipart(parts);
  return t.call('POST', `/api/lots/${lotId}/images`, { ...(token && { token }), payload: body.payload, contentType: body.contentType });
}

/** Every file under the images directory (temporary ones included), relative to it. */
export function imageFiles(t: TestNode): string[] {
  const root = join(t.storage.dataDir, 'images');
  const out: string[] = [];
  const walk = (dir: string, prefix: string) => {
    if (!existsSync(dir)) return;
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path, `${prefix}${name}/`);
      else out.push(`${prefix}${name}`);
    }
  };
  walk(root, '');
  return out.sort();
}

/** Row counts of the catalog's tables. */
export async function catalogCounts(t: TestNode): Promise<Record<string, number>> {
  const db = t.node.database.kysely as unknown as Kysely<any>;
  const out: Record<string, number> = {};
  for (const table of ['catalog_categories', 'catalog_lots', 'catalog_images']) {
    const row = await db.selectFrom(table).select((eb) => eb.fn.countAll<bigint>().as('n')).executeTakeFirstOrThrow();
    out[table] = Number(row.n);
  }
  return out;
}

/** Everything the catalog has written: rows and files, plus every lot and category as served. */
export async function catalogSnapshot(t: TestNode): Promise<unknown> {
  const db = t.node.database.kysely as unknown as Kysely<any>;
  const rows = async (table: string) => db.selectFrom(table).selectAll().orderBy('id').execute();
  return {
    categories: await rows('catalog_categories'),
    lots: await rows('catalog_lots'),
    images: await rows('catalog_images'),
    files: imageFiles(t),
  };
}
