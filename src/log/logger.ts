/**
 * A small structured logger. Hand-written rather than pino because the plugins need hclog's
 * exact line shape (SPIRE parses `@level`, `@message` and a `@timestamp` with exactly six
 * fractional digits, and a wrong type there panics the host), the CLI needs plain text, and
 * CLI cold start is a measured goal: one synchronous line writer is all either needs.
 */
export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error';
export type LogFormat = 'text' | 'json' | 'hclog';
export type LogFields = Readonly<Record<string, string | number | boolean | undefined>>;

export const LOG_LEVELS: readonly LogLevel[] = ['trace', 'debug', 'info', 'warn', 'error'];
export const LOG_FORMATS: readonly LogFormat[] = ['text', 'json', 'hclog'];

export interface Logger {
  readonly level: LogLevel;
  trace(message: string, fields?: LogFields): void;
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
  /** A logger that adds `fields` to every line. */
  child(fields: LogFields): Logger;
}

export interface LoggerOptions {
  readonly format: LogFormat;
  readonly level: LogLevel;
  /** Receives each complete line including its newline. Defaults to stderr. */
  readonly write?: (line: string) => void;
  /** hclog's `@module`; also prefixed to text lines. */
  readonly module?: string;
  /** For tests: the clock. */
  readonly now?: () => Date;
}

const rank = (l: LogLevel): number => LOG_LEVELS.indexOf(l);

/** RFC 3339 with exactly six fractional digits, the layout hclog/SPIRE require. */
export function hclogTimestamp(d: Date): string {
  const iso = d.toISOString(); // 2026-01-02T03:04:05.123Z
  return `${iso.slice(0, 23)}000Z`;
}

function textValue(v: string | number | boolean): string {
  const s = String(v);
  return /^[\w.,:/@+-]*$/.test(s) && s !== '' ? s : JSON.stringify(s);
}

export function createLogger(options: LoggerOptions, bound: LogFields = {}): Logger {
  const write =
    options.write ??
    ((line: string) => {
      process.stderr.write(line);
    });
  const now = options.now ?? (() => new Date());
  const min = rank(options.level);

  const emit = (level: LogLevel, message: string, fields: LogFields | undefined): void => {
    if (rank(level) < min) return;
    const all: Record<string, string | number | boolean> = {};
    for (const src of [bound, fields ?? {}]) {
      for (const [k, v] of Object.entries(src)) if (v !== undefined) all[k] = v;
    }
    switch (options.format) {
      case 'hclog': {
        // Reserved keys last so a field can never overwrite them with a non-string.
        const rec: Record<string, unknown> = { ...all };
        rec['@level'] = level;
        rec['@message'] = message;
        if (options.module !== undefined) rec['@module'] = options.module;
        rec['@timestamp'] = hclogTimestamp(now());
        write(`${JSON.stringify(rec)}\n`);
        return;
      }
      case 'json': {
        write(`${JSON.stringify({ time: now().toISOString(), level, msg: message, ...all })}\n`);
        return;
      }
      case 'text': {
        const kv = Object.entries(all)
          .map(([k, v]) => ` ${k}=${textValue(v)}`)
          .join('');
        const prefix = options.module === undefined ? '' : `${options.module}: `;
        write(`${prefix}${level === 'info' ? '' : `${level}: `}${message}${kv}\n`);
        return;
      }
    }
  };

  return {
    level: options.level,
    trace: (m, f) => {
      emit('trace', m, f);
    },
    debug: (m, f) => {
      emit('debug', m, f);
    },
    info: (m, f) => {
      emit('info', m, f);
    },
    warn: (m, f) => {
      emit('warn', m, f);
    },
    error: (m, f) => {
      emit('error', m, f);
    },
    child: (fields) => createLogger(options, { ...bound, ...fields }),
  };
}

/** A logger that drops everything; for library callers that pass none. */
export const silentLogger: Logger = createLogger({ format: 'text', level: 'error', write: () => undefined });
