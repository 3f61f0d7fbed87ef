/**
 * The Descent playground: see, in a browser, what one mini-batch does to the weights.
 * Built by `descent playground` (or `npm run build`, into dist/playground) with esbuild; the page
 * imports 'descent' by name, as any user's page does. URL parameters set the starting point
 * (?dataset=circles&seed=3&batch=32...; see lib/config.ts), and ?autoplay=1 starts training.
 */
import { configFromParams } from './lib/config.js';
import { App } from './ui/app.js';
import { byId } from './ui/dom.js';

performance.mark('playground:script');
const params = new URL(location.href).searchParams;
byId('env').textContent = App.environment();
performance.mark('playground:env');
const app = new App(configFromParams(params), new URL('./worker.js', import.meta.url));
performance.mark('playground:app');
const yieldMs = Number(params.get('yield'));
if (yieldMs > 0) app.session.yieldEveryMs = yieldMs;
if (params.get('autoplay') === '1') void app.play();
