/** SHA-256 of a checkpoint file's bytes, as lowercase hex (Node's crypto; checkpoints on disk are Node-only). */
import { createHash } from 'node:crypto';

export function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}
