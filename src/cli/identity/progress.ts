/**
 * What the user sees while the CSR waits for approval: on a terminal, one line rewritten in place
 * every second with the elapsed time and the command that approves it; elsewhere, one log line
 * per phase change (no carriage-return noise in log files).
 */
import type { ObtainProgress } from '../../identity/obtain.js';
import type { Logger } from '../../log/logger.js';
import { formatDuration } from '../../util/duration.js';

export interface ProgressReporter {
  update(p: ObtainProgress): void;
  stop(): void;
}

function describe(p: ObtainProgress, elapsedMs: number): string {
  const t = formatDuration(elapsedMs);
  switch (p.phase) {
    case 'submitted':
      return `submitted CSR ${p.csrName}`;
    case 'pending':
      return `waiting for approval of CSR ${p.csrName} (${t}); an admin can run: kubectl certificate approve ${p.csrName}`;
    case 'approved':
      return `CSR ${p.csrName} approved, waiting for the signer (${t})`;
    case 'issued':
      return `CSR ${p.csrName} signed after ${t}`;
  }
}

export function createProgressReporter(
  logger: Logger,
  terminal: { isTTY: boolean; write: (s: string) => void; now?: () => number } | undefined,
): ProgressReporter {
  if (!terminal?.isTTY) {
    let lastPhase: string | undefined;
    return {
      // 'submitted' and 'issued' are already logged by the obtain flow itself.
      update: (p) => {
        if (p.phase === lastPhase) return;
        lastPhase = p.phase;
        if (p.phase === 'pending' || p.phase === 'approved') logger.info(describe(p, p.elapsedMs));
      },
      stop: () => undefined,
    };
  }
  const now = terminal.now ?? Date.now;
  let current: { p: ObtainProgress; at: number } | undefined;
  let shown = false;
  const render = (): void => {
    if (current === undefined) return;
    const elapsed = current.p.elapsedMs + (now() - current.at);
    terminal.write(`\r\x1b[K${describe(current.p, elapsed)}`);
    shown = true;
  };
  const timer = setInterval(render, 1000);
  timer.unref();
  return {
    update: (p) => {
      current = { p, at: now() };
      render();
    },
    stop: () => {
      clearInterval(timer);
      if (shown) terminal.write('\r\x1b[K');
    },
  };
}
