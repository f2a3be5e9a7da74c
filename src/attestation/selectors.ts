/**
 * Selector values (the SPIRE selector type is the plugin name, added by the caller). The
 * certificate-derived ones match x509pop's (subject:cn, ca:fingerprint, serialnumber), so
 * registration entries written for x509pop carry over.
 */
import type { X509Certificate } from 'node:crypto';
import { OID } from '../x509/oids.js';
import { readCertificate } from './chain/certificate.js';

/** What a Node lookup found; labels are already filtered to the allow-list by the caller. */
export interface NodeFacts {
  readonly uid?: string;
  readonly labels?: Readonly<Record<string, string>>;
}

export interface SelectorInput {
  readonly cluster: string;
  readonly nodeName: string;
  readonly leaf: X509Certificate;
  /** Every verified path (leaf … trust anchor); each distinct non-leaf certificate gets a ca:fingerprint. */
  readonly paths: readonly (readonly X509Certificate[])[];
  readonly node?: NodeFacts | undefined;
}

/** Sorted, de-duplicated selector values. */
export function selectorValues(input: SelectorInput): string[] {
  const leaf = readCertificate(input.leaf, 'certificate 0 (the leaf)');
  const values = new Set<string>([
    `cluster:${input.cluster}`,
    `agent_node_name:${input.nodeName}`,
    `serialnumber:${leaf.serialHex}`,
  ]);
  for (const attribute of leaf.subjectRdns.flat())
    if (attribute.type === OID.commonName && attribute.value !== '')
      values.add(`subject:cn:${attribute.value}`);
  for (const path of input.paths)
    for (const cert of path.slice(1))
      values.add(`ca:fingerprint:${readCertificate(cert, 'CA certificate', 'ERR_CONFIG').sha1}`);
  const node = input.node;
  if (node?.uid !== undefined) values.add(`agent_node_uid:${node.uid}`);
  for (const [key, value] of Object.entries(node?.labels ?? {}))
    values.add(`agent_node_label:${key}:${value}`);
  return [...values].sort();
}
