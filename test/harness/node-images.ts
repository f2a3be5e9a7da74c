/**
 * Images on a test node, which never reaches a registry: they are built here
 * (tools/build-images.sh: OCI archives in the cache) and imported with `ctr images import`
 * into the CRI's namespace, under the exact name the CRI normalises a pod's `image:` to — else
 * the kubelet would try to pull. Pods use imagePullPolicy Never or IfNotPresent.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { REPO_ROOT } from './bins.js';

/**
 * The pod sandbox image, our own tools/pause: tagged by tools/build-images.sh with the project's
 * version (package.json), like the product's images.
 */
const VERSION = (JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string })
  .version;
export const PAUSE_IMAGE = `localhost/pause:${VERSION}`;

/** The reference an archive of tools/build-images.sh was built as (the `ref=` of its info file). */
export function imageRef(archive: string): string {
  const info = readFileSync(join(dirname(archive), 'info'), 'utf8');
  const ref = /^ref=(.+)$/m.exec(info)?.[1];
  if (ref === undefined) throw new Error(`${join(dirname(archive), 'info')} names no ref=`);
  return ref;
}

/**
 * The name the CRI looks an image up by (Docker's reference normalisation): a first component
 * without "." or ":" and not "localhost" is not a registry, so `local/x` is docker.io/local/x and
 * `x` is docker.io/library/x; no tag means :latest. `localhost/x:1` stays as it is.
 */
export function criImageName(ref: string): string {
  const slash = ref.indexOf('/');
  const first = slash < 0 ? '' : ref.slice(0, slash);
  const hasDomain = first !== '' && (first.includes('.') || first.includes(':') || first === 'localhost');
  let name = hasDomain ? ref : slash < 0 ? `docker.io/library/${ref}` : `docker.io/${ref}`;
  const lastPart = name.slice(name.lastIndexOf('/') + 1);
  if (!lastPart.includes(':') && !lastPart.includes('@')) name += ':latest';
  return name;
}

/**
 * The OCI archive of one of tools/build-images.sh's images, built first if it is not (pause takes
 * seconds; the others need dist/node-attestor: node scripts/build.mjs).
 */
export function builtImageArchive(
  image: 'pause' | 'node-attestor' | 'spire-server' | 'spire-agent',
): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      'bash',
      [join(REPO_ROOT, 'tools', 'build-images.sh'), image],
      { encoding: 'utf8', timeout: 10 * 60_000, cwd: REPO_ROOT },
      (err, stdout, stderr) => {
        const line = stdout.split('\n').find((l) => l.startsWith(`${image}=`));
        const archive = line?.slice(image.length + 1) ?? '';
        if (err || archive === '')
          reject(
            new Error(
              `tools/build-images.sh ${image} failed: ${stderr.trim() || (err?.message ?? 'no archive printed')}`,
            ),
          );
        else resolve(archive);
      },
    );
  });
}

/**
 * Imports archives through `ctr` (bound to one containerd) and tags each image under its CRI name
 * when that differs. Returns the CRI names.
 */
export async function importImages(
  ctr: (args: readonly string[]) => Promise<string>,
  archives: readonly string[],
): Promise<string[]> {
  const names: string[] = [];
  for (const archive of archives) {
    const out = await ctr(['images', 'import', archive]);
    // "unpacking localhost/pause:0.1.0 (sha256:…)...done", one line per image in the archive.
    const refs = [...out.matchAll(/^unpacking (\S+) \(/gm)].map((m) => m[1]!);
    if (refs.length === 0) throw new Error(`ctr images import ${archive} named no image: ${out.trim()}`);
    for (const ref of refs) {
      const cri = criImageName(ref);
      if (cri !== ref) await ctr(['images', 'tag', '--force', ref, cri]);
      names.push(cri);
    }
  }
  return names;
}
