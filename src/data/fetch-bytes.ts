/**
 * Fetching a data file's bytes in a browser (or any runtime with fetch and DecompressionStream):
 * the body is read in a stream and stops past a size limit, and gzip data (found by its magic
 * bytes 1f 8b, whatever the name or headers) is inflated in a stream under the same limit, so a
 * wrong URL or a gzip bomb ends with an error instead of filling memory. Browser-safe.
 */

export interface FetchBytesOptions {
  /** The fetch to use (default: the global one). */
  fetch?: typeof fetch;
  /** Passed to fetch: headers, credentials, an AbortSignal. */
  init?: RequestInit;
  /** Most bytes accepted, before and after gzip inflation. */
  maxBytes?: number;
}

/** A URL resolved against the page's address when there is one (a relative '/data/iris.csv' in a page). */
export function resolveUrl(url: string | URL): URL {
  return new URL(String(url), (globalThis as { location?: { href: string } }).location?.href);
}

/** Every chunk of `stream`, joined; past `maxBytes` the stream is cancelled and `tooBig()` thrown. */
export async function readAtMost(stream: ReadableStream<Uint8Array>, maxBytes: number, tooBig: () => Error): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let total = 0;
  const reader = stream.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.length;
    if (total > maxBytes) {
      await reader.cancel();
      throw tooBig();
    }
    chunks.push(value);
  }
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/**
 * The bytes at `url`, inflated when they are gzip (`gzipped` says so). `who` starts every error,
 * `expected` says what the URL should hold. A response that is not ok (404, ...) is an error
 * naming its status.
 */
export async function fetchBytes(url: URL, who: string, expected: string, options: FetchBytesOptions & { maxBytes: number }): Promise<{ bytes: Uint8Array; gzipped: boolean }>;
/** With `missingOk`, a 404 gives null (for a file tried under two names). */
export async function fetchBytes(
  url: URL,
  who: string,
  expected: string,
  options: FetchBytesOptions & { maxBytes: number; missingOk: true },
): Promise<{ bytes: Uint8Array; gzipped: boolean } | null>;
export async function fetchBytes(
  url: URL,
  who: string,
  expected: string,
  options: FetchBytesOptions & { maxBytes: number; missingOk?: boolean },
): Promise<{ bytes: Uint8Array; gzipped: boolean } | null> {
  const { maxBytes } = options;
  if (!(Number.isSafeInteger(maxBytes) && maxBytes >= 0)) throw new RangeError(`${who}: maxBytes must be a non-negative integer, got ${maxBytes}`);
  const res = await (options.fetch ?? fetch)(url, options.init);
  if (res.status === 404 && options.missingOk) {
    await res.body?.cancel();
    return null;
  }
  if (!res.ok) throw new Error(`${who}: ${url.href}: HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ''}; expected ${expected}`);
  const tooBig = (what: string) => () => new Error(`${who}: ${url.href}: ${what} more than ${maxBytes} bytes; expected at most ${maxBytes} (maxBytes), ${expected}`);
  const body = res.body ?? new Blob([await res.arrayBuffer()]).stream();
  const raw = await readAtMost(body, maxBytes, tooBig('is'));
  if (!(raw.length >= 2 && raw[0] === 0x1f && raw[1] === 0x8b)) return { bytes: raw, gzipped: false };
  const inflated = new Blob([raw as Uint8Array<ArrayBuffer>]).stream().pipeThrough(new DecompressionStream('gzip'));
  try {
    return { bytes: await readAtMost(inflated, maxBytes, tooBig('decompresses to')), gzipped: true };
  } catch (e) {
    if ((e as Error).message.startsWith(`${who}: `)) throw e;
    throw new Error(`${who}: ${url.href}: starts with the gzip magic bytes 1f 8b but does not decompress (${(e as Error).message}); expected a complete gzip stream`);
  }
}
