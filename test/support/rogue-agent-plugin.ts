/**
 * TEST-ONLY agent NodeAttestor that a real spire-agent loads to present what an attacker would:
 * any certificate chain (from another CA, expired, the wrong profile…), a signature made with a
 * key other than the certificate's, or a challenge response replayed from an earlier attestation.
 *
 * plugin_data:
 *   certificate_path  PEM chain to send (leaf first)
 *   private_key_path  key that signs the challenge (need not match the certificate)
 *   cluster           cluster name to put in the payload (optional)
 *   replay_file       if it exists, send its bytes as the challenge response; otherwise record
 *                     the real response there (optional)
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createPrivateKey } from 'node:crypto';
import { answerChallenge, buildAgentPayload } from '../../src/attestation/agent.js';
import { createLogger } from '../../src/log/logger.js';
import { ConfigReader } from '../../src/spire/host/config-reader.js';
import { servePlugin } from '../../src/spire/host/serve-plugin.js';

interface RogueConfig {
  readonly chainPem: string;
  readonly keyPem: string;
  readonly cluster?: string;
  readonly replayFile?: string;
}

let config: RogueConfig | undefined;
const logger = createLogger({ format: 'hclog', level: 'debug', module: 'rogue-agent' });

await servePlugin({
  side: 'agent',
  logger,
  attestor: {
    configure: (input) => {
      const r = ConfigReader.parse(input.hcl);
      const cluster = r.optionalString('cluster');
      const replayFile = r.optionalString('replay_file');
      config = {
        chainPem: readFileSync(r.requiredString('certificate_path'), 'utf8'),
        keyPem: readFileSync(r.requiredString('private_key_path'), 'utf8'),
        ...(cluster !== undefined ? { cluster } : {}),
        ...(replayFile !== undefined ? { replayFile } : {}),
      };
      r.done();
      return Promise.resolve();
    },
    begin: () => {
      const c = config;
      if (c === undefined) throw new Error('not configured');
      return Promise.resolve({
        payload: buildAgentPayload(c.chainPem, c.cluster),
        answer: (challenge: Buffer) => {
          if (c.replayFile !== undefined && existsSync(c.replayFile)) {
            logger.info('replaying a recorded challenge response');
            return Promise.resolve(readFileSync(c.replayFile));
          }
          const response = answerChallenge(challenge, createPrivateKey(c.keyPem));
          if (c.replayFile !== undefined) writeFileSync(c.replayFile, response);
          return Promise.resolve(response);
        },
      });
    },
  },
});
