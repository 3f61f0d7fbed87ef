// Node module hooks (registered with module.register) that let the bench load TF.js's gradient
// definitions. @tensorflow/tfjs-core's Node bundle (dist/tf-core.node.js) has no gradients: the
// @tensorflow/tfjs umbrella package registers them from its own bundle. Without that package the
// gradients exist only as ES modules under dist/gradients/, written for bundlers: extensionless
// relative imports ('../ops/ops') in a package without "type": "module". These hooks resolve such
// imports to 'x.js' or 'x/index.js' and load those files as ES modules. The ES-module copy of
// tfjs-core they pull in shares the engine and the kernel and gradient registries with the Node
// bundle (tfjs keeps them on globalThis), so registering its gradient configs makes
// tf.variableGrads and the optimizers work. Plain JavaScript: the startup child runs without tsx.
const CORE_DIST = '/@tensorflow/tfjs-core/dist/';

export async function resolve(specifier, context, next) {
  if (context.parentURL?.includes(CORE_DIST) && specifier.startsWith('.') && !specifier.endsWith('.js')) {
    for (const suffix of ['.js', '/index.js']) {
      try {
        return await next(specifier + suffix, context);
      } catch {
        // not this form; try the next one
      }
    }
  }
  return next(specifier, context);
}

export async function load(url, context, next) {
  // every .js file under dist/ is an ES module except the CommonJS bundles tf-core*.js
  if (url.includes(CORE_DIST) && url.endsWith('.js') && !/\/tf-core[^/]*\.js$/.test(url)) return next(url, { ...context, format: 'module' });
  return next(url, context);
}
