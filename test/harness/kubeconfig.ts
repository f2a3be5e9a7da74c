import { writeFileSync } from 'node:fs';

export interface KubeconfigUser {
  readonly name: string;
  readonly certPath?: string;
  readonly keyPath?: string;
  readonly token?: string;
}

/** Writes a kubeconfig with one cluster and one context per user (the first is current). */
export function writeKubeconfig(
  path: string,
  server: string,
  caPath: string,
  users: readonly KubeconfigUser[],
): void {
  const q = (s: string): string => JSON.stringify(s);
  const first = users[0];
  if (first === undefined) throw new Error('writeKubeconfig needs at least one user');
  const lines = [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    '- name: local',
    '  cluster:',
    `    server: ${q(server)}`,
    `    certificate-authority: ${q(caPath)}`,
    'users:',
    ...users.flatMap((u) => [
      `- name: ${q(u.name)}`,
      '  user:',
      ...(u.certPath !== undefined ? [`    client-certificate: ${q(u.certPath)}`] : []),
      ...(u.keyPath !== undefined ? [`    client-key: ${q(u.keyPath)}`] : []),
      ...(u.token !== undefined ? [`    token: ${q(u.token)}`] : []),
    ]),
    'contexts:',
    ...users.flatMap((u) => [
      `- name: ${q(u.name)}`,
      '  context:',
      '    cluster: local',
      `    user: ${q(u.name)}`,
    ]),
    `current-context: ${q(first.name)}`,
    '',
  ];
  writeFileSync(path, lines.join('\n'), { mode: 0o600 });
}
