/**
 * Unpacks an OCI image archive (what `buildah push … oci-archive:` writes, what `ctr images
 * import` loads) into a plain directory, with no daemon: the archive's index names one manifest,
 * whose layers are applied in order. Enough for images built FROM scratch here (one layer, no
 * whiteouts); it refuses what it does not handle rather than unpack it wrongly.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, lstatSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface ImageConfig {
  readonly User?: string;
  readonly Entrypoint?: readonly string[];
  readonly Cmd?: readonly string[];
  readonly Env?: readonly string[];
  readonly WorkingDir?: string;
}

/** One entry of the image's filesystem, by its absolute path in the image. */
export interface ImageEntry {
  readonly path: string;
  readonly kind: 'file' | 'dir' | 'link' | 'other';
  readonly mode: number;
  readonly size: number;
  /** A link's target. */
  readonly target?: string;
}

export interface UnpackedImage {
  readonly rootfs: string;
  readonly refName: string | undefined;
  readonly config: ImageConfig;
  readonly entries: readonly ImageEntry[];
}

interface Descriptor {
  readonly mediaType: string;
  readonly digest: string;
  readonly annotations?: Readonly<Record<string, string>>;
}

const blob = (dir: string, d: Descriptor): string => {
  const m = /^sha256:([0-9a-f]{64})$/.exec(d.digest);
  if (m === null) throw new Error(`unsupported digest ${d.digest}`);
  return join(dir, 'blobs', 'sha256', m[1]!);
};

/** Unpacks `archive` under `into` (oci/ the archive, rootfs/ the filesystem). */
export async function unpackOciArchive(archive: string, into: string): Promise<UnpackedImage> {
  const oci = join(into, 'oci');
  const rootfs = join(into, 'rootfs');
  mkdirSync(oci, { recursive: true });
  mkdirSync(rootfs, { recursive: true });
  await run('tar', ['-xf', archive, '-C', oci]);
  const index = JSON.parse(readFileSync(join(oci, 'index.json'), 'utf8')) as { manifests: Descriptor[] };
  if (index.manifests.length !== 1)
    throw new Error(`${archive}: ${index.manifests.length} manifests, want 1`);
  const top = index.manifests[0]!;
  const manifest = JSON.parse(readFileSync(blob(oci, top), 'utf8')) as {
    config: Descriptor;
    layers: Descriptor[];
  };
  const config = JSON.parse(readFileSync(blob(oci, manifest.config), 'utf8')) as { config?: ImageConfig };
  for (const layer of manifest.layers) {
    const gz = layer.mediaType.endsWith('+gzip');
    if (!gz && !layer.mediaType.endsWith('.tar'))
      throw new Error(`unsupported layer type ${layer.mediaType}`);
    // -p: the modes as stored (/tmp's sticky bit); the owner is kept because tests run as root.
    await run('tar', [gz ? '-xzpf' : '-xpf', blob(oci, layer), '-C', rootfs]);
  }
  return {
    rootfs,
    refName: top.annotations?.['org.opencontainers.image.ref.name'],
    config: config.config ?? {},
    entries: listTree(rootfs),
  };
}

function listTree(rootfs: string): ImageEntry[] {
  const out: ImageEntry[] = [];
  const walk = (rel: string): void => {
    for (const name of readdirSync(join(rootfs, rel)).sort()) {
      const path = `${rel}/${name}`;
      const st = lstatSync(join(rootfs, path));
      const kind = st.isSymbolicLink() ? 'link' : st.isDirectory() ? 'dir' : st.isFile() ? 'file' : 'other';
      out.push({
        path,
        kind,
        mode: st.mode & 0o7777,
        size: st.size,
        ...(kind === 'link' ? { target: readlinkSync(join(rootfs, path)) } : {}),
      });
      if (kind === 'dir') walk(path);
    }
  };
  walk('');
  return out;
}
