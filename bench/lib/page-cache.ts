/**
 * The page-cache state of the executable, which decides part of a plugin's resident memory. On
 * this kernel (6.18, ext4) a file read whole in sequence (as spire-server's plugin_checksum reads
 * it on a cold cache) is cached as large folios, and a process that maps it then shows ~30 MB more
 * resident code than when its pages came in by its own page faults (or by the build's copy). The
 * memory benchmarks start from a stated state instead of whatever the last test left.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, openSync, readSync } from 'node:fs';

/** Drops `file`'s clean pages from the page cache (GNU dd: posix_fadvise DONTNEED). */
export function dropFromPageCache(file: string): void {
  try {
    execFileSync('dd', [`if=${file}`, 'iflag=nocache', 'count=0', 'status=none'], { stdio: 'pipe' });
  } catch (err) {
    throw new Error(`bench: could not drop ${file} from the page cache with GNU dd (iflag=nocache)`, {
      cause: err,
    });
  }
}

/** Reads `file` whole in 32 KiB steps, as Go's io.Copy into SHA-256 (SPIRE's plugin_checksum) does. */
export function readWhole(file: string): void {
  const fd = openSync(file, 'r');
  try {
    const buf = Buffer.allocUnsafe(32 * 1024);
    while (readSync(fd, buf, 0, buf.length, null) > 0);
  } finally {
    closeSync(fd);
  }
}

/** The two states the memory benchmarks measure, as a phrase for the report. */
export const PAGE_CACHE_STATES = {
  faulted: "the executable's pages faulted in by the plugin (dropped from the page cache first)",
  hashed: "the executable read whole first, as spire-server's plugin_checksum reads it on a cold page cache",
} as const;
export type PageCacheState = keyof typeof PAGE_CACHE_STATES;

/** Puts `file` in `state`: dropped (the next exec faults its pages in), or dropped and read whole. */
export function preparePageCache(file: string, state: PageCacheState): void {
  dropFromPageCache(file);
  if (state === 'hashed') readWhole(file);
}
