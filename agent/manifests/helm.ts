/**
 * Helm releases given as values in the repository. rollgate does not run
 * Helm or fetch charts: for the pingcap/tidb-cluster chart it renders the one
 * object it rolls out, the TidbCluster, the way the chart's
 * `templates/tidb-cluster.yaml` does (tidb-operator v1.x, removed in v1.6):
 * `spec.<pd|tikv|tidb>.image` and `replicas` copied verbatim from the values,
 * no `spec.version` (so the operator uses `image`), named after
 * `clusterName` or else the release, in the release namespace.
 *
 * Only what rollgate reads is rendered (plus requests and limits, which the
 * template copies beside them, and Helm's ownership labels and annotations);
 * `helm upgrade` owns the rest of the chart's output.
 *
 * The layout rule: a file holding a `rollgate.dev/v1alpha1` `HelmRelease`
 * names the chart, release and namespace; its values are `spec.valuesFiles`
 * (default `values.yaml`) relative to that file's folder, never above it.
 */
import { imageTag } from './images.ts';
import type { HelmSource, JsonValue, TidbClusterObject } from './types.ts';

/** The chart rollgate can render. */
export const supportedChart = 'tidb-cluster';

type Obj = { readonly [key: string]: JsonValue };

function isObj(value: unknown): value is Obj {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Merges Helm values files in order, as `helm -f a.yaml -f b.yaml` does:
 * mappings merge key by key, anything else is replaced, and a `null` in a
 * later file removes the key.
 */
export function mergeValues(files: readonly Obj[]): Obj {
  const merge = (base: Obj, over: Obj): Obj => {
    const out: Record<string, JsonValue> = { ...base };
    for (const [key, value] of Object.entries(over)) {
      if (value === null) delete out[key];
      else {
        const current = out[key];
        out[key] = isObj(current) && isObj(value) ? merge(current, value) : value;
      }
    }
    return out;
  };
  return files.reduce<Obj>((acc, file) => merge(acc, file), {});
}

/** The components the chart renders into the TidbCluster, in upgrade order. */
export const chartComponents = ['pd', 'tikv', 'tidb'] as const;

/** Fields of `values.<component>` that the chart copies into `spec.<component>`. */
const copiedFields = ['replicas', 'image', 'imagePullPolicy', 'storageClassName'] as const;

/**
 * The TidbCluster the pingcap/tidb-cluster chart renders for these values,
 * limited to the fields described above. Call with values that passed
 * `tidb-cluster-values.schema.json`.
 */
export function renderTidbCluster(release: Pick<HelmSource, 'release' | 'namespace' | 'chart'>, values: Obj): TidbClusterObject {
  const name = typeof values.clusterName === 'string' && values.clusterName !== '' ? values.clusterName : release.release;
  const chartName = typeof values.nameOverride === 'string' && values.nameOverride !== '' ? values.nameOverride : release.chart.name;
  const spec: Record<string, JsonValue> = {};
  if (typeof values.pvReclaimPolicy === 'string') spec.pvReclaimPolicy = values.pvReclaimPolicy;
  // The template writes `timezone: {{ .Values.timezone | default "UTC" }}`.
  spec.timezone = typeof values.timezone === 'string' && values.timezone !== '' ? values.timezone : 'UTC';
  if (typeof values.schedulerName === 'string') spec.schedulerName = values.schedulerName;
  for (const component of chartComponents) {
    const own = values[component];
    if (!isObj(own)) continue;
    const out: Record<string, JsonValue> = {};
    for (const field of copiedFields) {
      const value = own[field];
      if (value !== undefined && value !== null) out[field] = value;
    }
    // The template writes `imagePullPolicy: {{ .Values.<c>.imagePullPolicy | default "IfNotPresent" }}`.
    out.imagePullPolicy ??= 'IfNotPresent';
    // …and `{{ toYaml .Values.<c>.resources | indent 4 }}`, which puts requests and limits at the component's level.
    const resources = own.resources;
    if (isObj(resources)) {
      for (const field of ['requests', 'limits'] as const) {
        const value = resources[field];
        if (isObj(value) && Object.keys(value).length > 0) out[field] = value;
      }
    }
    spec[component] = out;
  }
  return {
    apiVersion: 'pingcap.com/v1alpha1',
    kind: 'TidbCluster',
    metadata: {
      name,
      namespace: release.namespace,
      labels: {
        'app.kubernetes.io/name': chartName,
        'app.kubernetes.io/managed-by': 'Helm',
        'app.kubernetes.io/instance': release.release,
        'app.kubernetes.io/component': 'tidb-cluster',
        'helm.sh/chart': `${release.chart.name}-${release.chart.version.replace(/\+/g, '_')}`,
      },
      // What Helm 3 puts on every object it owns; `helm upgrade` refuses to adopt objects without them.
      annotations: {
        'meta.helm.sh/release-name': release.release,
        'meta.helm.sh/release-namespace': release.namespace,
      },
    },
    spec: spec,
  };
}

/**
 * Where a field of the rendered TidbCluster comes from in the values, as a
 * values path; undefined for fields the descriptor decides (name, namespace,
 * labels).
 */
export function valuesPathOf(path: readonly (string | number)[], values: Obj): (string | number)[] | undefined {
  const [top, component, field] = path;
  if (top === 'metadata') return path[1] === 'name' && typeof values.clusterName === 'string' ? ['clusterName'] : undefined;
  if (top !== 'spec') return undefined;
  if (component === 'timezone' || component === 'pvReclaimPolicy' || component === 'schedulerName') return [component];
  if (typeof component === 'string' && (chartComponents as readonly string[]).includes(component)) {
    return field === undefined ? [component] : [component, field];
  }
  return undefined;
}

/** Why a chart image is unusable for rollgate, or undefined: it must carry a tag (the version rollgate reads). */
export function chartImageProblem(image: string): string | undefined {
  return imageTag(image) === undefined ? `${JSON.stringify(image)} has no tag; rollgate reads the version from the image tag, e.g. pingcap/pd:v7.5.1` : undefined;
}
