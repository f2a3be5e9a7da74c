/**
 * A test-only plugin on the real host layer (servePlugin), with trivial attestation logic, so
 * the go-plugin/SPIRE protocol can be tested end to end before and apart from the real
 * attestors. Run: node --import tsx test/support/echo-plugin.ts server|agent
 *
 * Server: payload "<name>" → challenges "nonce-<i>" that must be answered "echo:nonce-<i>" →
 * spiffe://<td>/spire/agent/echo/<name>. Payload "fail:<ERR_CODE>" throws that AttestorError,
 * "throw" throws a plain Error, "hang" waits for cancellation.
 * Agent: sends the configured payload and answers each challenge with "echo:<challenge>".
 */
import { AttestorError, type ErrorCode } from '../../src/errors.js';
import { createLogger } from '../../src/log/logger.js';
import {
  ConfigReader,
  servePlugin,
  type AgentAttestation,
  type AgentAttributes,
  type AgentNodeAttestor,
  type ConfigureInput,
  type ServerAttestContext,
  type ServerNodeAttestor,
} from '../../src/spire/host/index.js';

const sleep = (ms: number, signal?: AbortSignal): Promise<void> =>
  new Promise((resolve, reject) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(t);
      reject(signal.reason as Error);
    });
  });

interface ServerConfig {
  readonly trustDomain: string;
  readonly challenges: number;
  readonly generation: number;
  readonly clusters: ReadonlyMap<string, string>;
}

class EchoServer implements ServerNodeAttestor {
  private config: ServerConfig | undefined;
  private generation = 0;

  async configure(input: ConfigureInput): Promise<void> {
    const r = ConfigReader.parse(input.hcl);
    const challenges = r.optionalInt('challenges', { min: 0, max: 5 }) ?? 1;
    const delay = r.optionalDuration('configure_delay') ?? 0;
    const clusters = new Map<string, string>();
    for (const [name, c] of r.objectMap('clusters')) clusters.set(name, c.requiredString('ca_bundle_path'));
    if (r.optionalBool('print_to_stdout') === true)
      console.log('console.log output that must not reach stdout');
    r.done();
    if (delay > 0) await sleep(delay);
    // Applied in one assignment: attestations in flight keep the snapshot they started with.
    this.config = { trustDomain: input.trustDomain, challenges, generation: ++this.generation, clusters };
  }

  async attest(payload: Buffer, ctx: ServerAttestContext): Promise<AgentAttributes> {
    const cfg = this.config;
    if (!cfg) throw new AttestorError('ERR_INTERNAL', 'attest before configure');
    const text = payload.toString('utf8');
    if (text.startsWith('fail:')) throw new AttestorError(text.slice(5) as ErrorCode, `echo refused ${text}`);
    if (text === 'throw') throw new Error('secret internal detail');
    if (text === 'hang') {
      // Tests wait for this line to know the plugin holds the payload before they cancel.
      logger.debug('echo: hanging until cancelled');
      await sleep(60_000, ctx.signal);
    }
    if (text === 'reject-later') {
      // A stray rejection nobody awaits: the plugin must log it and keep serving.
      void Promise.reject(new Error('stray rejection'));
    }
    for (let i = 0; i < cfg.challenges; i++) {
      const nonce = `nonce-${i}`;
      const answer = await ctx.challenge(Buffer.from(nonce));
      if (answer.toString() !== `echo:${nonce}`)
        throw new AttestorError('ERR_POP', 'wrong challenge response');
    }
    const selectors = [`payload:${text}`, `generation:${cfg.generation}`, `clusters:${cfg.clusters.size}`];
    const fwd = ctx.metadata.get('x-untrusted-forwarded-host');
    if (fwd !== undefined) selectors.push(`forwarded_host:${fwd}`);
    return {
      spiffeId: `spiffe://${cfg.trustDomain}/spire/agent/echo/${text}`,
      selectorValues: selectors,
      canReattest: true,
    };
  }
}

class EchoAgent implements AgentNodeAttestor {
  private payload: Buffer | undefined;

  async configure(input: ConfigureInput): Promise<void> {
    const r = ConfigReader.parse(input.hcl);
    const payload = r.requiredString('payload');
    r.done();
    this.payload = Buffer.from(payload);
    return Promise.resolve();
  }

  async begin(signal: AbortSignal): Promise<AgentAttestation> {
    const payload = this.payload;
    if (!payload) throw new AttestorError('ERR_INTERNAL', 'begin before configure');
    const text = payload.toString();
    if (text.startsWith('fail:'))
      throw new AttestorError(text.slice(5) as ErrorCode, `echo agent refused ${text}`);
    if (text === 'hang') await sleep(60_000, signal);
    return {
      payload,
      answer: (challenge) => {
        if (challenge.toString() === 'fail')
          return Promise.reject(new AttestorError('ERR_POP', 'cannot answer'));
        return Promise.resolve(Buffer.from(`echo:${challenge.toString()}`));
      },
    };
  }
}

const side = process.argv[2];
const logger = createLogger({ format: 'hclog', level: 'debug', module: 'echo' });
if (side === 'agent')
  await servePlugin({ side: 'agent', attestor: new EchoAgent(), pluginName: 'echo', logger });
else if (side === 'server')
  await servePlugin({ side: 'server', attestor: new EchoServer(), pluginName: 'echo', logger });
else {
  process.stderr.write('usage: echo-plugin.ts agent|server\n');
  process.exitCode = 2;
}
