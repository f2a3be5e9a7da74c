// Runs one component's Go build for tools/build-test-bins.sh and shows where it is, because a
// cold build is silent for up to half an hour otherwise: the phase (download, list, compile,
// link), modules or packages done out of the total, and the elapsed time. On a terminal that is
// one line updated in place; with CI=true or when stderr is not a terminal, a plain line at each
// phase and every 5 s. On failure it prints the last 40 lines of Go's output (the compiler's
// errors), which the build log used to lose. Plain Node, no dependencies.
//
// usage (in the Go module's directory, CGO_ENABLED set by the caller):
//   node go-build-progress.mjs --label <name> --out <dir> [--ldflags <flags>] [--timefile <file>]
//        <binary>=<package> ...
// Each package is built with `go build -o <dir>/<binary>`, one after the other (linking two
// Kubernetes binaries at once would double the peak memory). --timefile: /usr/bin/time appends
// each build's peak RSS (KiB) there, when /usr/bin/time exists.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { parseArgs } from 'node:util';

const TAIL_LINES = 40;
const PLAIN_EVERY_MS = 5000;
const TTY_EVERY_MS = 1000;

const { values: opts, positionals } = parseArgs({
  options: {
    label: { type: 'string' },
    out: { type: 'string' },
    ldflags: { type: 'string', default: '' },
    timefile: { type: 'string' },
  },
  allowPositionals: true,
});
const targets = positionals.map((t) => {
  const i = t.indexOf('=');
  return { name: t.slice(0, i), pkg: t.slice(i + 1) };
});
if (
  opts.label === undefined ||
  opts.out === undefined ||
  targets.length === 0 ||
  targets.some((t) => !t.name || !t.pkg)
) {
  console.error(
    'usage: go-build-progress.mjs --label <name> --out <dir> [--ldflags <flags>] [--timefile <file>] <binary>=<package> ...',
  );
  process.exit(2);
}

const ci =
  process.env.CI !== undefined &&
  process.env.CI !== '' &&
  process.env.CI !== 'false' &&
  process.env.CI !== '0';
const tty = process.stderr.isTTY === true && !ci;
const started = Date.now();
const tail = [];
const keep = (text) => {
  for (const line of text.split('\n')) {
    if (line === '') continue;
    tail.push(line);
    if (tail.length > TAIL_LINES) tail.shift();
  }
};

const plural = (n, what) => `${String(n)} ${what}${n === 1 ? '' : 's'}`;
/** "3m12s" */
const clock = (ms) => {
  const s = Math.floor(ms / 1000);
  return `${String(Math.floor(s / 60))}m${String(s % 60).padStart(2, '0')}s`;
};

// The state the display shows; `status()` renders it.
const state = { phase: 'start', done: 0, total: 0, unit: '', detail: '', building: '' };
const status = () => {
  const count =
    state.total > 0
      ? ` ${String(Math.min(state.done, state.total))}/${String(state.total)} ${state.unit}`
      : '';
  return `${opts.label}: ${state.phase}${count}${state.detail ? ` ${state.detail}` : ''}, ${clock(Date.now() - started)}`;
};
let lastPlain = 0;
let shown = '';
const render = (force = false) => {
  const line = status();
  if (tty) {
    // Never wider than the terminal, or each redraw would leave a line behind.
    const width = process.stderr.columns ?? 0;
    process.stderr.write(`\r\x1b[K${width > 20 ? line.slice(0, width - 1) : line}`);
    shown = line;
  } else if (force || Date.now() - lastPlain >= PLAIN_EVERY_MS) {
    process.stderr.write(`${line}\n`);
    lastPlain = Date.now();
  }
};
const setPhase = (phase, fields = {}) => {
  Object.assign(state, { phase, done: 0, total: 0, unit: '', detail: '' }, fields);
  render(true);
};
const ticker = setInterval(() => render(), tty ? TTY_EVERY_MS : 1000);
/** Ends the updating line so that what follows starts on its own line. */
const endLine = () => {
  if (tty && shown !== '') process.stderr.write('\n');
  shown = '';
};

/**
 * Runs a command; `onLine(stream, line)` sees each line of its output. Resolves on exit 0;
 * otherwise prints the tail of the output and exits the process with the command's code.
 */
function run(cmd, args, onLine, onSpawn, shownAs = [cmd, ...args].join(' ')) {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    onSpawn?.(child);
    for (const stream of ['stdout', 'stderr']) {
      let rest = '';
      child[stream].setEncoding('utf8');
      child[stream].on('data', (chunk) => {
        const lines = (rest + chunk).split('\n');
        rest = lines.pop() ?? '';
        for (const l of lines) onLine(stream, l);
      });
      child[stream].on('end', () => {
        if (rest !== '') onLine(stream, rest);
      });
    }
    child.on('error', (err) => fail(shownAs, `could not start: ${err.message}`, 127));
    child.on('close', (code, signal) => {
      if (code === 0) resolve();
      else fail(shownAs, signal !== null ? `killed by ${signal}` : `exit ${String(code)}`, code ?? 1);
    });
  });
}

function fail(what, how, code) {
  clearInterval(ticker);
  endLine();
  process.stderr.write(
    `${opts.label}: failed ${state.building ? `building ${state.building}` : `in the ${state.phase} phase`} after ${clock(Date.now() - started)}: ${what} (${how})\n` +
      (tail.length > 0
        ? `last ${String(tail.length)} lines of its output:\n${tail.map((l) => `  ${l}`).join('\n')}\n`
        : 'it printed nothing\n'),
  );
  process.exit(code === 0 ? 1 : code);
}

/**
 * Whether Go's linker is running under `pid`. `go build -v -json` (Go 1.26) does not reliably
 * report the binary's own package (the event is missing in about half the runs), so the link
 * phase is also read from the process tree: Go runs its tools (compile, asm, cgo, link) as
 * child processes.
 */
function linkerRunning(pid) {
  const children = new Map();
  const comm = new Map();
  let entries;
  try {
    entries = readdirSync('/proc');
  } catch {
    return false; // no /proc (not Linux): no link phase shown
  }
  for (const e of entries) {
    if (!/^\d+$/.test(e)) continue;
    let stat;
    try {
      stat = readFileSync(`/proc/${e}/stat`, 'utf8');
    } catch {
      continue; // exited meanwhile
    }
    // "pid (comm) state ppid ...": comm may contain spaces and parentheses.
    const close = stat.lastIndexOf(')');
    const ppid = Number(stat.slice(close + 2).split(' ')[1]);
    comm.set(Number(e), stat.slice(stat.indexOf('(') + 1, close));
    children.set(ppid, [...(children.get(ppid) ?? []), Number(e)]);
  }
  const todo = [pid];
  while (todo.length > 0) {
    const p = todo.pop();
    if (p !== pid && comm.get(p) === 'link') return true;
    todo.push(...(children.get(p) ?? []));
  }
  return false;
}

// 1. Download: one zip per module Go needs (`go mod download -x` logs each fetch).
const modules = existsSync('go.sum')
  ? new Set(
      readFileSync('go.sum', 'utf8')
        .split('\n')
        .filter((l) => l.trim() !== '' && !l.split(' ')[1]?.endsWith('/go.mod'))
        .map((l) => l.split(' ').slice(0, 2).join('@')),
    ).size
  : 0;
// go.sum also pins modules only the tests of dependencies use, so its count is an upper bound.
setPhase('download', { total: modules, unit: 'modules fetched (at most)' });
await run('go', ['mod', 'download', '-x'], (_stream, line) => {
  if (/^# get \S+\.zip: 200 /.test(line)) {
    state.done += 1;
    render();
  } else if (!line.startsWith('# get ') && !line.startsWith('mkdir ') && !line.startsWith('unzip '))
    keep(line);
});
const fetched = state.done;

// 2. List every package the binaries need: the total to compile (a cold build compiles all).
setPhase('list packages');
const deps = new Set();
await run('go', ['list', '-deps', ...targets.map((t) => t.pkg)], (stream, line) => {
  if (stream === 'stdout' && line !== '' && line !== 'unsafe') deps.add(line);
  else if (stream === 'stderr') keep(line);
});

// 3. Compile and link each binary. With -v -json, Go reports each package it compiles (not the
// ones it finds in its build cache) as a build-output event whose text is the import path.
const compiled = new Set();
const time = opts.timefile !== undefined && existsSync('/usr/bin/time');
for (const { name, pkg } of targets) {
  state.building = name;
  const goArgs = ['build', '-v', '-json', '-ldflags', opts.ldflags, '-o', `${opts.out}/${name}`, pkg];
  const [cmd, args] = time
    ? ['/usr/bin/time', ['-f', '%M', '-a', '-o', opts.timefile, 'go', ...goArgs]]
    : ['go', goArgs];
  setPhase('compile', { total: deps.size, unit: 'packages', done: compiled.size, detail: `(for ${name})` });
  let child;
  const watch = setInterval(() => {
    if (child?.pid !== undefined && !state.phase.startsWith('link') && linkerRunning(child.pid)) {
      compiled.add(pkg); // its own package is compiled just before the link (or came from the cache)
      setPhase(`link ${name}`, {});
    }
  }, 500);
  await run(
    cmd,
    args,
    (stream, line) => {
      if (stream === 'stdout' && line.startsWith('{')) {
        let ev;
        try {
          ev = JSON.parse(line);
        } catch {
          return keep(line);
        }
        if (ev.Action === 'build-output' && ev.Output === `${ev.ImportPath}\n`) {
          compiled.add(ev.ImportPath);
          if (state.phase === 'compile') state.done = compiled.size;
          // The binary's own package comes last, then the linker (when Go reports it at all).
          if (ev.ImportPath === pkg && state.phase === 'compile') setPhase(`link ${name}`, {});
          else render();
        } else if (ev.Output !== undefined) keep(ev.Output);
      } else keep(line);
    },
    (c) => (child = c),
    ['go', ...goArgs].join(' '),
  );
  clearInterval(watch);
  compiled.add(pkg); // counted with its binary, whether or not Go reported it
}
clearInterval(ticker);
endLine();
const cached = [...deps].filter((p) => !compiled.has(p)).length;
process.stderr.write(
  `${opts.label}: ${plural(fetched, 'module')} fetched, ${plural(compiled.size, 'package')} compiled` +
    `${cached > 0 ? ` (${String(cached)} from Go's build cache)` : ''}, ${targets.length === 1 ? 'binary' : `${String(targets.length)} binaries`} linked in ${clock(Date.now() - started)}\n`,
);
