/**
 * The image catalogue: how the simulated kubelet treats each container
 * image. Images that no rule names behave well (they start after a short
 * delay and are Ready at once, or after their readiness probe's delay).
 * Rules make images missing, crash-looping, never Ready, slow to start, or
 * Ready for a while and then not.
 *
 * The YAML file of `rollgate sim --images FILE` (and the body of
 * `PUT /rollgate-sim/clusters/<name>/images`):
 *
 * ```yaml
 * defaults:              # every image; all durations in simulated seconds
 *   startSeconds: 2      # scheduled -> container running (pull and start)
 *   readySeconds: 1      # running -> Ready, after initialDelaySeconds, for containers with a readinessProbe
 *   stopSeconds: 1       # SIGTERM -> exit; capped by the grace period
 * images:                # first match wins
 *   - match: "nginx:1.99"          # exact reference ...
 *     missing: true                # ErrImagePull, then ImagePullBackOff, retried with back-off
 *   - match: "example/crash:*"     # ... or a glob (* and ?), tried against the reference as
 *     crash: true                  #     written and as normalised (docker.io/library/nginx:1.25)
 *     crashAfterSeconds: 3         # runs this long, exits 1, CrashLoopBackOff, restartCount grows
 *   - match: "example/stuck:*"
 *     neverReady: true             # Running, never Ready (probe or not)
 *   - match: "pingcap/tikv:*"
 *     startSeconds: 30             # slow start
 *   - match: "example/flaky:*"
 *     readyForSeconds: 20          # Ready for 20 s, then NotReady until restarted
 *     ignoreSigterm: true          # takes the whole grace period to stop
 * ```
 */
import { createHash } from 'node:crypto';
import { parse as parseYaml } from 'yaml';
import { isPlainObject } from './api/object.ts';

/** How one image behaves; every duration is in simulated seconds. */
export interface ImageBehaviour {
  /** From scheduling to the container running (image pull plus start). Default 2. */
  startSeconds: number;
  /** From running to Ready for a container with a readinessProbe, added to its initialDelaySeconds. Default 1. */
  readySeconds: number;
  /** From SIGTERM to exit, capped by the grace period. Default 1. */
  stopSeconds: number;
  /** The whole grace period passes before the container stops. Default false. */
  ignoreSigterm: boolean;
  /** The pull fails: ErrImagePull, then ImagePullBackOff, retried with back-off. Default false. */
  missing: boolean;
  /** The container exits with code 1 after `crashAfterSeconds`, into CrashLoopBackOff. Default false. */
  crash: boolean;
  /** How long a crashing container runs before it exits. Default 2. */
  crashAfterSeconds: number;
  /** Running but never Ready. Default false. */
  neverReady: boolean;
  /** Ready for this long, then not Ready until the container restarts. Default: stays Ready. */
  readyForSeconds: number | undefined;
}

/** One rule of the catalogue: a pattern and the behaviour it overrides. */
export interface ImageRule extends Partial<ImageBehaviour> {
  /** Exact image reference, or a glob with `*` (any characters, `/` included) and `?`. */
  match: string;
}

/** The catalogue: defaults for all images, then rules, first match wins. */
export interface ImageCatalogue {
  defaults?: Partial<ImageBehaviour>;
  images?: ImageRule[];
}

/** The behaviour of an image no rule names, with no defaults given. */
export const defaultImageBehaviour: Readonly<ImageBehaviour> = Object.freeze({
  startSeconds: 2,
  readySeconds: 1,
  stopSeconds: 1,
  ignoreSigterm: false,
  missing: false,
  crash: false,
  crashAfterSeconds: 2,
  neverReady: false,
  readyForSeconds: undefined,
});

/** A catalogue that could not be read; `problems` holds one `path: message` each. */
export class ImageCatalogueError extends Error {
  readonly problems: string[];

  constructor(problems: string[]) {
    super(`invalid image catalogue: ${problems.join('; ')}`);
    this.name = 'ImageCatalogueError';
    this.problems = problems;
  }
}

const numberFields = ['startSeconds', 'readySeconds', 'stopSeconds', 'crashAfterSeconds', 'readyForSeconds'] as const;
const booleanFields = ['ignoreSigterm', 'missing', 'crash', 'neverReady'] as const;

function checkBehaviour(value: Record<string, unknown>, path: string, problems: string[], allowMatch: boolean): Partial<ImageBehaviour> {
  const out: Partial<ImageBehaviour> = {};
  for (const [key, v] of Object.entries(value)) {
    if (allowMatch && key === 'match') continue;
    if ((numberFields as readonly string[]).includes(key)) {
      if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) problems.push(`${path}.${key}: must be a number of seconds, 0 or more`);
      else (out as Record<string, unknown>)[key] = v;
    } else if ((booleanFields as readonly string[]).includes(key)) {
      if (typeof v !== 'boolean') problems.push(`${path}.${key}: must be true or false`);
      else (out as Record<string, unknown>)[key] = v;
    } else problems.push(`${path}.${key}: unknown field (known: ${allowMatch ? 'match, ' : ''}${[...numberFields, ...booleanFields].join(', ')})`);
  }
  return out;
}

/** Validates a parsed catalogue; throws ImageCatalogueError listing every problem. */
export function validateImageCatalogue(value: unknown): ImageCatalogue {
  if (value === null || value === undefined) return {};
  if (!isPlainObject(value)) throw new ImageCatalogueError(['(root): must be a mapping with "defaults" and "images"']);
  const problems: string[] = [];
  const catalogue: ImageCatalogue = {};
  for (const key of Object.keys(value)) if (key !== 'defaults' && key !== 'images') problems.push(`${key}: unknown field (known: defaults, images)`);
  const defaults = value['defaults'];
  if (defaults !== undefined) {
    if (!isPlainObject(defaults)) problems.push('defaults: must be a mapping');
    else catalogue.defaults = checkBehaviour(defaults, 'defaults', problems, false);
  }
  const images = value['images'];
  if (images !== undefined) {
    if (!Array.isArray(images)) problems.push('images: must be a list');
    else {
      catalogue.images = [];
      images.forEach((rule, i) => {
        const path = `images[${i}]`;
        if (!isPlainObject(rule)) return problems.push(`${path}: must be a mapping`);
        if (typeof rule['match'] !== 'string' || rule['match'] === '') return problems.push(`${path}.match: required, an image reference or glob`);
        catalogue.images?.push({ match: rule['match'], ...checkBehaviour(rule, path, problems, true) });
        return undefined;
      });
    }
  }
  if (problems.length > 0) throw new ImageCatalogueError(problems);
  return catalogue;
}

/** Parses a catalogue from YAML (or JSON) text. */
export function parseImageCatalogue(text: string): ImageCatalogue {
  let value: unknown;
  try {
    value = parseYaml(text, { maxAliasCount: 100 });
  } catch (err) {
    throw new ImageCatalogueError([`(root): ${(err as Error).message.split('\n')[0] ?? 'not YAML'}`]);
  }
  return validateImageCatalogue(value);
}

/** True when `value` matches the glob `pattern` (`*` any run of characters, `?` one). */
export function globMatches(pattern: string, value: string): boolean {
  if (!pattern.includes('*') && !pattern.includes('?')) return pattern === value;
  const re = new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`);
  return re.test(value);
}

/**
 * The reference as a container runtime reports it: registry and
 * `library/` added for Docker Hub, `:latest` when there is no tag or digest
 * (`nginx` → `docker.io/library/nginx:latest`).
 */
export function normalizeImage(ref: string): string {
  let name = ref;
  const first = name.split('/')[0] ?? '';
  const hasRegistry = name.includes('/') && (first.includes('.') || first.includes(':') || first === 'localhost');
  if (!hasRegistry) name = name.includes('/') ? `docker.io/${name}` : `docker.io/library/${name}`;
  const lastSegment = name.slice(name.lastIndexOf('/') + 1);
  if (!name.includes('@') && !lastSegment.includes(':')) name = `${name}:latest`;
  return name;
}

/** A stable `imageID` for a reference: `<repository>@sha256:<digest of the reference>`. */
export function imageIdOf(ref: string): string {
  const normalized = normalizeImage(ref);
  if (normalized.includes('@')) return normalized;
  const repository = normalized.slice(0, normalized.lastIndexOf(':'));
  return `${repository}@sha256:${createHash('sha256').update(normalized).digest('hex')}`;
}

/** Resolves images to behaviours; the catalogue can be replaced while the simulation runs. */
export class ImageResolver {
  private catalogue: ImageCatalogue;

  constructor(catalogue: ImageCatalogue = {}) {
    this.catalogue = validateImageCatalogue(catalogue);
  }

  /** The catalogue in force. */
  get(): ImageCatalogue {
    return structuredClone(this.catalogue);
  }

  /** Replaces the catalogue (validated first; the old one stays on error). */
  set(catalogue: ImageCatalogue): void {
    this.catalogue = validateImageCatalogue(structuredClone(catalogue));
  }

  /** The behaviour of `image`: defaults, then the first matching rule. */
  behaviourOf(image: string): ImageBehaviour {
    const normalized = normalizeImage(image);
    const rule = (this.catalogue.images ?? []).find((r) => globMatches(r.match, image) || globMatches(r.match, normalized));
    const { match: _match, ...overrides } = rule ?? { match: '' };
    return { ...defaultImageBehaviour, ...this.catalogue.defaults, ...overrides };
  }
}
