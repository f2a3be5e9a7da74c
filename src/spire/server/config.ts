/**
 * The k8s_csr server plugin's configuration (plugin_data in server.conf), one entry per cluster
 * so one SPIRE server can attest the nodes of several clusters. Documented in
 * docs/plugin-server-k8s-csr.md; unknown keys are refused by name.
 */
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { AttestorError, isAttestorError } from '../../errors.js';
import { clusterNameProblem, parsePemCertificates } from '../../attestation/agent.js';
import { compileServerConfig, type CompiledServerConfig } from '../../attestation/verify-attestation.js';
import { DEFAULT_MAX_INTERMEDIATES } from '../../attestation/payload.js';
import { ConfigReader } from '../config-reader.js';

export const DEFAULT_PLUGIN_NAME = 'k8s_csr';

export interface ServerConfig {
  readonly compiled: CompiledServerConfig;
  /** For logs: cluster name → CA bundle path and certificate count. */
  readonly bundles: ReadonlyMap<string, { path: string; certificates: number }>;
}

const configError = (message: string, key: string, cause?: unknown): AttestorError =>
  new AttestorError('ERR_CONFIG', message, { details: { key }, ...(cause !== undefined ? { cause } : {}) });

function readBundle(cluster: string, path: string): X509Certificate[] {
  const key = `clusters."${cluster}".ca_bundle_path`;
  let pem: string;
  try {
    pem = readFileSync(path, 'utf8');
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message;
    throw configError(`${key}: cannot read ${path}: ${reason}`, key, err);
  }
  let ders: Buffer[];
  try {
    ders = parsePemCertificates(pem, `${key} ${path}`);
  } catch (err) {
    throw configError(err instanceof Error ? err.message : String(err), key, err);
  }
  // OpenSSL's own message ("PEM routines::no start line") names neither the key nor the file.
  return ders.map((der, i) => {
    try {
      return new X509Certificate(der);
    } catch (err) {
      throw configError(
        `${key} ${path}: certificate ${i + 1} does not parse: ${err instanceof Error ? err.message : String(err)}`,
        key,
        err,
      );
    }
  });
}

/** Parses plugin_data and reads every CA bundle (SPIRE re-sends Configure to reload them). */
export function loadServerConfig(hcl: string, trustDomain: string): ServerConfig {
  const r = ConfigReader.parse(hcl);
  const pluginName = r.optionalString('plugin_name') ?? DEFAULT_PLUGIN_NAME;
  const template = r.optionalString('agent_path_template');
  const clockSkewMs = r.optionalDuration('clock_skew', { max: 600_000 });
  const maxIntermediates =
    r.optionalInt('max_intermediates', { min: 0, max: 16 }) ?? DEFAULT_MAX_INTERMEDIATES;
  const clusterReaders = r.objectMap('clusters');
  if (clusterReaders.size === 0)
    throw configError(
      'clusters must name at least one cluster, e.g. clusters = { "prod" = { ca_bundle_path = "/etc/k8s/ca.crt" } }',
      'clusters',
    );
  const clusters = new Map<string, { caBundle: X509Certificate[] }>();
  const bundles = new Map<string, { path: string; certificates: number }>();
  for (const [name, c] of clusterReaders) {
    const problem = clusterNameProblem(name);
    if (problem !== undefined)
      throw configError(`clusters: cluster name ${JSON.stringify(name)} ${problem}`, 'clusters');
    const path = c.requiredString('ca_bundle_path');
    const caBundle = readBundle(name, path);
    clusters.set(name, { caBundle });
    bundles.set(name, { path, certificates: caBundle.length });
  }
  r.done();
  let compiled: CompiledServerConfig;
  try {
    compiled = compileServerConfig({
      clusters,
      pluginName,
      trustDomain,
      maxIntermediates,
      ...(clockSkewMs !== undefined ? { clockSkewSeconds: Math.round(clockSkewMs / 1000) } : {}),
      ...(template !== undefined ? { agentPathTemplate: template } : {}),
    });
  } catch (err) {
    // The template parser says "agent path template"; name the key the user wrote.
    if (isAttestorError(err, 'ERR_CONFIG') && err.details.key === 'agent_path_template')
      throw configError(`agent_path_template: ${err.message}`, 'agent_path_template', err);
    throw err;
  }
  // This plugin does no Node lookups, so {{node_uid}} would fail every attestation: refuse it now.
  if (compiled.template.variables.has('node_uid'))
    throw configError(
      `agent_path_template ${JSON.stringify(compiled.template.text)} uses {{node_uid}}, which needs Node lookups that this plugin does not do`,
      'agent_path_template',
    );
  return { compiled, bundles };
}
