/**
 * Backprop step by step: the 5-weight network with its weights, the batch (each example's loss
 * and own gradient), and the backward pass revealed one recorded operation at a time, each
 * example's share of the gradient shown in its own colour; at the weights, the shares add up,
 * and the update follows.
 */
import type { BackpropStep, BackpropWalk } from '../lib/backprop.js';
import { WEIGHT_NAMES } from '../lib/backprop.js';
import { el, fmt } from './dom.js';

/** A hue per example, far apart. */
const hue = (i: number) => String((i * 137) % 360);

function chips(values: readonly number[], perExample: boolean): HTMLElement {
  return el(
    'div',
    { class: 'chips' },
    ...values.map((v, i) => {
      const c = el('span', { class: 'chip' }, perExample ? `ex ${i + 1}: ${fmt(v)}` : fmt(v));
      c.style.setProperty('--h', perExample ? hue(i) : '210');
      return c;
    }),
  );
}

function networkSvg(w: BackpropWalk): HTMLElement {
  const [w1, w2, b1, v, c] = w.weights.map((x) => fmt(x, 3));
  const box = document.createElement('div');
  box.innerHTML = `<svg class="net" viewBox="0 0 480 150" role="img" aria-label="the network: two inputs, one tanh unit, one output">
  <g font-size="13" font-family="system-ui, sans-serif" text-anchor="middle">
    <circle cx="40" cy="40" r="20" fill="#eef3fa" stroke="#1f5fa8"/><text x="40" y="45">x1</text>
    <circle cx="40" cy="110" r="20" fill="#eef3fa" stroke="#1f5fa8"/><text x="40" y="115">x2</text>
    <circle cx="230" cy="75" r="26" fill="#fff6e5" stroke="#e8891d"/><text x="230" y="80">h=tanh</text>
    <circle cx="400" cy="75" r="22" fill="#eef3fa" stroke="#1f5fa8"/><text x="400" y="80">out</text>
    <line x1="60" y1="44" x2="204" y2="70" stroke="#5d6470"/><line x1="60" y1="106" x2="204" y2="80" stroke="#5d6470"/>
    <line x1="256" y1="75" x2="378" y2="75" stroke="#5d6470"/>
    <text x="130" y="45">w1 = ${w1}</text><text x="130" y="120">w2 = ${w2}</text>
    <text x="230" y="130">b1 = ${b1}</text><text x="317" y="67">v = ${v}</text><text x="400" y="120">c = ${c}</text>
  </g></svg>`;
  return box.firstElementChild as HTMLElement;
}

function examplesTable(w: BackpropWalk): HTMLElement {
  const head = el('tr', {}, ...['example', 'x1', 'x2', 'y', 'out', 'loss', ...WEIGHT_NAMES.map((n) => `dloss/d${n}`)].map((t) => el('th', {}, t)));
  const rows = w.examples.map((e, i) => {
    const tr = el('tr', {}, el('td', {}, String(i + 1)), ...[...e.x, e.y, e.prediction, e.loss, ...e.gradient].map((v) => el('td', {}, fmt(v))));
    tr.style.background = `hsl(${hue(i)} 70% 96%)`;
    return tr;
  });
  const mean = el(
    'tr',
    {},
    el('th', {}, 'mean'),
    el('td', {}),
    el('td', {}),
    el('td', {}),
    el('td', {}),
    el('td', {}, fmt(w.meanLoss)),
    ...w.gradient.map((g) => el('td', {}, fmt(g))),
  );
  return el('div', { class: 'scroll' }, el('table', {}, el('thead', {}, head), el('tbody', {}, ...rows, mean)));
}

/** At a weight: each example's share (its own gradient / B) and their sum. */
function shares(w: BackpropWalk, s: BackpropStep): HTMLElement | null {
  const first = WEIGHT_NAMES.indexOf(s.tensor as (typeof WEIGHT_NAMES)[number]);
  const k = s.tensor.startsWith('w (') ? 0 : first;
  if (k < 0) return null;
  const cols = s.tensor.startsWith('w (') ? [0, 1] : [k];
  const B = w.examples.length;
  const lines = cols.map((c) =>
    el(
      'div',
      {},
      `${WEIGHT_NAMES[c]}: `,
      chips(
        w.examples.map((e) => e.gradient[c]! / B),
        true,
      ),
      ` sum = ${fmt(w.gradient[c]!)}`,
    ),
  );
  return el(
    'div',
    {},
    el('p', { class: 'caption' }, `Each example's share is its own gradient / ${B}; the shares add up to the gradient of the mean loss:`),
    ...lines,
  );
}

function stepItem(w: BackpropWalk, s: BackpropStep, at: number): HTMLElement {
  const state = s.step < at ? 'done' : s.step === at ? 'current' : 'todo';
  const li = el('li', { class: state, 'data-step': String(s.step) }, el('strong', {}, s.tensor), ` = ${s.made_by}`, s.rule ? `: ${s.rule}` : '');
  if (state === 'todo') return li;
  const perExample = s.shape[0] === w.examples.length && s.gradient.length === w.examples.length;
  li.append(el('div', { class: 'caption' }, 'gradient:'), chips(s.gradient, perExample));
  if (state === 'current' && s.made_by !== 'a weight') li.append(el('div', { class: 'caption' }, 'value (forward pass):'), chips(s.value, perExample));
  if (state === 'current') li.append(shares(w, s) ?? '');
  return li;
}

function updateBox(w: BackpropWalk): HTMLElement {
  const rows = WEIGHT_NAMES.map((n, k) => el('tr', {}, el('td', { class: 'name' }, n), el('td', {}, fmt(w.weights[k]!)), el('td', {}, fmt(w.after[k]!))));
  return el(
    'div',
    { id: 'bp-update' },
    el(
      'p',
      { class: 'caption' },
      `The update with learning rate ${w.lr}: new weight = old weight − ${w.lr} × gradient. The mean loss goes from ${fmt(w.meanLoss)} to ${fmt(w.lossAfter)}.`,
    ),
    el(
      'table',
      {},
      el('thead', {}, el('tr', {}, el('th', { class: 'name' }, 'weight'), el('th', {}, 'before'), el('th', {}, 'after'))),
      el('tbody', {}, ...rows),
    ),
  );
}

/** Show the walk with the first `at` steps revealed (0: only the forward pass). */
export function renderBackprop(into: HTMLElement, w: BackpropWalk, at: number): void {
  const list = el('ol', { class: 'bp-steps' }, ...w.steps.map((s) => stepItem(w, s, at)));
  const left = el('div', {}, networkSvg(w), examplesTable(w));
  const right = el(
    'div',
    {},
    el('p', { class: 'caption', id: 'bp-where' }, at === 0 ? 'Press "Next operation" to start from the loss.' : `Step ${at} of ${w.steps.length}.`),
    list,
    at >= w.steps.length ? updateBox(w) : '',
  );
  into.replaceChildren(left, right);
}
