/**
 * The https.Agent for the current TLS client identity. An exec plugin may return a new client
 * certificate whenever it runs; keep-alive connections opened with the old one would go on
 * presenting it, so a new identity gets a new agent, and the old agent is destroyed as soon as
 * the last request using it ends (a watch on it is not cut short).
 */
import type { Agent } from 'node:https';
import type { KubeClientIdentity, KubeTls } from './access.js';
import { createKubeAgent, type KubeAgentOptions } from './tls.js';

interface Entry {
  readonly agent: Agent;
  readonly certPem: string | undefined;
  inFlight: number;
  retired: boolean;
}

export interface AgentLease {
  readonly agent: Agent;
  /** Call once the request is over (response read or abandoned). */
  release(): void;
}

export class AgentPool {
  readonly #tls: KubeTls;
  readonly #opts: KubeAgentOptions;
  #current: Entry | undefined;
  readonly #retired = new Set<Entry>();

  constructor(tls: KubeTls, opts: KubeAgentOptions) {
    this.#tls = tls;
    this.#opts = opts;
  }

  /** The agent for `client` (undefined: the configured identity, if any). */
  acquire(client: KubeClientIdentity | undefined): AgentLease {
    const identity = client ?? this.#tls.client;
    let entry = this.#current;
    if (entry === undefined || entry.certPem !== identity?.certPem) {
      if (entry !== undefined) this.#retire(entry);
      const tls: KubeTls = { ...this.#tls, ...(identity === undefined ? {} : { client: identity }) };
      entry = {
        agent: createKubeAgent(tls, this.#opts),
        certPem: identity?.certPem,
        inFlight: 0,
        retired: false,
      };
      this.#current = entry;
    }
    const e = entry;
    e.inFlight++;
    let released = false;
    return {
      agent: e.agent,
      release: () => {
        if (released) return;
        released = true;
        e.inFlight--;
        if (e.retired && e.inFlight === 0) this.#destroy(e);
      },
    };
  }

  /** How many agents are alive (the current one and retired ones still in use). */
  get size(): number {
    return (this.#current === undefined ? 0 : 1) + this.#retired.size;
  }

  /** Destroys every connection, in use or idle. */
  close(): void {
    for (const e of this.#retired) e.agent.destroy();
    this.#retired.clear();
    this.#current?.agent.destroy();
    this.#current = undefined;
  }

  #retire(e: Entry): void {
    e.retired = true;
    if (e.inFlight === 0) e.agent.destroy();
    else this.#retired.add(e);
  }

  #destroy(e: Entry): void {
    this.#retired.delete(e);
    e.agent.destroy();
  }
}
