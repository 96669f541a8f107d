// Both processes' first import: on a Node.js too old for everynode's
// dependencies (undici needs zlib's zstd, Node >= 22.19), say which version is
// needed and how to get it, instead of crashing inside a dependency. Imported
// for its side effect before anything else, so it runs before undici loads
// (ES modules evaluate in import order).

/** The oldest Node.js everynode runs on (package.json engines); it is developed and tested on 24 LTS. */
export const MINIMUM_NODE = '22.19.0';

const parts = (v: string): number[] =>
  v
    .replace(/^v/, '')
    .split('.')
    .map((p) => Number.parseInt(p, 10) || 0);

/** Is `version` (e.g. "v20.20.2" or "24.1.0") at least `minimum`? */
export function isSupportedNode(version: string, minimum: string = MINIMUM_NODE): boolean {
  const a = parts(version);
  const b = parts(minimum);
  for (let i = 0; i < 3; i++) {
    const x = a[i] ?? 0;
    const y = b[i] ?? 0;
    if (x !== y) return x > y;
  }
  return true;
}

/** The message for an unsupported Node.js, or undefined when `version` is supported. */
export function unsupportedNodeMessage(version: string): string | undefined {
  if (isSupportedNode(version)) return undefined;
  return (
    `everynode: Node.js ${version} is too old: everynode needs Node.js >= ${MINIMUM_NODE} (24 LTS recommended).\n` +
    `In a clone, the Makefile targets use the project's own Node.js 24 (make run-controller, make run-webhook);\n` +
    `by hand: export PATH="$(hack/ensure-node.sh):$PATH". The container image ships Node.js 24.\n`
  );
}

const problem = unsupportedNodeMessage(process.version);
if (problem !== undefined) {
  process.stderr.write(problem);
  process.exit(1);
}
