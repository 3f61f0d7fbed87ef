/**
 * Descent's side of the PyTorch interchange fixtures: writes test/io/fixtures/torch/descent-<name>.safetensors
 * (a seeded model of each architecture of test/io/interop-models.ts, BatchNorm statistics warmed up),
 * which scripts/torch-state-dict.py loads into PyTorch with load_state_dict(strict=True).
 *   node --import tsx scripts/descent-state-dict.ts
 */
import * as path from 'node:path';
import * as d from '../src/index.js';
import { saveSafetensors } from '../src/node/index.js';
import { INTEROP_MODELS, warmUp } from '../test/io/interop-models.js';

const out = path.join(import.meta.dirname, '..', 'test', 'io', 'fixtures', 'torch');
for (const [name, { make, shape }] of Object.entries(INTEROP_MODELS)) {
  d.manualSeed(1);
  const model = make();
  warmUp(model, shape);
  saveSafetensors(path.join(out, `descent-${name}.safetensors`), model.stateDict());
  console.log(`descent-${name}.safetensors: ${Object.keys(model.stateDict()).join(' ')}`);
}
