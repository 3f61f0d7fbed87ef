/**
 * Fault injection for the crash tests. Every file operation of a checkpoint write (and every line
 * appended to metrics.jsonl) first calls faultPoint(op); a test installs a hook that kills the
 * process at the n-th call, so it can stop a real run between any two file operations and check
 * that what is on disk still resumes to the same weights. With no hook installed it does nothing.
 */
let hook: ((op: string) => void) | null = null;

/** Install (or, with null, remove) the hook called before every checkpoint file operation. */
export function setFaultHook(fn: ((op: string) => void) | null): void {
  hook = fn;
}

export function faultPoint(op: string): void {
  if (hook) hook(op);
}
