/**
 * Whether ops record themselves for differentiation. `traceDepth` counts the grad calls in progress:
 * when it is above 1 the inner call records its backward pass, so gradients of gradients work.
 */
let enabled = true;
let depth = 0;

export function isGradEnabled(): boolean {
  return enabled;
}

/** Run fn with recording off: its results carry no history and are never differentiated. */
export function noGrad<T>(fn: () => T): T {
  const prev = enabled;
  enabled = false;
  try {
    return fn();
  } finally {
    enabled = prev;
  }
}

/** Run fn with recording on (inside noGrad, for instance). */
export function enableGrad<T>(fn: () => T): T {
  const prev = enabled;
  enabled = true;
  try {
    return fn();
  } finally {
    enabled = prev;
  }
}

export function traceDepth(): number {
  return depth;
}

export function withTrace<T>(fn: () => T): T {
  depth++;
  try {
    return fn();
  } finally {
    depth--;
  }
}
