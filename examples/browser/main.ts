/**
 * Descent in a browser: the default MLP trains on the built-in Fashion-MNIST subset in this page,
 * with live training curves, a Stop button, and the trained weights to download as safetensors.
 * `npm run example:browser` bundles this module with esbuild and serves it (cross-origin isolated,
 * so the wasm backend runs on every core) at http://127.0.0.1:8080/.
 *
 * Query parameters fill the form (?epochs=2&batch=128&lr=0.01&threads=1), and ?autostart=1 starts
 * training at once (what the example's test does).
 */
import * as d from 'descent';

const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T;
const form = $<HTMLFormElement>('form');
const result = $('result');
const stop = $<HTMLButtonElement>('stop');
const download = $<HTMLButtonElement>('download');
const params = new URL(location.href).searchParams;
for (const name of ['epochs', 'batch', 'lr', 'threads']) {
  const v = params.get(name);
  if (v !== null) (form.elements.namedItem(name) as HTMLInputElement).value = v;
}
(form.elements.namedItem('threads') as HTMLInputElement).placeholder = String(d.getNumThreads());
$('env').textContent = crossOriginIsolated
  ? `This page is cross-origin isolated: training uses ${d.getNumThreads()} threads.`
  : 'This page is not cross-origin isolated, so training uses one thread (see the console).';

// The built-in subset, served beside the page as static files (gzip inflated in the page).
const data = d.fetchFashionMnist('/data/fashion-mnist-subset/');
let model: d.nn.Sequential | undefined;
let controller: AbortController | undefined;

async function train(): Promise<void> {
  const value = (name: string): number => Number((form.elements.namedItem(name) as HTMLInputElement).value);
  const threads = value('threads');
  if (threads > 0) d.setNumThreads(threads);
  const epochs = value('epochs');
  const { train, test } = await data;
  d.manualSeed(0);
  model = d.nn.mlp([784, 256, 128, 10]);
  const optimizer = new d.optim.SGD(model.parameters(), { lr: value('lr'), momentum: 0.9 });
  const loader = new d.DataLoader(train, { batchSize: value('batch'), shuffle: true });
  const charts = d.mountTrainingCharts($('charts'));
  controller = new AbortController();
  result.textContent = `Training on ${d.getNumThreads()} thread(s)...`;
  const r = await d.fit({
    model,
    loss: (output, target) => d.crossEntropy(output, target),
    optimizer,
    // The command line's recipe for MLPs: the learning rate follows a cosine to zero, step by step.
    scheduler: new d.optim.CosineAnnealingLR(optimizer, epochs * loader.length),
    schedulerInterval: 'step',
    train: loader,
    validation: new d.DataLoader(test, { batchSize: 500 }),
    epochs,
    signal: controller.signal,
    callbacks: [charts.callback],
  });
  const last = r.epochs.at(-1);
  const accuracy = last?.val_accuracy !== undefined ? `${(last.val_accuracy * 100).toFixed(2)}% of the 1,000 test images right` : 'no epoch finished';
  result.textContent = `${r.aborted ? 'Stopped' : r.diverged ? 'Diverged' : 'Done'}: ${accuracy} after ${r.steps} steps in ${r.seconds.toFixed(1)} s.`;
  result.dataset.accuracy = String(last?.val_accuracy ?? '');
}

form.addEventListener('submit', (e) => {
  e.preventDefault();
  const start = $<HTMLButtonElement>('start');
  start.disabled = download.disabled = true;
  stop.disabled = false;
  train()
    .catch((err: Error) => (result.textContent = `Error: ${err.message}`))
    .finally(() => {
      start.disabled = false;
      stop.disabled = true;
      download.disabled = model === undefined;
      document.body.dataset.done = 'true';
    });
});
stop.addEventListener('click', () => controller?.abort());
download.addEventListener('click', () => {
  if (!model) return;
  const bytes = d.encodeSafetensors(model.stateDict());
  const a = document.createElement('a');
  a.href = URL.createObjectURL(new Blob([bytes], { type: 'application/octet-stream' }));
  a.download = 'fashion-mlp.safetensors';
  a.click();
  URL.revokeObjectURL(a.href);
});
if (params.get('autostart') === '1') form.requestSubmit();
