/**
 * One node's pod network: a CNI conflist for the node's own bridge (host-net.ts made it, with its
 * gateway address) — bridge + host-local IPAM on the node's /24, then portmap (it only acts for
 * pods with hostPorts). `ipMasq: false`: no NAT rule is ever written on the host. containerd's
 * CRI sets up each pod's loopback itself with the `loopback` plugin from the same bin dir.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { binPath } from './bins.js';
import type { NodeBridge } from './host-net.js';

/** The directory holding the CNI plugins tools/build-test-bins.sh built. */
export function cniBinDir(): string {
  return dirname(binPath('bridge'));
}

/** Writes `<confDir>/10-<network>.conflist`; host-local keeps its leases in `ipamDir`. */
export function writeCniConfig(
  confDir: string,
  ipamDir: string,
  network: string,
  bridge: NodeBridge,
): string {
  mkdirSync(confDir, { recursive: true });
  mkdirSync(ipamDir, { recursive: true });
  const conf = {
    cniVersion: '1.0.0',
    name: network,
    plugins: [
      {
        type: 'bridge',
        bridge: bridge.name,
        isGateway: true,
        isDefaultGateway: true,
        ipMasq: false,
        hairpinMode: true,
        ipam: {
          type: 'host-local',
          ranges: [[{ subnet: bridge.subnet, gateway: bridge.gateway }]],
          dataDir: ipamDir,
        },
      },
      { type: 'portmap', capabilities: { portMappings: true } },
    ],
  };
  const path = join(confDir, `10-${network}.conflist`);
  writeFileSync(path, JSON.stringify(conf, null, 2));
  return path;
}
