/**
 * Log lines written in batches: one write per event-loop turn rather than one per line. Under
 * load many attestations finish in the same turn, and a synchronous write to SPIRE's stderr pipe
 * for each "attested node" line was a measurable share of the server plugin's CPU. Lines keep
 * their order; whatever is pending is written at process exit (stderr pipes and files are
 * synchronous in Node, so it is out before the process ends, on process.exit() too).
 */
export interface LineBatcher {
  /** Queues one complete line (with its newline). */
  readonly write: (line: string) => void;
  /** Writes what is queued now. */
  readonly flush: () => void;
}

export function createLineBatcher(
  out: (text: string) => void,
  schedule: (run: () => void) => void = (run) => setImmediate(run).unref(),
): LineBatcher {
  let pending: string[] = [];
  const flush = (): void => {
    if (pending.length === 0) return;
    const text = pending.join('');
    pending = [];
    out(text);
  };
  return {
    write: (line) => {
      if (pending.push(line) === 1) schedule(flush);
    },
    flush,
  };
}

/** A batcher for this process's stderr, flushed at exit. */
export function stderrLineBatcher(): LineBatcher {
  const batcher = createLineBatcher((text) => {
    process.stderr.write(text);
  });
  process.on('exit', batcher.flush);
  return batcher;
}
