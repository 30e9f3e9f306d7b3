/**
 * Versions as rollgate reads them from an object: for each component (a
 * TidbCluster component, a Redis Enterprise cluster, a container of a
 * workload) the image it runs and that image's tag, which is the version.
 *
 * The same functions read desired objects from Git and live objects from the
 * cluster, so a planner and an auditor compare like with like.
 */
import { imageTag, tidbComponents, type JsonValue, type KubeObject, type Target, type TidbComponent } from '../manifests/index.ts';

/** The image each component runs, keyed by component, in the profile's order. */
export type ImageMap = Readonly<Record<string, string>>;

/** The version (image tag) each component runs, keyed by component, in the profile's order. */
export type VersionMap = Readonly<Record<string, string>>;

/** The component name rollgate gives a Redis Enterprise cluster's own pods. */
export const redisComponent = 'redis-enterprise';

/** TiDB Operator's default base images, filled in when a version is set without one (`tidbcluster.go`). */
export const tidbDefaultBaseImages: Readonly<Record<TidbComponent, string>> = {
  pd: 'pingcap/pd',
  tiproxy: 'pingcap/tiproxy',
  tiflash: 'pingcap/tiflash',
  tikv: 'pingcap/tikv',
  pump: 'pingcap/tidb-binlog',
  tidb: 'pingcap/tidb',
  ticdc: 'pingcap/ticdc',
};

type Obj = { readonly [key: string]: unknown };
const isObj = (value: unknown): value is Obj => typeof value === 'object' && value !== null && !Array.isArray(value);
const str = (value: unknown): string | undefined => (typeof value === 'string' && value !== '' ? value : undefined);

/** The components a TidbCluster declares (a `spec.<component>` mapping), in the operator's upgrade order. */
export function tidbClusterComponents(object: KubeObject): TidbComponent[] {
  const spec = isObj(object['spec']) ? object['spec'] : {};
  return tidbComponents.filter((component) => isObj(spec[component]));
}

/**
 * The image TiDB Operator renders for one component (`PDImage()` and its
 * siblings): `baseImage:(component version ?? spec.version)` when a base
 * image is set (defaulted when only a version is), otherwise the deprecated
 * `image`. undefined when the component is absent or names no image.
 */
export function tidbComponentImage(object: KubeObject, component: TidbComponent): string | undefined {
  const spec = isObj(object['spec']) ? object['spec'] : {};
  const own = spec[component];
  if (!isObj(own)) return undefined;
  const version = str(own['version']) ?? str(spec['version']);
  const baseImage = str(own['baseImage']);
  if (baseImage !== undefined) return version !== undefined ? `${baseImage}:${version}` : baseImage;
  const image = str(own['image']);
  if (image !== undefined) return image;
  return version !== undefined ? `${tidbDefaultBaseImages[component]}:${version}` : undefined;
}

/** The Redis Enterprise image a RedisEnterpriseCluster asks for: `repository:versionTag`. */
export function redisClusterImage(object: KubeObject): string | undefined {
  const spec = isObj(object['spec']) ? object['spec'] : {};
  const imageSpec = spec['redisEnterpriseImageSpec'];
  if (!isObj(imageSpec)) return undefined;
  const tag = str(imageSpec['versionTag']);
  if (tag === undefined) return undefined;
  return `${str(imageSpec['repository']) ?? 'redislabs/redis'}:${tag}`;
}

/** The containers of a workload's pod template, by name, in template order (init containers first). */
export function templateImages(object: KubeObject): ImageMap {
  const spec = isObj(object['spec']) ? object['spec'] : {};
  const template = isObj(spec['template']) ? spec['template'] : {};
  const podSpec = isObj(template['spec']) ? template['spec'] : {};
  return containerImages(podSpec);
}

/** The images of a pod spec's containers, by container name (init containers first). */
export function containerImages(podSpec: { readonly [key: string]: unknown }): ImageMap {
  const out: Record<string, string> = {};
  for (const field of ['initContainers', 'containers'] as const) {
    const list = podSpec[field];
    if (!Array.isArray(list)) continue;
    for (const container of list as readonly JsonValue[]) {
      if (!isObj(container)) continue;
      const name = str(container['name']);
      const image = str(container['image']);
      if (name !== undefined && image !== undefined) out[name] = image;
    }
  }
  return out;
}

/** The images an object of a target kind asks for, keyed by component. */
export function imagesOf(kind: Target['kind'], object: KubeObject): ImageMap {
  switch (kind) {
    case 'TidbCluster': {
      const out: Record<string, string> = {};
      for (const component of tidbClusterComponents(object)) {
        const image = tidbComponentImage(object, component);
        if (image !== undefined) out[component] = image;
      }
      return out;
    }
    case 'RedisEnterpriseCluster': {
      const image = redisClusterImage(object);
      return image === undefined ? {} : { [redisComponent]: image };
    }
    case 'StatefulSet':
    case 'Deployment':
      return templateImages(object);
  }
}

/** Tags of an image map; an image without a tag (a digest only) shows as its reference. */
export function versionsOf(images: ImageMap): VersionMap {
  const out: Record<string, string> = {};
  for (const [component, image] of Object.entries(images)) out[component] = imageTag(image) ?? image;
  return out;
}

/** The versions a target's desired object asks for, by component. */
export function desiredVersions(target: Target): VersionMap {
  return versionsOf(imagesOf(target.kind, target.object));
}
