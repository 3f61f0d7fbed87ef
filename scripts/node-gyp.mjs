// Where npm's node-gyp and this Node's headers are, for the install-time builds of the optional
// addons (scripts/build-native.mjs, scripts/build-mpi.mjs): node-gyp then downloads nothing.
import { spawnSync } from 'node:child_process';
import { existsSync, realpathSync } from 'node:fs';
import { delimiter, dirname, join, resolve } from 'node:path';

/** node-gyp.js: the one npm runs for install scripts, else the copy bundled with npm; null if none. */
export function findNodeGyp() {
  const candidates = [];
  if (process.env.npm_config_node_gyp) candidates.push(process.env.npm_config_node_gyp);
  if (process.env.npm_execpath) candidates.push(join(dirname(process.env.npm_execpath), '..', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'));
  for (const dir of (process.env.PATH ?? '').split(delimiter).filter(Boolean)) {
    const npm = join(dir, 'npm');
    if (!existsSync(npm)) continue;
    candidates.push(join(dir, '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'));
    const real = realpathSync(npm); // e.g. <prefix>/lib/node_modules/npm/bin/npm-cli.js
    candidates.push(join(dirname(real), '..', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'));
  }
  candidates.push(join(dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'));
  return candidates.find((p) => existsSync(p)) ?? null;
}

/** A prefix holding include/node/node_api.h for the running Node; null if none. */
export function findNodeDir() {
  const candidates = [];
  if (process.env.npm_config_nodedir) candidates.push(process.env.npm_config_nodedir);
  else {
    const npm = spawnSync('npm', ['config', 'get', 'nodedir'], { encoding: 'utf8', timeout: 30_000 });
    const dir = npm.status === 0 ? npm.stdout.trim() : '';
    if (dir && dir !== 'undefined' && dir !== 'null') candidates.push(dir);
  }
  const prefix = process.config.variables?.node_prefix;
  if (typeof prefix === 'string' && prefix) candidates.push(prefix);
  candidates.push(resolve(dirname(process.execPath), '..'));
  return candidates.find((d) => existsSync(join(d, 'include', 'node', 'node_api.h'))) ?? null;
}
