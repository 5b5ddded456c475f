// The image file store on its own: files arrive in pieces, as they do from a socket.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ImageFiles } from '../../src/catalog/image-files.js';
import { tinyJpeg, tinyPng } from './fixtures.js';

async function* inPieces(bytes: Buffer, size: number): AsyncIterable<Buffer> {
  for (let at = 0; at < bytes.length; at += size) yield bytes.subarray(at, at + size);
}

describe('ImageFiles', () => {
  let dataDir: string;
  let files: ImageFiles;
  const incoming = () => readdirSync(join(dataDir, 'images', '.incoming'));

  beforeEach(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'gavel-images-'));
    files = new ImageFiles(dataDir);
    await files.prepare();
  });
  afterEach(() => rmSync(dataDir, { recursive: true, force: true }));

  it('receives a file sent one byte at a time, hashes it, and places it whole', async () => {
    const png = tinyPng();
    const result = await files.receive(inPieces(png, 1), 10_000);
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.file).toMatchObject({ sizeBytes: png.length, type: { contentType: 'image/png', extension: 'png' } });
    const target = await files.place(result.file, 'lot-1', 'image-1');
    expect(target).toBe(join(dataDir, 'images', 'lot-1', 'image-1.png'));
    expect(readFileSync(target).equals(png)).toBe(true);
    expect(incoming()).toEqual([]);
  });

  it('a file that passes the limit part way through leaves no temporary file', async () => {
    const big = Buffer.concat([tinyJpeg(), Buffer.alloc(5000)]);
    const result = await files.receive(inPieces(big, 512), 4096);
    expect(result).toEqual({ ok: false, code: 'IMAGE_TOO_LARGE' });
    expect(incoming()).toEqual([]);
  });

  it('a file that is not an image is refused before anything is written', async () => {
    const result = await files.receive(inPieces(Buffer.from('plain text, sent slowly '.repeat(50)), 3), 10_000);
    expect(result).toEqual({ ok: false, code: 'IMAGE_TYPE_UNSUPPORTED' });
    expect(incoming()).toEqual([]);
  });

  it('a source that fails part way (the client went away) leaves no temporary file and passes the error on', async () => {
    async function* broken(): AsyncIterable<Buffer> {
      yield tinyPng().subarray(0, 20);
      yield Buffer.alloc(100);
      throw new Error('connection reset');
    }
    await expect(files.receive(broken(), 10_000)).rejects.toThrow('connection reset');
    expect(incoming()).toEqual([]);
  });
});
