/** A measuring worker as seen from the page: one job at a time, replies routed to the job's handler. */
import type { Job, Reply } from '../lib/protocol.js';

type JobInput = Job extends infer J ? (J extends Job ? Omit<J, 'id'> : never) : never;

export class Jobs {
  private worker: Worker | null = null;
  private next = 1;
  private current: { id: number; onReply: (r: Reply) => void } | null = null;

  constructor(
    private readonly url: URL,
    private readonly onError: (message: string) => void,
  ) {}

  /** The worker, started at the first job (so that it does not compete with the page's first paint). */
  private start(): Worker {
    if (this.worker) return this.worker;
    const worker = (this.worker = new Worker(this.url, { type: 'module', name: 'descent-playground-measure' }));
    worker.onmessage = (e: MessageEvent<Reply>) => {
      const r = e.data;
      if (!this.current || r.id !== this.current.id) return;
      const done = r.kind !== 'noise' || r.done;
      const handler = this.current.onReply;
      if (done) this.current = null;
      handler(r);
    };
    worker.onerror = (e) => this.onError(`measuring worker: ${e.message}`);
    return worker;
  }

  get busy(): boolean {
    return this.current !== null;
  }

  /** Send a job unless one is running; false when busy. */
  run(job: JobInput, onReply: (r: Reply) => void): boolean {
    if (this.current) return false;
    const id = this.next++;
    this.current = { id, onReply };
    this.start().postMessage({ ...job, id } as Job);
    return true;
  }
}
