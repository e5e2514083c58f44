/**
 * File access for MCAP (pure TypeScript, @mcap/core): a random-access readable over a file
 * handle for the indexed reader, a sequential writable, the chunk decompressors rosbag2 uses
 * (zstd, lz4), and the header stamp read straight from CDR bytes without decoding the message.
 */
import { closeSync, fstatSync, openSync, readSync, writeSync } from 'node:fs';
import { createRequire } from 'node:module';
import { decompress as zstdDecompress } from 'fzstd';
import type { McapTypes } from '@mcap/core';

const lz4 = createRequire(import.meta.url)('lz4js') as { decompress(src: Uint8Array, maxSize?: number): Uint8Array; compress(src: Uint8Array): Uint8Array };

/** Chunk compression for the writers: lz4 frames, which rosbag2, Foxglove and this reader open. */
export function compressChunkLz4(data: Uint8Array): { compression: string; compressedData: Uint8Array } {
  return { compression: 'lz4', compressedData: lz4.compress(data) };
}

export const decompressHandlers: McapTypes.DecompressHandlers = {
  zstd: (buffer, size) => zstdDecompress(buffer, new Uint8Array(Number(size))),
  lz4: (buffer, size) => lz4.decompress(buffer, Number(size)),
};

export class FileReadable {
  private readonly fd: number;
  private readonly bytes: bigint;

  constructor(readonly file: string) {
    this.fd = openSync(file, 'r');
    this.bytes = BigInt(fstatSync(this.fd).size);
  }

  async size(): Promise<bigint> {
    return Promise.resolve(this.bytes);
  }

  async read(offset: bigint, size: bigint): Promise<Uint8Array> {
    const buffer = new Uint8Array(Number(size));
    let done = 0;
    while (done < buffer.length) {
      const n = readSync(this.fd, buffer, done, buffer.length - done, Number(offset) + done);
      if (n === 0) throw new Error(`${this.file}: unexpected end of file at byte ${Number(offset) + done}`);
      done += n;
    }
    return Promise.resolve(buffer);
  }

  close(): void {
    closeSync(this.fd);
  }
}

export class FileWritable {
  private readonly fd: number;
  private offset = 0n;

  constructor(readonly file: string) {
    this.fd = openSync(file, 'w');
  }

  async write(buffer: Uint8Array): Promise<void> {
    let done = 0;
    while (done < buffer.length) done += writeSync(this.fd, buffer, done, buffer.length - done);
    this.offset += BigInt(buffer.length);
    return Promise.resolve();
  }

  position(): bigint {
    return this.offset;
  }

  close(): void {
    closeSync(this.fd);
  }
}

/**
 * The header stamp (ms) of a CDR message whose first field is std_msgs/Header (Image,
 * CompressedImage, CameraInfo, JointState): int32 sec and uint32 nanosec right after the
 * 4-byte encapsulation header, in the byte order it names.
 */
export function headerStampMs(data: Uint8Array): number {
  if (data.length < 12) throw new RangeError(`CDR message: expected at least 12 bytes, got ${data.length}`);
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const little = (data[1]! & 1) === 1;
  return view.getInt32(4, little) * 1000 + view.getUint32(8, little) / 1e6;
}
