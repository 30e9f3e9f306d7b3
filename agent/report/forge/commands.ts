/**
 * `/rollgate` commands in pull-request comments, read by a pure parser: a
 * command is a line of its own that starts with `/rollgate`, so quoting one
 * (`> /rollgate approve`) or mentioning it mid-sentence does nothing.
 */

/** A command found in a comment. */
export type RollgateCommand =
  | { readonly kind: 'approve'; readonly target?: string }
  | { readonly kind: 'hold' }
  | { readonly kind: 'resume' }
  | { readonly kind: 'unknown'; readonly text: string };

/** The commands a comment carries, in order. */
export function parseCommands(body: string): RollgateCommand[] {
  const out: RollgateCommand[] = [];
  for (const raw of body.split(/\r?\n/)) {
    const line = raw.trim();
    const match = /^\/rollgate(?:\s+(.*))?$/.exec(line);
    if (match === null) continue;
    const words = (match[1] ?? '').split(/\s+/).filter((w) => w !== '');
    const [verb, arg, ...extra] = words;
    if (verb === 'approve' && extra.length === 0) out.push(arg === undefined ? { kind: 'approve' } : { kind: 'approve', target: arg });
    else if ((verb === 'hold' || verb === 'resume') && arg === undefined) out.push({ kind: verb });
    else out.push({ kind: 'unknown', text: line.slice(0, 200) });
  }
  return out;
}

/**
 * Whether an approval naming `named` covers target `target`
 * (`cluster/namespace/kind/name`): the whole id, or its trailing segments
 * (`name`, `kind/name`, `namespace/kind/name`), compared case-insensitively
 * for the kind only as Kubernetes does. No name covers every target.
 */
export function approvalCovers(named: string | undefined, target: string): boolean {
  if (named === undefined) return true;
  const want = named.split('/');
  const have = target.split('/');
  if (want.length > have.length) return false;
  const tail = have.slice(have.length - want.length);
  const kindIndex = have.length - 2 - (have.length - want.length);
  return tail.every((segment, i) => (i === kindIndex ? segment.toLowerCase() === want[i]?.toLowerCase() : segment === want[i]));
}

/** The usage text sent back for a command rollgate does not know. */
export const commandUsage = '`/rollgate approve [target]` approves the gated stage of this pull request\'s rollout (all its targets, or the one named), `/rollgate hold` stops it at the next step boundary, `/rollgate resume` lets it go on.';
