// A tiny PNG encoder for the demo's lot pictures: a soft two-colour gradient with a framed
// "object" in the middle, so every lot has a cover without shipping image files. Pure and
// deterministic: the same inputs give the same bytes.
import { deflateSync } from 'node:zlib';

export type Rgb = readonly [number, number, number];

const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

function crc32(bytes: Buffer): number {
  let c = 0xffffffff;
  for (const byte of bytes) c = CRC_TABLE[(c ^ byte) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type: string, data: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const typed = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(typed));
  return Buffer.concat([length, typed, crc]);
}

/** An 8-bit RGB PNG of `width` × `height` whose pixel (x, y) is `pixel(x, y)`. */
export function encodePng(width: number, height: number, pixel: (x: number, y: number) => Rgb): Buffer {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1 || width > 4096 || height > 4096) {
    throw new RangeError(`a demo picture is 1–4096 pixels a side, got ${width}×${height}`);
  }
  const stride = width * 3 + 1;
  const raw = Buffer.alloc(stride * height);
  for (let y = 0; y < height; y++) {
    raw[y * stride] = 0; // filter: none
    for (let x = 0; x < width; x++) {
      const [r, g, b] = pixel(x, y);
      const at = y * stride + 1 + x * 3;
      raw[at] = r;
      raw[at + 1] = g;
      raw[at + 2] = b;
    }
  }
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = 8; // bit depth
  header[9] = 2; // colour type: RGB
  header[10] = 0; // compression
  header[11] = 0; // filter
  header[12] = 0; // interlace: none
  return Buffer.concat([SIGNATURE, chunk('IHDR', header), chunk('IDAT', deflateSync(raw)), chunk('IEND', Buffer.alloc(0))]);
}

const mix = (a: number, b: number, t: number) => Math.round(a + (b - a) * t);

/** A lot's cover: a diagonal gradient from `from` to `to` with a light framed panel in the middle. */
export function demoPicture(from: Rgb, to: Rgb, size: { width: number; height: number } = { width: 160, height: 120 }): Buffer {
  const { width, height } = size;
  const frame = { left: Math.round(width * 0.3), right: Math.round(width * 0.7), top: Math.round(height * 0.25), bottom: Math.round(height * 0.75) };
  return encodePng(width, height, (x, y) => {
    const t = (x / Math.max(1, width - 1) + y / Math.max(1, height - 1)) / 2;
    const base: Rgb = [mix(from[0], to[0], t), mix(from[1], to[1], t), mix(from[2], to[2], t)];
    const inside = x >= frame.left && x < frame.right && y >= frame.top && y < frame.bottom;
    const border = inside && (x < frame.left + 3 || x >= frame.right - 3 || y < frame.top + 3 || y >= frame.bottom - 3);
    if (border) return [245, 240, 225];
    if (inside) return [mix(base[0], 255, 0.55), mix(base[1], 255, 0.55), mix(base[2], 255, 0.55)];
    return base;
  });
}
