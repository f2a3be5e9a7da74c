/**
 * Server-side attestation, without gRPC: payload → cluster → chain → node-client profile →
 * challenge, then response → proof of possession → agent ID and selectors.
 *
 * Extension point for Node checks: beginAttestation returns the verified facts (cluster, node
 * name, leaf, path, validity) together with the challenge, and nothing about the agent's identity
 * is decided until identify(). prove() checks the response (the proof of possession) and, since
 * time passed while the agent answered, the validity of every certificate again. A plugin runs
 * its own checks in between (refuse certificates that are too old or too long-lived, look up the
 * Node object, bind the peer address) and passes what it learnt to identify() as NodeFacts (UID,
 * allow-listed labels), which feed the template's {{node_uid}} and the agent_node_* selectors.
 * Checks that ask the cluster belong after prove(): before it, the caller may be anyone with a
 * copy of the (public) certificate.
 */
import type { X509Certificate } from 'node:crypto';
import { AttestorError } from '../errors.js';
import { agentId } from './agent-id.js';
import {
  DEFAULT_AGENT_PATH_TEMPLATE,
  parseAgentPathTemplate,
  type AgentPathTemplate,
} from './agent-path-template.js';
import { readCertificate, type CertificateFacts } from './chain/certificate.js';
import type { ChainProblem } from './chain/problem.js';
import { DEFAULT_CLOCK_SKEW_SECONDS, pathValidityProblem } from './chain/validity.js';
import { chainError, checkChain } from './chain/verify-chain.js';
import { quote } from './internal/text.js';
import {
  DEFAULT_MAX_INTERMEDIATES,
  DEFAULT_PAYLOAD_LIMITS,
  decodePayload,
  type PayloadLimits,
} from './payload.js';
import { createChallenge, verifyChallengeResponse } from './pop.js';
import type { PodIdentity } from '../pod-cert/identity.js';
import { checkNodeClientProfile } from './profile.js';
import { selectorValues, type NodeFacts } from './selectors.js';
import { clusterNameProblem, pathSegmentProblem, trustDomainProblem } from './spiffe-id.js';

export interface ClusterTrust {
  /** The cluster CA bundle (the CA that signs kubelet client certificates). */
  readonly caBundle: readonly X509Certificate[];
}

/**
 * What the leaf must be beyond chaining to the cluster's CA: the node-client profile (k8s_csr,
 * the default) or another (k8s_pod_cert's signer profile). Throws ERR_PROFILE; returns the node
 * name and, for a pod certificate, the pod identity it carries.
 */
export type LeafProfile = (leaf: X509Certificate, cluster: string) => LeafIdentity;

export interface LeafIdentity {
  readonly nodeName: string;
  readonly pod?: PodIdentity;
}

export interface ServerAttestationConfig {
  readonly clusters: ReadonlyMap<string, ClusterTrust>;
  /** Default: the Kubernetes node-client profile. */
  readonly profile?: LeafProfile;
  /** The configured plugin name: selector type and agent ID segment ("k8s_csr", or "x509pop" for interop). */
  readonly pluginName: string;
  readonly trustDomain: string;
  /** Default 4, as x509pop's max_intermediates. */
  readonly maxIntermediates?: number;
  /** Default 30. */
  readonly clockSkewSeconds?: number;
  /** Default DEFAULT_AGENT_PATH_TEMPLATE. */
  readonly agentPathTemplate?: string;
  /** Default 64 KiB. */
  readonly maxPayloadBytes?: number;
}

/** A validated configuration with parsed trust bundles; build once per Configure and share. */
export interface CompiledServerConfig {
  readonly profile: LeafProfile;
  readonly pluginName: string;
  readonly trustDomain: string;
  readonly clusters: ReadonlyMap<string, readonly CertificateFacts[]>;
  readonly template: AgentPathTemplate;
  readonly maxIntermediates: number;
  readonly clockSkewSeconds: number;
  readonly payloadLimits: PayloadLimits;
}

export const MAX_CLOCK_SKEW_SECONDS = 600;
export const MAX_INTERMEDIATES_LIMIT = 16;

/** Validates `config` (ERR_CONFIG naming the key) and parses every bundle certificate once. */
export function compileServerConfig(config: ServerAttestationConfig): CompiledServerConfig {
  const fail = (key: string, problem: string): AttestorError =>
    new AttestorError('ERR_CONFIG', `${key} ${problem}`, { details: { key } });

  const pluginProblem = pathSegmentProblem(config.pluginName);
  if (pluginProblem !== undefined)
    throw fail('plugin_name', `${quote(config.pluginName)} is invalid: it ${pluginProblem}`);
  const tdProblem = trustDomainProblem(config.trustDomain);
  if (tdProblem !== undefined)
    throw fail('trust_domain', `${quote(config.trustDomain)} is invalid: it ${tdProblem}`);

  const maxIntermediates = config.maxIntermediates ?? DEFAULT_MAX_INTERMEDIATES;
  if (
    !Number.isInteger(maxIntermediates) ||
    maxIntermediates < 0 ||
    maxIntermediates > MAX_INTERMEDIATES_LIMIT
  )
    throw fail(
      'max_intermediates',
      `must be an integer from 0 to ${MAX_INTERMEDIATES_LIMIT}, not ${maxIntermediates}`,
    );
  const clockSkewSeconds = config.clockSkewSeconds ?? DEFAULT_CLOCK_SKEW_SECONDS;
  if (!Number.isFinite(clockSkewSeconds) || clockSkewSeconds < 0 || clockSkewSeconds > MAX_CLOCK_SKEW_SECONDS)
    throw fail('clock_skew_seconds', `must be from 0 to ${MAX_CLOCK_SKEW_SECONDS}, not ${clockSkewSeconds}`);
  const maxBytes = config.maxPayloadBytes ?? DEFAULT_PAYLOAD_LIMITS.maxBytes;
  if (!Number.isInteger(maxBytes) || maxBytes < 1024 || maxBytes > 1024 * 1024)
    throw fail('max_payload_bytes', `must be an integer from 1024 to 1048576, not ${maxBytes}`);

  if (config.clusters.size === 0) throw fail('clusters', 'must name at least one cluster');
  const clusters = new Map<string, readonly CertificateFacts[]>();
  for (const [name, trust] of config.clusters) {
    const problem = clusterNameProblem(name);
    if (problem !== undefined)
      throw fail('clusters', `has an invalid cluster name ${quote(name)}: it ${problem}`);
    if (trust.caBundle.length === 0) throw fail('clusters', `cluster ${name} has an empty CA bundle`);
    clusters.set(
      name,
      trust.caBundle.map((cert, i) => {
        const facts = readCertificate(cert, `CA bundle certificate ${i} of cluster ${name}`, 'ERR_CONFIG');
        if (facts.basicConstraints?.ca !== true)
          throw fail(
            'clusters',
            `cluster ${name}: CA bundle certificate ${i} (${quote(facts.subject)}) is not a CA certificate`,
          );
        return facts;
      }),
    );
  }

  return Object.freeze({
    profile: config.profile ?? ((leaf: X509Certificate) => checkNodeClientProfile(leaf)),
    pluginName: config.pluginName,
    trustDomain: config.trustDomain,
    clusters,
    template: parseAgentPathTemplate(
      config.agentPathTemplate ?? DEFAULT_AGENT_PATH_TEMPLATE,
      config.pluginName,
    ),
    maxIntermediates,
    clockSkewSeconds,
    payloadLimits: { ...DEFAULT_PAYLOAD_LIMITS, maxBytes, maxIntermediates },
  });
}

/** The verified facts of an attestation in progress, and the challenge to send. */
export interface PendingAttestation {
  readonly cluster: string;
  readonly nodeName: string;
  /** The pod identity, when the profile is a pod certificate's. */
  readonly pod: PodIdentity | undefined;
  readonly leaf: X509Certificate;
  /** The first verified path, leaf … trust anchor. */
  readonly path: readonly X509Certificate[];
  /** Every verified path, shortest first. */
  readonly paths: readonly (readonly X509Certificate[])[];
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** The x509pop challenge JSON to send to the agent. */
  readonly challenge: Buffer;
  /**
   * Checks the validity of every certificate of the verified paths again at `options.now`
   * (ERR_CHAIN "expired" when none is valid any more), then the agent's response (ERR_POP when
   * the signature does not verify). Callable once: a second call is ERR_POP (x509pop has exactly
   * one round). Run it through withCertificateReader (a refusal may need to name a certificate).
   */
  prove(response: Uint8Array, options?: AttestationOptions): ProvenAttestation;
  /** prove(response) then identify(node), for callers with no checks in between. */
  finish(response: Uint8Array, node?: NodeFacts): AttestationResult;
}

/** An attestation whose agent has proved possession of the leaf's key. */
export interface ProvenAttestation {
  /** The agent's identity; `node` carries what the plugin's Node checks found. */
  identify(node?: NodeFacts): AttestationResult;
}

export interface AttestationResult {
  readonly nodeName: string;
  readonly cluster: string;
  readonly leaf: X509Certificate;
  readonly path: readonly X509Certificate[];
  readonly spiffeId: string;
  /** Sorted, de-duplicated; the selector type is the plugin name. */
  readonly selectorValues: readonly string[];
}

export interface AttestationOptions {
  /** Validation time; default the current time. */
  readonly now?: Date;
}

/**
 * Decodes and verifies `payload`. ERR_PAYLOAD for malformed input, ERR_CHAIN when the chain does
 * not verify to the right cluster's CA, ERR_PROFILE when the leaf is not a node client certificate.
 */
export function beginAttestation(
  config: CompiledServerConfig,
  payload: Uint8Array,
  options: AttestationOptions = {},
): PendingAttestation {
  const now = options.now ?? new Date();
  const decoded = decodePayload(payload, config.payloadLimits);
  const [leafDer, ...intermediateDers] = decoded.certificates;
  if (leafDer === undefined) throw new AttestorError('ERR_PAYLOAD', 'attestation payload has no certificate');
  const leaf = readCertificate(leafDer, 'attestation payload certificate 0 (the leaf)');
  const intermediates = intermediateDers.map((der, i) =>
    readCertificate(der, `attestation payload certificate ${i + 1}`),
  );

  const chainOptions = {
    now,
    clockSkewSeconds: config.clockSkewSeconds,
    maxIntermediates: config.maxIntermediates,
  };
  const { cluster, paths } = resolveCluster(config, decoded.cluster, (anchors) =>
    checkChain(leaf, intermediates, anchors, chainOptions),
  );

  const { nodeName, pod } = config.profile(leaf.cert, cluster);
  const { bytes: challenge, state } = createChallenge(leaf.publicKey);

  const allPaths = paths.map((p) => p.map((c) => c.cert));
  const [path] = allPaths;
  if (path === undefined) throw new AttestorError('ERR_INTERNAL', 'chain check passed without a path');
  let answered = false;
  const identify = (valid: readonly (readonly CertificateFacts[])[], node?: NodeFacts): AttestationResult => {
    const validPaths = valid.map((p) => p.map((c) => c.cert));
    const [validPath = path] = validPaths;
    const uid = node?.uid;
    if (uid !== undefined) {
      const problem = pathSegmentProblem(uid);
      if (problem !== undefined)
        throw new AttestorError('ERR_NODE', `Node UID ${quote(uid)} is unusable: it ${problem}`);
    }
    const spiffeId = agentId({
      trustDomain: config.trustDomain,
      template: config.template,
      values: {
        plugin_name: config.pluginName,
        cluster,
        node_name: nodeName,
        node_uid: uid,
        fingerprint: leaf.sha1,
        serial: leaf.serialHex,
      },
    });
    return {
      nodeName,
      cluster,
      leaf: leaf.cert,
      path: validPath,
      spiffeId,
      selectorValues: selectorValues({ cluster, nodeName, leaf: leaf.cert, paths: validPaths, node }),
    };
  };
  const pending: PendingAttestation = {
    cluster,
    nodeName,
    pod,
    leaf: leaf.cert,
    path,
    paths: allPaths,
    notBefore: leaf.notBefore,
    notAfter: leaf.notAfter,
    challenge,
    prove(response, proveOptions = {}) {
      if (answered) throw new AttestorError('ERR_POP', 'this challenge has already been answered');
      // The response may come long after the challenge: a certificate valid then may have
      // expired. Checked first, as it changes nothing: a message naming a certificate may need
      // @peculiar/x509, and withCertificateReader then runs all of this again.
      const at = proveOptions.now ?? new Date();
      const problems = paths.map((p) => pathValidityProblem(p, at, config.clockSkewSeconds));
      const valid = paths.filter((_, i) => problems[i] === undefined);
      const [problem] = problems;
      if (valid.length === 0 && problem !== undefined) throw chainError(problem, cluster);
      answered = true;
      verifyChallengeResponse(state, response, leaf.publicKey);
      return { identify: (node) => identify(valid, node) };
    },
    finish(response, node) {
      return pending.prove(response).identify(node);
    },
  };
  return pending;
}

type Check = ReturnType<typeof checkChain>;

/**
 * A named cluster must exist and its bundle must verify the chain; another cluster's bundle never
 * counts. Without a name (SPIRE's own x509pop agent), exactly one cluster's bundle must verify it.
 */
function resolveCluster(
  config: CompiledServerConfig,
  named: string | undefined,
  check: (anchors: readonly CertificateFacts[]) => Check,
): { cluster: string; paths: readonly (readonly CertificateFacts[])[] } {
  if (named !== undefined) {
    const anchors = config.clusters.get(named);
    if (anchors === undefined)
      throw new AttestorError(
        'ERR_CHAIN',
        `the agent names cluster ${named}, which this server is not configured for`,
        {
          details: { reason: 'unknown-cluster', cluster: named },
        },
      );
    const result = check(anchors);
    if (!result.ok) throw chainError(result.problem, named);
    return { cluster: named, paths: result.paths };
  }

  const verified: { cluster: string; paths: readonly (readonly CertificateFacts[])[] }[] = [];
  const failures: { cluster: string; problem: ChainProblem }[] = [];
  for (const [cluster, anchors] of config.clusters) {
    const result = check(anchors);
    if (result.ok) verified.push({ cluster, paths: result.paths });
    else failures.push({ cluster, problem: result.problem });
  }
  const [only, second] = verified;
  if (only !== undefined && second === undefined) return only;
  if (only !== undefined)
    throw new AttestorError(
      'ERR_CHAIN',
      `certificate chain verifies to the CA bundles of several clusters (${verified.map((v) => v.cluster).join(', ')}); the agent must name its cluster in the payload`,
      { details: { reason: 'ambiguous-cluster' } },
    );
  // Report the cluster whose CA at least issued the leaf by name: that is the one the agent meant.
  const relevant = failures.filter((f) => f.problem.reason !== 'unknown-authority');
  const [first] = relevant.length > 0 ? relevant : failures;
  if (first !== undefined && (relevant.length === 1 || failures.length === 1))
    throw chainError(first.problem, first.cluster);
  throw new AttestorError(
    'ERR_CHAIN',
    `certificate chain does not verify to the CA bundle of any configured cluster: ${failures
      .map((f) => `cluster ${f.cluster}: ${f.problem.message}`)
      .join('; ')}`,
    { details: { reason: first?.problem.reason ?? 'unknown-authority' } },
  );
}
