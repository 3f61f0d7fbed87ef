/**
 * readBytes (issue 14): every decoder can be fed from a typed array, an ArrayBuffer, a Blob or a
 * fetch Response; a Response that is not ok is an error naming its status and URL.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as d from '../api/internal.js';
import { readBytes } from '../../src/io/index.js';
import '../helpers.js';

/** A Response as fetch returns it: with a URL (one made with `new Response()` has none). */
function fetched(body: BodyInit | null, init: ResponseInit, url: string): Response {
  const r = new Response(body, init);
  Object.defineProperty(r, 'url', { value: url });
  return r;
}

describe('readBytes', () => {
  it('returns a Uint8Array as it is, and views ArrayBuffers and other typed arrays without copying', async () => {
    const u8 = Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8]);
    assert.equal(await readBytes(u8), u8);
    const fromBuffer = await readBytes(u8.buffer);
    assert.deepEqual(Array.from(fromBuffer), [1, 2, 3, 4, 5, 6, 7, 8]);
    assert.equal(fromBuffer.buffer, u8.buffer);
    const f32 = new Float32Array(u8.buffer, 4, 1);
    const view = await readBytes(f32);
    assert.deepEqual([view.byteOffset, view.length, view.buffer === u8.buffer], [4, 4, true]);
    assert.deepEqual(Array.from(await readBytes(new DataView(u8.buffer, 2, 3))), [3, 4, 5]);
  });

  it('reads a Blob and an ok Response', async () => {
    const bytes = Uint8Array.from({ length: 1000 }, (_, i) => i % 251);
    assert.deepEqual(await readBytes(new Blob([bytes.subarray(0, 10), bytes.subarray(10)])), bytes);
    assert.deepEqual(await readBytes(new Response(bytes)), bytes);
    assert.deepEqual(await readBytes(new Response(new Blob([bytes]).stream())), bytes);
    assert.deepEqual(await readBytes(new Response(null, { status: 204 })), new Uint8Array(0));
  });

  it('refuses a Response that is not ok, naming its status and URL, and one already read', async () => {
    await assert.rejects(
      readBytes(fetched('missing', { status: 404, statusText: 'Not Found' }, 'https://example.org/model.safetensors')),
      /^Error: readBytes: https:\/\/example\.org\/model\.safetensors: HTTP 404 Not Found; expected a successful \(2xx\) response$/,
    );
    await assert.rejects(readBytes(new Response('', { status: 500 }), 'weights'), /^Error: readBytes: weights: HTTP 500; expected a successful/);
    await assert.rejects(readBytes(new Response('x', { status: 503 })), /readBytes: the response: HTTP 503/);
    const used = new Response('abc');
    await used.text();
    await assert.rejects(readBytes(used), /the body was already read; expected a Response whose body is unread/);
  });

  it('refuses anything else with a TypeError saying what it got', async () => {
    await assert.rejects(
      readBytes('model.safetensors' as never),
      /^TypeError: readBytes: expected a Uint8Array, an ArrayBuffer, a Blob or a fetch Response, got a string$/,
    );
    await assert.rejects(readBytes(null as never), /got null$/);
    await assert.rejects(readBytes({ length: 3 } as never), /got an Object$/);
  });

  it('feeds decodeSafetensors, which also takes an ArrayBuffer', async () => {
    const file = d.encodeSafetensors({ w: d.tensor([1.5, -2, 3]) }, { note: 'x' });
    const viaResponse = d.decodeSafetensors(await readBytes(new Response(new Blob([file]))));
    assert.deepEqual(Array.from(viaResponse.tensors.w!.data), [1.5, -2, 3]);
    const copy = file.slice();
    const viaBuffer = d.decodeSafetensors(copy.buffer);
    assert.deepEqual(Array.from(viaBuffer.tensors.w!.data), [1.5, -2, 3]);
    assert.equal(viaBuffer.metadata.note, 'x');
    assert.throws(
      () => d.decodeSafetensors('x' as never),
      /^TypeError: decodeSafetensors\(<bytes>\): expected a Uint8Array, an ArrayBuffer or another typed array, got a string$/,
    );
  });
});
