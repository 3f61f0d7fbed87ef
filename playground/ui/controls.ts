/**
 * The "Data and model" form: filled from the configuration's lists, read back into a Config on
 * every change. `onChange(config, restart)` says whether the change starts over (data, network,
 * loss, seed) or applies at once (learning rate, batch size, optimizer).
 */
import type { Config } from '../lib/config.js';
import { ACTIVATIONS, batchLadder, defaultConfig, LEARNING_RATES, LOSSES, MAX_LAYERS, OPTIMIZERS, parseWidths, trainCount } from '../lib/config.js';
import { DATASET_LABELS, DATASETS } from '../lib/datasets.js';
import type { DatasetName } from '../lib/datasets.js';

const LABELS: Record<string, string> = {
  'cross-entropy': 'cross-entropy',
  mse: 'mean squared error',
  sgd: 'SGD',
  momentum: 'SGD + momentum 0.9',
  adam: 'Adam',
  leakyRelu: 'leaky ReLU',
  relu: 'ReLU',
  gelu: 'GELU',
  identity: 'none (linear)',
};

type Field = HTMLInputElement | HTMLSelectElement;

export class Controls {
  private config: Config;

  constructor(
    private readonly form: HTMLFormElement,
    initial: Config,
    private readonly onChange: (c: Config, restart: boolean) => void,
  ) {
    this.config = initial;
    this.options('dataset', DATASETS, (v) => DATASET_LABELS[v as DatasetName]);
    this.options('activation', ACTIVATIONS);
    this.options('loss', LOSSES);
    this.options('optimizer', OPTIMIZERS);
    this.write(initial);
    form.addEventListener('input', (e) => this.changed(e.target as Field, false));
    form.addEventListener('change', (e) => this.changed(e.target as Field, true));
    form.addEventListener('submit', (e) => e.preventDefault());
  }

  private field(name: string): Field {
    return this.form.elements.namedItem(name) as Field;
  }

  private options(name: string, values: readonly (string | number)[], label = (v: string) => LABELS[v] ?? v): void {
    this.field(name).replaceChildren(...values.map((v) => new Option(label(String(v)), String(v))));
  }

  /** Show a configuration in the form. */
  write(c: Config): void {
    this.config = c;
    const f = (n: string) => this.field(n);
    f('dataset').value = c.dataset;
    f('noise').value = String(c.noise);
    f('train').value = String(c.trainPercent);
    f('layers').value = String(c.hidden.length);
    f('hidden').value = c.hidden.join(', ');
    f('activation').value = c.activation;
    const lrs = [...new Set([...LEARNING_RATES, c.lr])].sort((a, b) => a - b);
    this.options('lr', lrs);
    f('lr').value = String(c.lr);
    f('loss').value = c.loss;
    (f('loss').querySelector('option[value="cross-entropy"]') as HTMLOptionElement).disabled = c.dataset === 'regression';
    f('optimizer').value = c.optimizer;
    const ladder = batchLadder(trainCount(c));
    (f('batch') as HTMLInputElement).max = String(ladder.length - 1);
    f('batch').value = String(nearest(ladder, c.batchSize));
    f('seed').value = String(c.seed);
    this.outputs(c);
  }

  private outputs(c: Config): void {
    const out = (n: string, text: string) => ((this.form.elements.namedItem(n) as HTMLOutputElement).value = text);
    out('noiseOut', c.noise.toFixed(2));
    out('trainOut', `${c.trainPercent}% (${trainCount(c)} of them)`);
    out('batchOut', c.batchSize === trainCount(c) ? `${c.batchSize} (full batch)` : String(c.batchSize));
  }

  /** The configuration the form shows now (malformed fields keep the previous value). */
  read(): Config {
    const f = (n: string) => this.field(n).value;
    const prev = this.config;
    const c: Config = { ...prev, dataset: f('dataset') as DatasetName };
    if (c.dataset !== prev.dataset) return defaultConfig(c.dataset, prev.seed);
    c.noise = Number(f('noise'));
    c.trainPercent = Number(f('train'));
    c.hidden = parseWidths(f('hidden')) ?? prev.hidden;
    c.activation = f('activation') as Config['activation'];
    c.loss = c.dataset === 'regression' ? 'mse' : (f('loss') as Config['loss']);
    c.optimizer = f('optimizer') as Config['optimizer'];
    c.lr = Number(f('lr'));
    const ladder = batchLadder(trainCount(c));
    c.batchSize = c.trainPercent === prev.trainPercent ? (ladder[Number(f('batch'))] ?? prev.batchSize) : Math.min(prev.batchSize, trainCount(c));
    const seed = Number(f('seed'));
    c.seed = Number.isInteger(seed) && seed >= 0 ? seed : prev.seed;
    return c;
  }

  private changed(target: Field, committed: boolean): void {
    if (target.name === 'layers') this.resizeLayers(Number(target.value));
    // Text and number fields take effect when committed (Enter or leaving the field); sliders and lists at once.
    const type: string = target.type;
    if (!committed && (type === 'text' || type === 'number')) return;
    if (committed && type === 'range') return;
    const prev = this.config;
    const next = this.read();
    if (JSON.stringify(next) === JSON.stringify(prev)) return;
    this.write(next);
    const restart =
      JSON.stringify({ ...prev, lr: 0, batchSize: 0, optimizer: '', targetLoss: 0 }) !==
      JSON.stringify({ ...next, lr: 0, batchSize: 0, optimizer: '', targetLoss: 0 });
    this.onChange(next, restart);
  }

  /** A new number of hidden layers: drop the last widths, or repeat the last one (8 when there is none). */
  private resizeLayers(n: number): void {
    const k = Math.max(0, Math.min(MAX_LAYERS, Math.round(n) || 0));
    const ws = parseWidths(this.field('hidden').value) ?? this.config.hidden;
    const next = Array.from({ length: k }, (_, i) => ws[i] ?? ws.at(-1) ?? 8);
    this.field('hidden').value = next.join(', ');
  }
}

function nearest(ladder: number[], b: number): number {
  let best = 0;
  ladder.forEach((v, i) => {
    if (Math.abs(Math.log(v) - Math.log(b)) < Math.abs(Math.log(ladder[best]!) - Math.log(b))) best = i;
  });
  return best;
}
