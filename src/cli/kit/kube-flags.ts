/**
 * The Kubernetes-access flags every command takes (-kubeconfig, -context, -server, -ca-cert,
 * -client-cert, -client-key, -token-file, -in-cluster) and their validation, defined once.
 */
import { toAttestorError } from '../../errors.js';
import type { KubeAccessOptions } from '../../kube/access.js';
import { parseServerUrl } from '../../kube/server-url.js';
import { definedOnly } from '../../util/defined.js';
import { nonEmpty, usage, type FlagSpec, type ParsedFlags } from './flag-kit.js';

export type KubeFlags = Pick<
  KubeAccessOptions,
  'kubeconfig' | 'context' | 'server' | 'caCert' | 'clientCert' | 'clientKey' | 'tokenFile'
> & { readonly inCluster: boolean };

type Group = 'Kubernetes access';

/** The flag table entries; `clientCertHelp` lets a command say whose certificate it is. */
export function kubeFlagSpecs(clientCertHelp = 'client certificate to authenticate with'): FlagSpec<Group>[] {
  const group: Group = 'Kubernetes access';
  return [
    {
      name: 'kubeconfig',
      type: 'string',
      arg: 'path',
      group,
      help: 'kubeconfig file giving the API server and, unless the flags below override them, its CA and the credentials (exec credential plugins included)',
      shownDefault: "$KUBECONFIG, then ~/.kube/config, then the pod's service account",
    },
    {
      name: 'context',
      type: 'string',
      arg: 'name',
      group,
      help: 'kubeconfig context to use',
      shownDefault: "the kubeconfig's current-context",
    },
    {
      name: 'server',
      type: 'string',
      arg: 'url',
      group,
      help: 'API server URL; overrides the kubeconfig (e.g. https://192.168.49.2:8443)',
    },
    {
      name: 'ca-cert',
      type: 'string',
      arg: 'path',
      group,
      help: "PEM file trusted for the API server: the cluster CA bundle, or the API server's own certificate (pinned, as in the 2018 tutorial's ~/.minikube/apiserver.crt)",
    },
    {
      name: 'client-cert',
      type: 'string',
      arg: 'path',
      group,
      help: `${clientCertHelp}; with it (or -token-file) the kubeconfig user is not used at all`,
    },
    { name: 'client-key', type: 'string', arg: 'path', group, help: 'private key of -client-cert' },
    {
      name: 'token-file',
      type: 'string',
      arg: 'path',
      group,
      help: 'bearer token file, re-read on every request (e.g. a projected service-account token)',
    },
    {
      name: 'in-cluster',
      type: 'boolean',
      group,
      help: "use the pod's service account (KUBERNETES_SERVICE_HOST and /var/run/secrets/kubernetes.io/serviceaccount)",
      shownDefault: 'false',
    },
  ];
}

/** Reads and checks the Kubernetes-access flags: pairs given together, no contradictions. */
export function kubeFlagsFrom(f: ParsedFlags): KubeFlags {
  const clientCert = nonEmpty(f.string('client-cert'), 'client-cert');
  const clientKey = nonEmpty(f.string('client-key'), 'client-key');
  if ((clientCert === undefined) !== (clientKey === undefined))
    throw usage(
      clientCert === undefined ? '-client-key needs -client-cert' : '-client-cert needs -client-key',
      clientCert === undefined ? '-client-cert' : '-client-key',
    );
  const kubeconfig = nonEmpty(f.string('kubeconfig'), 'kubeconfig');
  const context = nonEmpty(f.string('context'), 'context');
  const server = nonEmpty(f.string('server'), 'server');
  // A bad -server is a bad flag value (exit 2), by the same rule the kubeconfig's server meets.
  if (server !== undefined) {
    try {
      parseServerUrl(server, '-server');
    } catch (err) {
      throw usage(toAttestorError(err).message, '-server');
    }
  }
  const caCert = nonEmpty(f.string('ca-cert'), 'ca-cert');
  const tokenFile = nonEmpty(f.string('token-file'), 'token-file');
  const inCluster = f.bool('in-cluster', false);
  if (inCluster && (kubeconfig !== undefined || server !== undefined))
    throw usage('-in-cluster cannot be combined with -kubeconfig or -server', '-in-cluster');
  return {
    ...definedOnly({ kubeconfig, context, server, caCert, clientCert, clientKey, tokenFile }),
    inCluster,
  };
}
