/** The backprop panel's controls: the batch size (2 to 10) and walking through the steps. */
import { backpropWalk } from '../lib/backprop.js';
import type { BackpropWalk } from '../lib/backprop.js';
import { renderBackprop } from './backprop-view.js';
import { byId } from './dom.js';

export class BackpropPanel {
  walk: BackpropWalk;
  at = 0;

  constructor(batch = 4) {
    const select = byId<HTMLSelectElement>('bp-batch');
    select.replaceChildren(...Array.from({ length: 9 }, (_, i) => new Option(String(i + 2), String(i + 2))));
    select.value = String(batch);
    this.walk = backpropWalk(batch);
    select.addEventListener('change', () => {
      this.walk = backpropWalk(Number(select.value));
      this.show(0);
    });
    byId('bp-next').addEventListener('click', () => this.show(this.at + 1));
    byId('bp-prev').addEventListener('click', () => this.show(this.at - 1));
    byId('bp-restart').addEventListener('click', () => this.show(0));
    this.show(0);
  }

  show(at: number): void {
    this.at = Math.max(0, Math.min(this.walk.steps.length, at));
    renderBackprop(byId('backprop'), this.walk, this.at);
    byId<HTMLButtonElement>('bp-prev').disabled = this.at === 0;
    byId<HTMLButtonElement>('bp-next').disabled = this.at === this.walk.steps.length;
  }
}
