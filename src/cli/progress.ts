/** Progress for a terminal (a bar per epoch, from cli-progress) or for a log (a line per epoch). */
import cliProgress from 'cli-progress';
import type { Callback, EpochMetrics, StepMetrics } from '../train/types.js';

/** A learning rate with the digits it has (0.001, 0.0005, 3e-7), never rounded to 0. */
export function formatLr(lr: number): string {
  return String(Number(lr.toPrecision(4)));
}

/** '1 epoch', '10 epochs'. */
export function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

function pct(v: number | undefined): string {
  return v === undefined ? '-' : `${(v * 100).toFixed(1)}%`;
}

/** With bar: false (or when the stream is not a terminal) only the line per epoch is written. */
export function progressCallback(stream: NodeJS.WriteStream = process.stderr, options: { bar?: boolean } = {}): Callback {
  const tty = !!stream.isTTY && options.bar !== false;
  let bar: cliProgress.SingleBar | undefined;
  let epochs = 0,
    started = 0,
    seen = 0,
    lossSum = 0,
    correct = 0,
    classified = true;
  return {
    onTrainBegin(info) {
      epochs = info.epochs;
    },
    onEpochBegin(epoch) {
      started = performance.now();
      seen = lossSum = correct = 0;
      classified = true;
      if (tty) {
        bar = new cliProgress.SingleBar(
          {
            stream,
            format: `epoch ${epoch}/${epochs} {bar} {percentage}% | loss {loss} | acc {acc} | {speed} ex/s | ETA {eta_formatted}`,
            barsize: 24,
            hideCursor: true,
            clearOnComplete: false,
            etaBuffer: 50,
          },
          cliProgress.Presets.shades_classic,
        );
        bar.start(1, 0, { loss: '-', acc: '-', speed: '-' });
      }
    },
    onStepEnd(m: StepMetrics) {
      seen += m.examples;
      lossSum += m.loss * m.examples;
      if (m.correct === undefined) classified = false;
      else correct += m.correct;
      if (bar) {
        bar.setTotal(m.batches);
        bar.update(m.batch, {
          loss: (lossSum / seen).toFixed(4),
          acc: classified ? pct(correct / seen) : '-',
          speed: Math.round(seen / ((performance.now() - started) / 1000)).toLocaleString('en-US'),
        });
      }
    },
    onEpochEnd(m: EpochMetrics) {
      bar?.stop();
      bar = undefined;
      const val = m.val_loss !== undefined ? ` | test loss ${m.val_loss.toFixed(4)} acc ${pct(m.val_accuracy)}` : '';
      stream.write(
        `epoch ${m.epoch}/${epochs}: train loss ${m.train_loss.toFixed(4)} acc ${pct(m.train_accuracy)}${val} | lr ${formatLr(m.lr)} | ${Math.round(m.examples_per_second).toLocaleString('en-US')} ex/s | ${m.seconds.toFixed(1)} s\n`,
      );
    },
    onTrainEnd() {
      bar?.stop();
    },
  };
}
