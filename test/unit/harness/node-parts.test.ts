/**
 * The pure parts of the node harness: CIDR overlap (how free bridge and Service ranges are
 * picked), the CRI's image-name normalisation (under which name an imported image must exist so
 * the kubelet never pulls), node names, the CNI conflist and the containerd shim search.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { nodeName } from '../../harness/cluster.js';
import { writeCniConfig } from '../../harness/cni.js';
import { killShims } from '../../harness/containerd.js';
import { cidrsOverlap } from '../../harness/host-net.js';
import { criImageName } from '../../harness/node-images.js';

describe('cidrsOverlap', () => {
  it('is true for nested and equal prefixes, false for neighbours', () => {
    assert.equal(cidrsOverlap('10.244.7.0/24', '10.244.7.0/24'), true);
    assert.equal(cidrsOverlap('10.244.7.0/24', '10.244.0.0/16'), true);
    assert.equal(cidrsOverlap('10.244.0.0/16', '10.244.7.9/32'), true);
    assert.equal(cidrsOverlap('10.244.7.0/24', '10.244.8.0/24'), false);
    assert.equal(cidrsOverlap('10.96.1.1/32', '10.96.1.0/24'), true);
    assert.equal(cidrsOverlap('192.0.2.0/24', '10.0.0.0/8'), false);
    assert.equal(cidrsOverlap('0.0.0.0/0', '10.1.2.0/24'), true);
  });
});

describe('criImageName', () => {
  it('normalises as the CRI does: localhost and registries stay, others go to docker.io, :latest added', () => {
    assert.equal(criImageName('localhost/pause:0.1.0'), 'localhost/pause:0.1.0');
    assert.equal(criImageName('localhost/x'), 'localhost/x:latest');
    assert.equal(criImageName('local/x:1'), 'docker.io/local/x:1');
    assert.equal(criImageName('pause'), 'docker.io/library/pause:latest');
    assert.equal(criImageName('registry.example:5000/a/b:2'), 'registry.example:5000/a/b:2');
    assert.equal(criImageName('quay.io/x/y@sha256:abc'), 'quay.io/x/y@sha256:abc');
  });
});

describe('nodeName', () => {
  it('names nodes node-a … node-z and refuses anything else', () => {
    assert.equal(nodeName(0), 'node-a');
    assert.equal(nodeName(25), 'node-z');
    assert.throws(() => nodeName(26), /node index 26 is not in 0\.\.25/);
    assert.throws(() => nodeName(-1), /not in 0\.\.25/);
  });
});

describe('writeCniConfig', () => {
  it("writes a bridge + host-local + portmap conflist for the node's bridge, without NAT", () => {
    const dir = mkdtempSync(join(tmpdir(), 'na-cni-'));
    try {
      const path = writeCniConfig(join(dir, 'net.d'), join(dir, 'ipam'), 'na-node-a', {
        name: 'na-br7',
        subnet: '10.244.7.0/24',
        gateway: '10.244.7.1',
        remove: () => Promise.resolve(),
      });
      const conf = JSON.parse(readFileSync(path, 'utf8')) as {
        name: string;
        plugins: {
          type: string;
          bridge?: string;
          ipMasq?: boolean;
          ipam?: { dataDir?: string; ranges?: unknown };
        }[];
      };
      assert.equal(conf.name, 'na-node-a');
      assert.deepEqual(
        conf.plugins.map((p) => p.type),
        ['bridge', 'portmap'],
      );
      const bridge = conf.plugins[0]!;
      assert.equal(bridge.bridge, 'na-br7');
      assert.equal(bridge.ipMasq, false);
      assert.ok(bridge.ipam !== undefined);
      assert.equal(bridge.ipam.dataDir, join(dir, 'ipam'));
      assert.deepEqual(bridge.ipam.ranges, [[{ subnet: '10.244.7.0/24', gateway: '10.244.7.1' }]]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

/** Whether `pid` has a child process (from /proc/<pid>/task/<pid>/children). */
function hasChild(pid: number): boolean {
  try {
    return readFileSync(`/proc/${String(pid)}/task/${String(pid)}/children`, 'utf8').trim() !== '';
  } catch {
    return false;
  }
}

describe('killShims', () => {
  it('kills the processes started for one socket and their children, and nothing else', async () => {
    // Stand-ins: `sh` named containerd-shim… by exec -a, with the -address argument a shim has,
    // each with a sleeping child.
    const start = (socket: string) =>
      spawn(
        'bash',
        ['-c', `exec -a containerd-shim-runc-v2 bash -c 'sleep 300 & wait' x -address ${socket}`],
        {
          stdio: 'ignore',
        },
      );
    const mine = start('/tmp/na-test-mine.sock');
    const other = start('/tmp/na-test-other.sock');
    const gone = (c: ReturnType<typeof spawn>): Promise<unknown> => new Promise((r) => c.once('exit', r));
    try {
      // Wait (bounded) until each stand-in has exec'd and forked its child.
      const deadline = Date.now() + 10_000;
      while (!([mine, other] as const).every((c) => hasChild(c.pid ?? 0))) {
        if (Date.now() > deadline) assert.fail('the stand-ins did not start their children within 10 s');
        await new Promise((r) => setTimeout(r, 20));
      }
      const killed = killShims('/tmp/na-test-mine.sock');
      assert.equal(killed, 2, 'the stand-in and its sleep');
      await gone(mine);
      assert.equal(other.exitCode, null, 'the other socket’s stand-in still runs');
    } finally {
      other.kill('SIGKILL');
      killShims('/tmp/na-test-other.sock');
    }
  });
});
