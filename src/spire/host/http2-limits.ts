/**
 * SPIRE cancels every Attest/AidAttestation stream once it has the result, which reaches the
 * plugin as an HTTP/2 RST_STREAM. Node's HTTP/2 (nghttp2) rate-limits incoming resets as a
 * "rapid reset" (CVE-2023-44487) defence — a burst of 1000, then 33/s — and past that it ends the
 * whole session with GOAWAY INTERNAL_ERROR, failing every attestation in flight. The plugin's
 * socket has one peer, the SPIRE process that started it, so the defence only costs us: raise it.
 *
 * grpc-js builds its http2 server from the private `commonServerOptions` and has no setting for
 * these two options, so they are added there before the server binds. Node versions without
 * the options (Node 20) ignore them; there the limit stands (docs/plugin-server-k8s-csr.md).
 */
import type { Server } from '@grpc/grpc-js';

export const STREAM_RESET_BURST = 1_000_000;
export const STREAM_RESET_RATE = 1_000_000;

export function raiseStreamResetLimit(server: Server): boolean {
  const internals = server as unknown as { commonServerOptions?: Record<string, unknown> };
  const options = internals.commonServerOptions;
  if (options === undefined || typeof options !== 'object') return false;
  options.streamResetBurst = STREAM_RESET_BURST;
  options.streamResetRate = STREAM_RESET_RATE;
  return true;
}
