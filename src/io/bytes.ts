/**
 * Bytes from wherever a page or a server has them, so that every decoder (safetensors,
 * checkpoints, IDX, NPY, CSV) can be fed the same way: a Uint8Array (a Node Buffer is one), an
 * ArrayBuffer, any other typed array or DataView (its bytes, not copied), a Blob or File (an
 * <input type="file">, IndexedDB), or a fetch Response (its status is checked first).
 *
 *   const file = io.decodeSafetensors(await io.readBytes(await fetch('model.safetensors')));
 *
 * Browser-safe: no node:* import; Blob and Response are recognised by their members, so a
 * polyfill's or another realm's objects work too.
 */

/** What readBytes reads. */
export type BytesSource = Uint8Array | ArrayBuffer | ArrayBufferView | Blob | Response;

interface BlobLike {
  arrayBuffer(): Promise<ArrayBuffer>;
  size: number;
}

interface ResponseLike {
  arrayBuffer(): Promise<ArrayBuffer>;
  ok: boolean;
  status: number;
  statusText?: string;
  url?: string;
  bodyUsed?: boolean;
}

/** A short description of what a caller passed, for errors. */
function describe(x: unknown): string {
  if (x === null || x === undefined) return String(x);
  const what = typeof x === 'object' ? ((x as object).constructor?.name ?? 'object') : typeof x;
  return `${/^[aeiou]/i.test(what) ? 'an' : 'a'} ${what}`;
}

function isArrayBuffer(x: unknown): x is ArrayBufferLike {
  const tag = Object.prototype.toString.call(x);
  return tag === '[object ArrayBuffer]' || tag === '[object SharedArrayBuffer]';
}

/**
 * The bytes of a Uint8Array (itself), an ArrayBuffer or another view (a Uint8Array over the same
 * memory, not a copy). `who` starts the TypeError for anything else.
 */
export function asUint8Array(x: Uint8Array | ArrayBufferLike | ArrayBufferView, who: string): Uint8Array {
  if (x instanceof Uint8Array) return x;
  if (ArrayBuffer.isView(x)) return new Uint8Array(x.buffer, x.byteOffset, x.byteLength);
  if (isArrayBuffer(x)) return new Uint8Array(x);
  throw new TypeError(`${who}: expected a Uint8Array, an ArrayBuffer or another typed array, got ${describe(x)}`);
}

function isResponse(x: object): x is ResponseLike {
  const r = x as Partial<ResponseLike>;
  return typeof r.arrayBuffer === 'function' && typeof r.ok === 'boolean' && typeof r.status === 'number';
}

function isBlob(x: object): x is BlobLike {
  const b = x as Partial<BlobLike>;
  return typeof b.arrayBuffer === 'function' && typeof b.size === 'number';
}

/**
 * All the bytes of `src`. A typed array or ArrayBuffer is returned as a Uint8Array over the same
 * memory; a Blob is read; a Response must be ok (2xx), else the error names its status and URL,
 * and its body must not have been read already. `what` names the source in errors (default: the
 * Response's URL, or 'readBytes').
 */
export async function readBytes(src: BytesSource, what?: string): Promise<Uint8Array> {
  if (src instanceof Uint8Array || ArrayBuffer.isView(src) || isArrayBuffer(src)) return asUint8Array(src, what ?? 'readBytes');
  if (src === null || typeof src !== 'object') {
    throw new TypeError(`${what ?? 'readBytes'}: expected a Uint8Array, an ArrayBuffer, a Blob or a fetch Response, got ${describe(src)}`);
  }
  if (isResponse(src)) {
    const name = what ?? (src.url ? src.url : 'the response');
    if (!src.ok) throw new Error(`readBytes: ${name}: HTTP ${src.status}${src.statusText ? ` ${src.statusText}` : ''}; expected a successful (2xx) response`);
    if (src.bodyUsed) throw new Error(`readBytes: ${name}: the body was already read; expected a Response whose body is unread (clone() it to read it twice)`);
    return new Uint8Array(await src.arrayBuffer());
  }
  if (isBlob(src)) return new Uint8Array(await src.arrayBuffer());
  throw new TypeError(`${what ?? 'readBytes'}: expected a Uint8Array, an ArrayBuffer, a Blob or a fetch Response, got ${describe(src)}`);
}
