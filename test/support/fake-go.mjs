#!/usr/bin/env node
// A stand-in for `go` in tests of tools/build-test-bins.sh and scripts/prereqs.mjs: answers the
// few commands they run, quickly, and logs each call. Environment:
//   FAKE_GO_LOG      file that gets one line per call (the arguments)
//   FAKE_GO_DIR      where GOCACHE and GOMODCACHE are said to be (unset: nowhere, so that the
//                    disk-space check does not depend on the free space of the test machine)
//   FAKE_GO_VERSION  what `go env GOVERSION` says (default go1.26.8)
//   FAKE_GO_FAIL     when set, `go build` fails with a compiler error
import { appendFileSync, chmodSync, writeFileSync } from 'node:fs';

const args = process.argv.slice(2);
if (process.env.FAKE_GO_LOG) appendFileSync(process.env.FAKE_GO_LOG, `${args.join(' ')}\n`);
const dir = process.env.FAKE_GO_DIR;
const deps = (pkg) => ['internal/abi', 'runtime', 'fmt', 'example.com/lib', pkg];
const cmd = args.filter((a) => !a.startsWith('-'));

if (cmd[0] === 'env' && args.includes('-json')) {
  const at = (sub) => (dir === undefined ? '' : `${dir}/${sub}`);
  console.log(JSON.stringify({ GOCACHE: at('go-build'), GOMODCACHE: at('go-mod') }));
} else if (cmd[0] === 'env' && cmd[1] === 'GOVERSION') {
  console.log(process.env.FAKE_GO_VERSION ?? 'go1.26.8');
} else if (cmd[0] === 'version') {
  console.log(`go version ${process.env.FAKE_GO_VERSION ?? 'go1.26.8'} linux/amd64`);
} else if (cmd[0] === 'mod' && cmd[1] === 'download') {
  for (const m of ['example.com/lib/@v/v1.0.0', 'example.com/other/@v/v0.2.0']) {
    console.error(`# get https://proxy.golang.org/${m}.zip`);
    console.error(`# get https://proxy.golang.org/${m}.zip: 200 OK (0.001s)`);
  }
} else if (cmd[0] === 'list') {
  console.log([...new Set(cmd.slice(1).flatMap(deps))].join('\n'));
} else if (cmd[0] === 'build') {
  const out = args[args.indexOf('-o') + 1];
  const pkg = args.at(-1);
  const ev = (ImportPath, Action, Output) => console.log(JSON.stringify({ ImportPath, Action, Output }));
  for (const p of deps(pkg)) {
    ev(p, 'build-output', `${p}\n`);
    if (process.env.FAKE_GO_FAIL && p === pkg) {
      ev(p, 'build-output', `# ${p}\n./main.go:7:2: undefined: notDefinedAnywhere\n`);
      ev(p, 'build-fail');
      process.exit(1);
    }
  }
  writeFileSync(out, '#!/bin/sh\n');
  chmodSync(out, 0o755);
} else {
  console.error(`fake go: unexpected arguments: ${args.join(' ')}`);
  process.exit(2);
}
