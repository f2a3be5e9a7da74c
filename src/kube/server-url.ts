import { AttestorError } from '../errors.js';

/**
 * Parses an API server address as kubectl does: a URL, or `host:port` meaning https. Only https
 * is accepted: every request carries credentials, and the API server has had no plain-HTTP port
 * since Kubernetes 1.20.
 */
export function parseServerUrl(value: string, label: string): URL {
  const trimmed = value.trim();
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(trimmed) ? trimmed : `https://${trimmed}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch (err) {
    throw new AttestorError('ERR_INPUT', `${label}: ${JSON.stringify(value)} is not a valid server URL`, {
      cause: err,
      details: { input: label },
    });
  }
  if (url.username !== '' || url.password !== '')
    throw new AttestorError('ERR_INPUT', `${label}: the server URL must not contain credentials`, {
      details: { input: label },
    });
  if (url.protocol !== 'https:')
    throw new AttestorError(
      'ERR_INPUT',
      `${label}: server ${JSON.stringify(value)} must be an https:// URL (${url.protocol.slice(0, -1)} is not supported)`,
      { details: { input: label } },
    );
  if (url.search !== '' || url.hash !== '')
    throw new AttestorError('ERR_INPUT', `${label}: the server URL must not have a query or fragment`, {
      details: { input: label },
    });
  return url;
}

/** The host as node:net wants it: IPv6 literals without their URL brackets. */
export function connectHost(url: URL): string {
  const h = url.hostname;
  return h.startsWith('[') && h.endsWith(']') ? h.slice(1, -1) : h;
}

export function connectPort(url: URL): number {
  return url.port === '' ? 443 : Number(url.port);
}

/** The server URL as shown to users: origin plus any path prefix, no trailing slash. */
export function displayServer(url: URL): string {
  return `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
}
