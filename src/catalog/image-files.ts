// Lot images on disk: `<dataDir>/images/<lotId>/<imageId>.<ext>`. An upload is written to
// `<dataDir>/images/.incoming/` first and renamed into place only once it is whole and
// checked, so a reader never sees a partial file and a refused upload leaves nothing behind.
import { createHash, randomUUID } from 'node:crypto';
import { mkdir, open, readdir, rename, rm, stat, unlink, type FileHandle } from 'node:fs/promises';
import type { ReadStream } from 'node:fs';
import { join } from 'node:path';
import { IMAGE_SNIFF_BYTES, sniffImageType, type ImageType } from './model.js';

export interface ReceivedFile {
  tempPath: string;
  type: ImageType;
  sizeBytes: number;
  sha256: string;
}

export type ReceiveResult = { ok: true; file: ReceivedFile } | { ok: false; code: 'IMAGE_TYPE_UNSUPPORTED' | 'IMAGE_TOO_LARGE' };

/** An interrupted upload's temporary file is removed at start once it is this old. */
export const INCOMING_STALE_MS = 60 * 60 * 1000;

export class ImageFiles {
  readonly root: string;
  private readonly incoming: string;

  constructor(dataDir: string) {
    this.root = join(dataDir, 'images');
    this.incoming = join(this.root, '.incoming');
  }

  async prepare(): Promise<void> {
    await mkdir(this.incoming, { recursive: true });
  }

  pathOf(lotId: string, imageId: string, type: ImageType): string {
    return join(this.root, lotId, `${imageId}.${type.extension}`);
  }

  /**
   * Reads an uploaded file to a temporary file. The first bytes must be a JPEG, PNG or WebP
   * signature before anything is written; more than `maxBytes` is refused. On refusal or error
   * nothing is left on disk (the caller stops reading the source).
   */
  async receive(source: AsyncIterable<Buffer>, maxBytes: number): Promise<ReceiveResult> {
    const hash = createHash('sha256');
    const head: Buffer[] = [];
    let headBytes = 0;
    let sizeBytes = 0;
    let type: ImageType | undefined;
    let handle: FileHandle | undefined;
    const tempPath = join(this.incoming, `${randomUUID()}.part`);
    const fail = async (code: 'IMAGE_TYPE_UNSUPPORTED' | 'IMAGE_TOO_LARGE'): Promise<ReceiveResult> => {
      await this.discardOpen(handle, tempPath);
      return { ok: false, code };
    };
    try {
      for await (const chunk of source) {
        sizeBytes += chunk.length;
        if (sizeBytes > maxBytes) return await fail('IMAGE_TOO_LARGE');
        hash.update(chunk);
        if (type === undefined) {
          head.push(chunk);
          headBytes += chunk.length;
          if (headBytes < IMAGE_SNIFF_BYTES) continue;
          type = sniffImageType(Buffer.concat(head));
          if (type === undefined) return await fail('IMAGE_TYPE_UNSUPPORTED');
          handle = await open(tempPath, 'wx', 0o644);
          for (const held of head) await handle.write(held);
          head.length = 0;
          continue;
        }
        await handle!.write(chunk);
      }
      if (type === undefined) {
        // Shorter than the sniffing window: decide on what there is (an empty file is no image).
        type = sniffImageType(Buffer.concat(head));
        if (type === undefined) return await fail('IMAGE_TYPE_UNSUPPORTED');
        handle = await open(tempPath, 'wx', 0o644);
        for (const held of head) await handle.write(held);
      }
      // On disk before it is renamed into place: a crash leaves a whole file or none.
      await handle!.sync();
      await handle!.close();
      return { ok: true, file: { tempPath, type, sizeBytes, sha256: hash.digest('hex') } };
    } catch (error) {
      await this.discardOpen(handle, tempPath);
      throw error;
    }
  }

  /** Moves a received file to its place. Same file system, so the rename is atomic. */
  async place(file: ReceivedFile, lotId: string, imageId: string): Promise<string> {
    const target = this.pathOf(lotId, imageId, file.type);
    await mkdir(join(this.root, lotId), { recursive: true });
    await rename(file.tempPath, target);
    return target;
  }

  async discard(path: string): Promise<void> {
    await rm(path, { force: true });
  }

  async removeLot(lotId: string): Promise<void> {
    await rm(join(this.root, lotId), { recursive: true, force: true });
  }

  /** The file opened for reading, or undefined when it is not on disk. */
  async openForReading(lotId: string, imageId: string, type: ImageType): Promise<ReadStream | undefined> {
    try {
      const handle = await open(this.pathOf(lotId, imageId, type), 'r');
      return handle.createReadStream();
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
  }

  /** Removes temporary files of uploads a crash interrupted. Another process may share the directory, hence the age. */
  async sweepIncoming(nowMs: number): Promise<number> {
    let removed = 0;
    for (const name of await readdir(this.incoming)) {
      const path = join(this.incoming, name);
      const info = await stat(path).catch(() => undefined);
      if (info && nowMs - info.mtimeMs > INCOMING_STALE_MS) {
        await rm(path, { force: true });
        removed += 1;
      }
    }
    return removed;
  }

  private async discardOpen(handle: FileHandle | undefined, path: string): Promise<void> {
    if (handle === undefined) return;
    await handle.close().catch(() => {});
    await unlink(path).catch(() => {});
  }
}
