/**
 * What every certificate-based server attestor (k8s_csr, k8s_pod_cert) does the same way: the
 * Configure/Validate lifecycle (all or nothing, old API clients closed once in-flight attestations
 * are done), one bound on pending challenges per process, the per-cluster API clients, and the
 * proof of possession before anything is asked of a cluster. The verification code stays behind
 * each plugin's lazily imported engine.ts: it is passed in, never imported here.
 */
import { AttestorError, toAttestorError } from '../../errors.js';
import type { CompiledServerConfig } from '../../attestation/verify-attestation.js';
import type { PendingAttestation, ProvenAttestation } from '../../attestation/verify-attestation.js';
import type { KubeAccessOptions } from '../../kube/access.js';
import type { KubeClient } from '../../kube/http.js';
import type { Logger } from '../../log/logger.js';
import type {
  AgentAttributes,
  ConfigureInput,
  ServerAttestContext,
  ServerNodeAttestor,
  ValidateResult,
} from '../host/index.js';
import { PendingChallenges, type ChallengeLimits } from '../k8s-csr/server/pending-challenges.js';

/** A Configure's result: the parsed configuration and one API client per cluster that checks. */
export interface Configured<C> {
  readonly config: C;
  readonly kube: ReadonlyMap<string, KubeClient>;
}

export interface ClusterAttestorSpec<C extends { readonly challenge: ChallengeLimits }> {
  /** The plugin's name in messages, e.g. "k8s_csr". */
  readonly name: string;
  /** Parses plugin_data, reads the CA bundles, resolves each cluster's API access: all or nothing. */
  readonly prepare: (input: ConfigureInput) => Promise<Configured<C>>;
  /** Logs what a Configure loaded. */
  readonly loaded: (c: Configured<C>) => void;
  readonly attest: (
    c: Configured<C>,
    payload: Buffer,
    ctx: ServerAttestContext,
    challenges: PendingChallenges,
  ) => Promise<AgentAttributes>;
}

export function clusterAttestorServer<C extends { readonly challenge: ChallengeLimits }>(
  spec: ClusterAttestorSpec<C>,
): ServerNodeAttestor {
  let current: Configured<C> | undefined;
  // One per process, across Configures: the bound counts every challenge this plugin has pending.
  const challenges = new PendingChallenges();
  return {
    async configure(input: ConfigureInput): Promise<void> {
      const next = await spec.prepare(input);
      const previous = current;
      current = next;
      challenges.setLimits(next.config.challenge);
      spec.loaded(next);
      // In-flight attestations may still use the old clients; close them once those are done.
      if (previous !== undefined)
        setTimeout(() => {
          for (const k of previous.kube.values()) k.close();
        }, 60_000).unref();
    },

    async validate(input: ConfigureInput): Promise<ValidateResult> {
      const checked = await spec.prepare(input);
      for (const k of checked.kube.values()) k.close();
      return { valid: true, notes: [] };
    },

    async attest(payload: Buffer, ctx: ServerAttestContext): Promise<AgentAttributes> {
      const c = current;
      if (c === undefined)
        throw new AttestorError('ERR_NOT_CONFIGURED', `${spec.name} server plugin is not configured`);
      return spec.attest(c, payload, ctx, challenges);
    },
  };
}

/**
 * The Kubernetes client, only for clusters that check against their API: it brings the
 * kubeconfig reader and its YAML parser, which a plugin without such checks would otherwise
 * evaluate and keep in memory.
 */
const loadKube = async (): Promise<
  typeof import('../../kube/access.js') & typeof import('../../kube/http.js')
> => ({ ...(await import('../../kube/access.js')), ...(await import('../../kube/http.js')) });

/**
 * One API client per cluster in `access`; `purpose` names the keys that need it in the error
 * (e.g. "verify_node"). On a failure the clients already made are closed.
 */
export async function openClusterClients(
  access: readonly (readonly [cluster: string, options: KubeAccessOptions])[],
  purpose: string,
  logger: Logger,
): Promise<Map<string, KubeClient>> {
  const kube = new Map<string, KubeClient>();
  if (access.length === 0) return kube;
  const { resolveKubeAccess, createKubeClient } = await loadKube();
  for (const [cluster, options] of access) {
    const key = `clusters."${cluster}"`;
    const resolved = await resolveKubeAccess(options).catch((err: unknown) => {
      for (const k of kube.values()) k.close();
      const e = toAttestorError(err);
      throw new AttestorError('ERR_CONFIG', `${key}: Kubernetes access for ${purpose}: ${e.message}`, {
        cause: e,
        details: { key },
      });
    });
    for (const w of resolved.warnings) logger.warn(w, { cluster });
    kube.set(cluster, createKubeClient(resolved, { logger }));
  }
  return kube;
}

/** The verification functions the proof needs, from the plugin's lazily loaded engine. */
export interface ProofEngine {
  readonly withCertificateReader: <T>(run: () => T) => Promise<T>;
  readonly beginAttestation: (
    config: CompiledServerConfig,
    payload: Uint8Array,
    options: { readonly now: Date },
  ) => PendingAttestation;
  /** Rewrites a refusal so that it tells an unproven caller nothing about the clusters. */
  readonly forUnprovenCaller: (err: unknown) => unknown;
}

/**
 * The checks that need no cluster: payload, chain and profile, then the challenge round, then the
 * time-dependent checks again at the response, and the signature. `check` gives a plugin's own
 * time-dependent check, run before the challenge and again at the response. Until the signature
 * has verified, the caller may be anyone with a copy of the certificate: every refusal goes
 * through forUnprovenCaller.
 */
export async function proveCaller(
  e: ProofEngine,
  compiled: CompiledServerConfig,
  payload: Buffer,
  ctx: ServerAttestContext,
  time: {
    readonly challenges: PendingChallenges;
    readonly now: () => Date;
    /** This attestation's own time-dependent check, if the plugin has one. */
    readonly check?: (pending: PendingAttestation) => ((at: Date) => void) | undefined;
  },
): Promise<{ pending: PendingAttestation; proven: ProvenAttestation }> {
  const { challenges, now, check } = time;
  try {
    const pending = await e.withCertificateReader(() =>
      e.beginAttestation(compiled, payload, { now: now() }),
    );
    const checkAt = check?.(pending);
    checkAt?.(now());
    const response = await challenges.run((signal) => ctx.challenge(pending.challenge, { signal }));
    const answeredAt = now();
    const proven = await e.withCertificateReader(() => pending.prove(response, { now: answeredAt }));
    checkAt?.(answeredAt);
    return { pending, proven };
  } catch (err) {
    throw e.forUnprovenCaller(err);
  }
}
