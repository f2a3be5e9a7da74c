// Checks, in a second, everything a command needs before it starts a build that takes half an
// hour: a missing gcc used to surface after ~21 minutes of compiling, a missing setpriv after the
// whole build as "exited with code 127". Prints every missing item at once, each with how to get
// it, and exits 1; prints nothing and exits 0 when all is there. Plain Node, no dependencies.
//
// usage: node scripts/prereqs.mjs <purpose> [component ...]
//   purpose: test-bins | cluster | demo | e2e | bench | images | node
//   (node: what `npm run cluster -- --nodes N` needs on top of cluster; e2e includes it)
//   components (test-bins only): kubernetes kubernetes-node cni etcd spire (default: all)
// The tools needed to build the test binaries (Go, gcc, flock, disk space) are checked only while
// some binary the purpose needs is not built yet (tools/build-test-bins.sh --plan says which).
import { execFileSync } from 'node:child_process';
import { accessSync, constants, readFileSync, statSync, statfsSync } from 'node:fs';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BUILD_SCRIPT = join(ROOT, 'tools', 'build-test-bins.sh');
const ALL = ['kubernetes', 'kubernetes-node', 'cni', 'etcd', 'spire'];

// What each tool is for and how to get it on Debian/Ubuntu (other systems: the same packages).
const TOOLS = {
  bash: { why: 'runs tools/build-test-bins.sh and keys/node-attestor/*.sh', get: 'apt-get install bash' },
  flock: { why: 'one build per component at a time (util-linux)', get: 'apt-get install util-linux' },
  gcc: { why: "SPIRE's sqlite datastore is built with cgo", get: 'apt-get install gcc' },
  setpriv: {
    why: 'the local control plane and SPIRE are started through setpriv --pdeathsig (util-linux, Linux only)',
    get: 'apt-get install util-linux',
  },
  buildah: {
    why: 'builds the container images with no daemon and no registry (tools/build-images.sh)',
    get: 'apt-get install buildah',
  },
  openssl: {
    why: 'the bootstrap-credential scripts (keys/node-attestor/) and the certificate checks',
    get: 'apt-get install openssl',
  },
  // A local node (test/harness/node.ts): Debian's containerd 1.6 and runc, run by the harness.
  containerd: {
    why: "a local node's container runtime (test/harness/node.ts)",
    get: 'apt-get install containerd',
  },
  runc: { why: 'the OCI runtime containerd starts containers with', get: 'apt-get install runc' },
  ctr: {
    why: "imports the locally built images into a node's containerd",
    get: 'apt-get install containerd',
  },
  unshare: { why: "a local node's private mount namespace (util-linux)", get: 'apt-get install util-linux' },
  nsenter: {
    why: "starts the kubelet in its node's mount namespace (util-linux)",
    get: 'apt-get install util-linux',
  },
  ip: {
    why: "a local node's bridge and the kubernetes Service address on lo",
    get: 'apt-get install iproute2',
  },
};
const NODE_TOOLS = ['containerd', 'runc', 'ctr', 'unshare', 'nsenter', 'ip'];

// Tools each command runs besides the test binaries, and the components it needs built.
const PURPOSES = {
  'test-bins': { components: ALL, run: [] },
  cluster: { components: ['kubernetes', 'etcd'], run: ['setpriv'] },
  demo: { components: ALL, run: ['bash', 'setpriv', 'openssl'] },
  e2e: { components: ALL, run: ['bash', 'setpriv', 'openssl', 'buildah', ...NODE_TOOLS] },
  bench: { components: ALL, run: ['bash', 'setpriv', 'openssl'] },
  // The SPIRE binaries it packs are built (and their tools checked) by build-test-bins.sh first.
  images: { components: [], run: ['bash', 'flock', 'buildah'] },
  // A cluster with nodes: the node's binaries and tools, and buildah for the pause image.
  node: {
    components: ['kubernetes', 'kubernetes-node', 'cni', 'etcd'],
    run: ['bash', 'setpriv', 'flock', 'buildah', ...NODE_TOOLS],
  },
};

// Disk a cold build of each component takes (Go module cache + Go build cache + binaries),
// rounded up from the measurements in docs/development.md (all three: 9.5–11 GB).
const BUILD_GB = { kubernetes: 5, 'kubernetes-node': 1, cni: 0.5, etcd: 1, spire: 5 };
// How that space divides between the three places (module cache, build cache, binaries).
const SHARE = { GOMODCACHE: 0.35, GOCACHE: 0.6, bins: 0.05 };

const [purpose, ...args] = process.argv.slice(2);
if (purpose === undefined || !(purpose in PURPOSES) || (purpose !== 'test-bins' && args.length > 0)) {
  console.error(`usage: prereqs.mjs ${Object.keys(PURPOSES).join('|')} [component ...]`);
  process.exit(2);
}
const unknown = args.filter((a) => !ALL.includes(a));
if (unknown.length > 0) {
  console.error(`prereqs: unknown component '${unknown[0]}' (want ${ALL.join(', ')})`);
  process.exit(2);
}
const components = args.length > 0 ? args : PURPOSES[purpose].components;

/** The executable `name` on PATH, or undefined. */
function which(name) {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue;
    const p = join(dir, name);
    try {
      accessSync(p, constants.X_OK);
      if (statSync(p).isFile()) return p;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** [major, minor] of a version string like "20.19.1", "go1.26.8" or ">=20.19". */
function majorMinor(s) {
  const m = /(\d+)\.(\d+)/.exec(s);
  return m === null ? undefined : [Number(m[1]), Number(m[2])];
}
const atLeast = (have, want) => have[0] > want[0] || (have[0] === want[0] && have[1] >= want[1]);

const missing = [];
const need = (what, why, get) => missing.push({ what, why, get });

// Node: the version package.json's engines field asks for.
const engines = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).engines?.node ?? '';
const wantNode = majorMinor(engines);
if (wantNode !== undefined && !atLeast(majorMinor(process.versions.node), wantNode))
  need(
    `Node.js ${engines} (this is ${process.versions.node})`,
    'the CLI, the plugins and the tests',
    'https://nodejs.org/en/download (or: nvm install 20)',
  );

// Tools the command runs.
const runTools = new Set(PURPOSES[purpose].run);
if (purpose !== 'test-bins' && process.platform !== 'linux')
  need(`Linux (this is ${process.platform})`, TOOLS.setpriv.why, 'run it on a Linux machine or VM');

// What is not built yet, and where it would go; only then do the build tools matter.
let plan;
if (components.length === 0) {
  plan = ''; // nothing to build
} else if (which('bash') === undefined) {
  runTools.add('bash'); // reported below; without bash nothing can be built or even looked up
} else {
  try {
    plan = execFileSync('bash', [BUILD_SCRIPT, '--plan', ...components], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  } catch (err) {
    const said = String(err.stderr ?? err.message)
      .trim()
      .split('\n')[0];
    need('a working tools/build-test-bins.sh --plan', said, 'the basic shell tools (coreutils, awk)');
  }
}
const toBuild = [];
let binCache;
for (const line of (plan ?? '').split('\n')) {
  const eq = line.indexOf('=');
  const [key, value] = [line.slice(0, eq), line.slice(eq + 1)];
  if (key === 'cache') binCache = value;
  if (key === 'missing') toBuild.push(value);
}
if (plan === undefined) toBuild.push(...components); // unknown: assume a cold machine

if (toBuild.length > 0) {
  runTools.add('bash');
  runTools.add('flock');
  if (toBuild.includes('spire')) runTools.add('gcc');
  checkGo();
}
for (const t of Object.keys(TOOLS))
  if (runTools.has(t) && which(t) === undefined) need(t, TOOLS[t].why, TOOLS[t].get);

/** Go at least as new as the newest `go` line in tools/<module>/go.mod (GOTOOLCHAIN=local). */
function checkGo() {
  const wantGo = ['k8s', 'cni', 'etcd', 'spire']
    .map((d) => /^go (\S+)/m.exec(readFileSync(join(ROOT, 'tools', d, 'go.mod'), 'utf8'))?.[1])
    .filter((v) => v !== undefined)
    .map(majorMinor)
    .reduce((a, b) => (atLeast(a, b) ? a : b));
  const wantText = `Go >= ${wantGo.join('.')}`;
  const why = `builds ${toBuild.join(', ')} once into the cache`;
  const get = 'https://go.dev/doc/install (Debian/Ubuntu packages are often older)';
  if (which('go') === undefined) return need(wantText, why, get);
  let version = '';
  try {
    version = execFileSync('go', ['env', 'GOVERSION'], {
      encoding: 'utf8',
      env: { ...process.env, GOTOOLCHAIN: 'local' },
    }).trim();
  } catch {
    // reported below as an unknown version
  }
  const have = majorMinor(version);
  if (have === undefined || !atLeast(have, wantGo))
    return need(`${wantText} (this is ${version || 'an unknown version'})`, why, get);
  checkDisk();
}

/** Free space for the caches a cold build fills, per filesystem. */
function checkDisk() {
  const env = JSON.parse(execFileSync('go', ['env', '-json', 'GOCACHE', 'GOMODCACHE'], { encoding: 'utf8' }));
  const places = { GOMODCACHE: env.GOMODCACHE, GOCACHE: env.GOCACHE, bins: binCache };
  const gb = toBuild.reduce((sum, c) => sum + BUILD_GB[c], 0);
  const byFs = new Map();
  for (const [place, dir] of Object.entries(places)) {
    if (dir === undefined || dir === '' || dir === 'off') continue;
    const at = existingAncestor(dir);
    const fs = statfsSync(at);
    const key = statSync(at).dev;
    const entry = byFs.get(key) ?? { dirs: [], needGb: 0, freeGb: (fs.bavail * fs.bsize) / 1e9 };
    entry.dirs.push(dir);
    entry.needGb += gb * SHARE[place];
    byFs.set(key, entry);
  }
  for (const { dirs, needGb, freeGb } of byFs.values())
    if (freeGb < needGb)
      need(
        `${needGb.toFixed(1)} GB free disk for ${dirs.join(', ')} (${freeGb.toFixed(1)} GB free)`,
        `a cold build of ${toBuild.join(', ')} fills the Go caches (~11 GB for all three)`,
        'free some space, or point GOCACHE, GOMODCACHE and NODE_ATTESTOR_CACHE at a bigger disk',
      );
}

function existingAncestor(p) {
  for (let d = p; ; d = dirname(d)) {
    try {
      statSync(d);
      return d;
    } catch {
      if (dirname(d) === d) return d;
    }
  }
}

// What the user ran, when it is not `npm run <purpose>`.
const COMMAND = {
  'test-bins': 'the build of the test binaries',
  e2e: 'npm run test:e2e',
  node: 'npm run cluster -- --nodes N (a local node)',
};
if (missing.length > 0) {
  const lines = missing.map((m) => `  - ${m.what}: ${m.why}\n      get it: ${m.get}`);
  console.error(
    `node-attestor: cannot start ${COMMAND[purpose] ?? `npm run ${purpose}`}; missing:\n${lines.join('\n')}`,
  );
  process.exit(1);
}
