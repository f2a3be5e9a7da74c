/**
 * go-plugin's process-level handshake: the magic cookie and protocol version in the environment,
 * and the one line on stdout that tells the host where to connect. stdout belongs to that line
 * alone: anything printed before it breaks the load, so all other output goes to stderr.
 */

/** SPIRE sets key and value both to the plugin type (external.go: MagicCookieKey = Type). */
export const MAGIC_COOKIE_KEY = 'NodeAttestor';
export const MAGIC_COOKIE_VALUE = 'NodeAttestor';
/** go-plugin's core protocol; the host refuses anything else. */
export const CORE_PROTOCOL_VERSION = 1;
/** SPIRE's plugin protocol (HandshakeConfig.ProtocolVersion). */
export const APP_PROTOCOL_VERSION = 1;

/** Why the environment is not a SPIRE plugin launch, or undefined when it is. */
export function checkHandshakeEnv(env: Readonly<Record<string, string | undefined>>): string | undefined {
  if (env[MAGIC_COOKIE_KEY] !== MAGIC_COOKIE_VALUE) {
    return (
      `node-attestor: this program is a SPIRE NodeAttestor plugin that spire-server or spire-agent starts ` +
      `itself (plugin_cmd in the NodeAttestor block); it is not meant to be run directly ` +
      `(environment ${MAGIC_COOKIE_KEY}=${MAGIC_COOKIE_VALUE} is not set)`
    );
  }
  const versions = (env.PLUGIN_PROTOCOL_VERSIONS ?? '').split(',').map((v) => v.trim());
  if (!versions.includes(String(APP_PROTOCOL_VERSION))) {
    return (
      `node-attestor: the plugin host offers plugin protocol version(s) ` +
      `${JSON.stringify(env.PLUGIN_PROTOCOL_VERSIONS ?? '')} (PLUGIN_PROTOCOL_VERSIONS) but this plugin ` +
      `speaks version ${APP_PROTOCOL_VERSION}`
    );
  }
  return undefined;
}

/**
 * The handshake line: CORE|APP|NETWORK|ADDR|PROTOCOL| with an empty sixth (certificate) field,
 * as Go plugins print it; a non-empty one would make SPIRE (AutoMTLS off) crash.
 */
export function handshakeLine(socketPath: string): string {
  return `${CORE_PROTOCOL_VERSION}|${APP_PROTOCOL_VERSION}|unix|${socketPath}|grpc|\n`;
}

/**
 * Sends everything written to process.stdout (console.log included) to stderr from now on, and
 * returns the one way left to write to the real stdout, for the handshake line.
 */
export function reserveStdout(): (text: string) => Promise<void> {
  const stdout = process.stdout;
  const original = stdout.write.bind(stdout);
  stdout.write = process.stderr.write.bind(process.stderr);
  // After the handshake the host only drains stdout; if it closes it, nothing we care about is lost.
  stdout.on('error', () => undefined);
  return (text) =>
    new Promise((resolve, reject) => {
      original(text, (err) => {
        if (err) reject(err);
        else resolve();
      });
    });
}
