/**
 * Binds the agent's connection to the Node it claims to be: SPIRE ≥ 1.15 forwards the address it
 * saw the agent connect from as gRPC metadata x-forwarded-client-ip (empty when unknown; absent on
 * older SPIRE). With require_node_address the address must be one of the Node's status.addresses.
 * Fails closed: no address, no attestation. (A NAT or proxy between agent and server breaks this;
 * docs/security.md.)
 */
import { isIP } from 'node:net';
import { AttestorError } from '../../../errors.js';
import type { NodeFacts } from './node-lookup.js';

export const CLIENT_IP_METADATA = 'x-forwarded-client-ip';

/** "::ffff:10.0.0.1" and "10.0.0.1" are the same agent. */
export function normalizeIp(ip: string): string {
  const t = ip.trim().toLowerCase();
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(t);
  return mapped?.[1] ?? t;
}

export function checkNodeAddress(
  metadata: ReadonlyMap<string, string>,
  node: NodeFacts,
  cluster: string,
): string {
  const known = node.addresses
    .filter((a) => isIP(normalizeIp(a.address)) !== 0)
    .map((a) => normalizeIp(a.address));
  // The Node's addresses go to the log only: a caller holding a minted certificate (the trust
  // gap) and its key must not learn where node <name> lives from the refusal.
  const fail = (message: string): AttestorError =>
    new AttestorError('ERR_NODE', message, {
      details: {
        cluster,
        node: node.name,
        check: 'node-address',
        node_addresses: known.join(', ') || 'none',
      },
    });
  const raw = metadata.get(CLIENT_IP_METADATA);
  if (raw === undefined)
    throw fail(
      `spire-server did not forward the agent's address (it needs SPIRE 1.15 or later); require_node_address refuses node ${node.name}`,
    );
  if (raw.trim() === '' || isIP(normalizeIp(raw)) === 0)
    throw fail(
      `spire-server forwarded no usable agent address (${JSON.stringify(raw)}); require_node_address refuses node ${node.name}`,
    );
  const ip = normalizeIp(raw);
  if (!known.includes(ip))
    throw fail(
      `the agent connected from ${ip}, which is not an address of node ${node.name} in cluster ${cluster}`,
    );
  return ip;
}
