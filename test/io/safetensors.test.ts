import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import * as d from '../../src/index.js';
import '../helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'descent-st-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('safetensors', () => {
  it('round-trips float32, float64 and int32 tensors with metadata, written atomically', () => {
    const f = join(dir, 'a.safetensors');
    const t = { w: d.tensor([[1.5, -2], [3, 4]]), b: d.tensor([0.1], { dtype: 'float64' }), i: d.tensor([7, -8, 9], { dtype: 'int32' }), s: d.tensor(3) };
    d.saveSafetensors(f, t, { note: 'hello' });
    assert.deepEqual(readdirSync(dir), ['a.safetensors']);
    const r = d.loadSafetensors(f);
    assert.deepEqual(r.metadata, { note: 'hello' });
    for (const [k, v] of Object.entries(t)) {
      assert.equal(r.tensors[k]!.dtype, v.dtype);
      assert.deepEqual(r.tensors[k]!.shape, v.shape);
      assert.deepEqual(r.tensors[k]!.toArray(), v.toArray());
    }
    // layout: 8-byte little-endian header length, then JSON whose length keeps the data 8-aligned
    const bytes = readFileSync(f);
    const n = Number(bytes.readBigUInt64LE(0));
    assert.equal((8 + n) % 8, 0);
    const header = JSON.parse(bytes.subarray(8, 8 + n).toString());
    assert.deepEqual(header.w, { dtype: 'F32', shape: [2, 2], data_offsets: [header.w.data_offsets[0], header.w.data_offsets[0] + 16] });
  });

  it('names the file and the offset for truncated or corrupt files', () => {
    const f = join(dir, 'b.safetensors');
    d.saveSafetensors(f, { w: d.ones([4, 4]) });
    const whole = readFileSync(f);
    writeFileSync(join(dir, 'trunc.safetensors'), whole.subarray(0, whole.length - 10));
    assert.throws(() => d.loadSafetensors(join(dir, 'trunc.safetensors')), /trunc\.safetensors: not a valid safetensors file at byte \d+: tensor 'w' ends at byte \d+ but the file has \d+ \(truncated\?\)/);
    writeFileSync(join(dir, 'tiny.safetensors'), Buffer.from([1, 2, 3]));
    assert.throws(() => d.loadSafetensors(join(dir, 'tiny.safetensors')), /at byte 0: expected an 8-byte header length/);
    const bad = Buffer.from(whole);
    bad.write('!', 8);
    writeFileSync(join(dir, 'json.safetensors'), bad);
    assert.throws(() => d.loadSafetensors(join(dir, 'json.safetensors')), /at byte 8: expected a JSON header/);
  });
});
