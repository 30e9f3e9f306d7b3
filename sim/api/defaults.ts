/**
 * Defaulting and validation of built-in kinds, as the API server's
 * `SetDefaults_*` functions and registry strategies do it. Defaulting
 * matters: `kubectl rollout status` picks its branch from the defaulted
 * `updateStrategy` (reference §1 "Defaulting", §2), and the agent must not
 * mistake defaulted fields for drift.
 */
import type { FieldError } from './errors.ts';
import type { KubeObject } from './object.ts';
import { isPlainObject, jsonEqual } from './object.ts';
import type { ResourceType } from './resources.ts';

type Obj = Record<string, unknown>;

function obj(parent: Obj, key: string): Obj {
  const existing = parent[key];
  if (isPlainObject(existing)) return existing;
  const created: Obj = {};
  parent[key] = created;
  return created;
}

function setDefault(parent: Obj, key: string, value: unknown): void {
  if (parent[key] === undefined || parent[key] === null) parent[key] = value;
}

/** `SetDefaults_PodSpec` and `SetDefaults_Container` for the fields clients see. */
function defaultPodSpec(spec: Obj): void {
  setDefault(spec, 'restartPolicy', 'Always');
  setDefault(spec, 'terminationGracePeriodSeconds', 30);
  setDefault(spec, 'dnsPolicy', 'ClusterFirst');
  setDefault(spec, 'securityContext', {});
  setDefault(spec, 'schedulerName', 'default-scheduler');
  for (const key of ['containers', 'initContainers']) {
    const containers = spec[key];
    if (!Array.isArray(containers)) continue;
    for (const c of containers) {
      if (!isPlainObject(c)) continue;
      const image = typeof c['image'] === 'string' ? c['image'] : '';
      const tagged = /:[^/]+$/.test(image) && !image.endsWith(':latest');
      setDefault(c, 'imagePullPolicy', tagged || image.includes('@') ? 'IfNotPresent' : 'Always');
      setDefault(c, 'terminationMessagePath', '/dev/termination-log');
      setDefault(c, 'terminationMessagePolicy', 'File');
      setDefault(c, 'resources', {});
      if (Array.isArray(c['ports'])) for (const p of c['ports']) if (isPlainObject(p)) setDefault(p, 'protocol', 'TCP');
      for (const probe of ['readinessProbe', 'livenessProbe', 'startupProbe']) {
        const pr = c[probe];
        if (!isPlainObject(pr)) continue;
        setDefault(pr, 'timeoutSeconds', 1);
        setDefault(pr, 'periodSeconds', 10);
        setDefault(pr, 'successThreshold', 1);
        setDefault(pr, 'failureThreshold', 3);
      }
    }
  }
}

function defaultTemplate(spec: Obj): void {
  const template = obj(spec, 'template');
  defaultPodSpec(obj(template, 'spec'));
}

/** Applies the defaults of a built-in kind in place. Custom resources are left as sent. */
export function applyDefaults(type: ResourceType, o: KubeObject): void {
  if (!type.builtin) return;
  const spec = isPlainObject(o.spec) ? o.spec : undefined;
  switch (`${type.group}/${type.kind}`) {
    case '/Pod':
      if (spec) defaultPodSpec(spec);
      setDefault(spec ?? (o.spec = {}), 'enableServiceLinks', true);
      break;
    case 'apps/StatefulSet': {
      const s = spec ?? ((o.spec = {}));
      setDefault(s, 'replicas', 1);
      setDefault(s, 'podManagementPolicy', 'OrderedReady');
      setDefault(s, 'revisionHistoryLimit', 10);
      // The gotcha of reference §1: rollingUpdate is created only when the type
      // was empty; an explicit `type: RollingUpdate` without it stays nil.
      const strategy = obj(s, 'updateStrategy');
      if (strategy['type'] === undefined || strategy['type'] === '') {
        strategy['type'] = 'RollingUpdate';
        setDefault(strategy, 'rollingUpdate', {});
      }
      const rolling = strategy['rollingUpdate'];
      if (strategy['type'] === 'RollingUpdate' && isPlainObject(rolling)) setDefault(rolling, 'partition', 0);
      setDefault(s, 'persistentVolumeClaimRetentionPolicy', { whenDeleted: 'Retain', whenScaled: 'Retain' });
      defaultTemplate(s);
      break;
    }
    case 'apps/Deployment': {
      const s = spec ?? ((o.spec = {}));
      setDefault(s, 'replicas', 1);
      setDefault(s, 'revisionHistoryLimit', 10);
      setDefault(s, 'progressDeadlineSeconds', 600);
      const strategy = obj(s, 'strategy');
      setDefault(strategy, 'type', 'RollingUpdate');
      if (strategy['type'] === 'RollingUpdate') {
        const rolling = obj(strategy, 'rollingUpdate');
        setDefault(rolling, 'maxUnavailable', '25%');
        setDefault(rolling, 'maxSurge', '25%');
      }
      defaultTemplate(s);
      break;
    }
    case 'apps/ReplicaSet': {
      const s = spec ?? ((o.spec = {}));
      setDefault(s, 'replicas', 1);
      defaultTemplate(s);
      break;
    }
    case '/Service': {
      const s = spec ?? ((o.spec = {}));
      setDefault(s, 'type', 'ClusterIP');
      setDefault(s, 'sessionAffinity', 'None');
      if (Array.isArray(s['ports']))
        for (const p of s['ports'])
          if (isPlainObject(p)) {
            setDefault(p, 'protocol', 'TCP');
            setDefault(p, 'targetPort', p['port']);
          }
      break;
    }
    case '/Namespace': {
      const s = spec ?? ((o.spec = {}));
      setDefault(s, 'finalizers', ['kubernetes']);
      const labels = (o.metadata.labels ??= {});
      // NamespaceDefaultLabelName, set by the API server since 1.21.
      if (o.metadata.name !== undefined) labels['kubernetes.io/metadata.name'] = o.metadata.name;
      break;
    }
    case '/Secret':
      setDefault(o, 'type', 'Opaque');
      break;
    default:
      break;
  }
}

const dns1123Label = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const dns1123Subdomain = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** The messages of apimachinery's `IsDNS1123Label` / `IsDNS1123Subdomain`. */
export function nameErrors(type: ResourceType, name: string): FieldError[] {
  // Namespaces, Services and StatefulSets (whose name becomes a label value) are labels; most others subdomains.
  const label = ['Namespace', 'Service'].includes(type.kind) && type.group === '';
  const max = label ? 63 : 253;
  const errors: FieldError[] = [];
  if (name.length > max) errors.push({ type: 'FieldValueInvalid', field: 'metadata.name', message: `Invalid value: "${name}": must be no more than ${max} characters` });
  if (label && !dns1123Label.test(name)) {
    errors.push({
      type: 'FieldValueInvalid',
      field: 'metadata.name',
      message: `Invalid value: "${name}": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')`,
    });
  } else if (!label && !dns1123Subdomain.test(name)) {
    errors.push({
      type: 'FieldValueInvalid',
      field: 'metadata.name',
      message: `Invalid value: "${name}": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`,
    });
  }
  return errors;
}

function validateLabels(o: KubeObject): FieldError[] {
  const errors: FieldError[] = [];
  for (const [key, value] of Object.entries(o.metadata.labels ?? {})) {
    if (typeof value !== 'string' || !/^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/.test(value) || value.length > 63)
      errors.push({ type: 'FieldValueInvalid', field: 'metadata.labels', message: `Invalid value: ${JSON.stringify(value)}: a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')` });
    if (!/^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/.test(key))
      errors.push({ type: 'FieldValueInvalid', field: 'metadata.labels', message: `Invalid value: "${key}": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character` });
  }
  for (const [key, value] of Object.entries(o.metadata.annotations ?? {}))
    if (typeof value !== 'string') errors.push({ type: 'FieldValueTypeInvalid', field: `metadata.annotations.${key}`, message: `Invalid value: ${JSON.stringify(value)}: must be a string` });
  return errors;
}

function validatePodSpec(spec: unknown, path: string): FieldError[] {
  if (!isPlainObject(spec)) return [{ type: 'FieldValueRequired', field: path, message: 'Required value' }];
  const containers = spec['containers'];
  if (!Array.isArray(containers) || containers.length === 0) return [{ type: 'FieldValueRequired', field: `${path}.containers`, message: 'Required value' }];
  const errors: FieldError[] = [];
  const names = new Set<string>();
  containers.forEach((c, i) => {
    const field = `${path}.containers[${i}]`;
    if (!isPlainObject(c)) {
      errors.push({ type: 'FieldValueInvalid', field, message: 'Invalid value: must be an object' });
      return;
    }
    const name = c['name'];
    if (typeof name !== 'string' || name === '') errors.push({ type: 'FieldValueRequired', field: `${field}.name`, message: 'Required value' });
    else if (names.has(name)) errors.push({ type: 'FieldValueDuplicate', field: `${field}.name`, message: `Duplicate value: "${name}"` });
    else names.add(name);
    if (typeof c['image'] !== 'string' || c['image'] === '') errors.push({ type: 'FieldValueRequired', field: `${field}.image`, message: 'Required value' });
  });
  return errors;
}

/** Fields of a StatefulSet spec that may change on update (reference §1 "API server strategy"). */
const mutableStatefulSetFields = new Set(['replicas', 'ordinals', 'template', 'updateStrategy', 'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy', 'minReadySeconds']);

/** Validation of a built-in object on create (`old` undefined) or update. */
export function validate(type: ResourceType, o: KubeObject, old: KubeObject | undefined): FieldError[] {
  const errors = validateLabels(o);
  if (!type.builtin) return errors;
  const spec = o.spec;
  switch (`${type.group}/${type.kind}`) {
    case '/Pod':
      errors.push(...validatePodSpec(spec, 'spec'));
      break;
    case 'apps/StatefulSet':
    case 'apps/Deployment':
    case 'apps/ReplicaSet': {
      if (!isPlainObject(spec)) {
        errors.push({ type: 'FieldValueRequired', field: 'spec', message: 'Required value' });
        break;
      }
      const selector = spec['selector'];
      const template = isPlainObject(spec['template']) ? spec['template'] : {};
      const templateLabels = isPlainObject(template['metadata']) && isPlainObject(template['metadata']['labels']) ? template['metadata']['labels'] : {};
      if (!isPlainObject(selector)) errors.push({ type: 'FieldValueRequired', field: 'spec.selector', message: 'Required value' });
      else {
        const matchLabels = isPlainObject(selector['matchLabels']) ? selector['matchLabels'] : {};
        const mismatched = Object.entries(matchLabels).some(([k, v]) => templateLabels[k] !== v);
        if (mismatched) errors.push({ type: 'FieldValueInvalid', field: 'spec.template.metadata.labels', message: `Invalid value: ${JSON.stringify(templateLabels)}: \`selector\` does not match template \`labels\`` });
      }
      errors.push(...validatePodSpec(template['spec'], 'spec.template.spec'));
      const replicas = spec['replicas'];
      if (typeof replicas !== 'number' || replicas < 0 || !Number.isInteger(replicas))
        errors.push({ type: 'FieldValueInvalid', field: 'spec.replicas', message: `Invalid value: ${JSON.stringify(replicas)}: must be greater than or equal to 0` });
      if (type.kind === 'StatefulSet' && old && isPlainObject(old.spec)) {
        const changed = new Set([...Object.keys(spec), ...Object.keys(old.spec)]);
        const forbidden = [...changed].some((k) => !mutableStatefulSetFields.has(k) && !jsonEqual(spec[k], (old.spec as Obj)[k]));
        if (forbidden)
          errors.push({
            type: 'FieldValueForbidden',
            field: 'spec',
            message: "Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden",
          });
      }
      if ((type.kind === 'Deployment' || type.kind === 'ReplicaSet') && old && isPlainObject(old.spec) && !jsonEqual(spec['selector'], old.spec['selector']))
        errors.push({ type: 'FieldValueInvalid', field: 'spec.selector', message: `Invalid value: ${JSON.stringify(spec['selector'])}: field is immutable` });
      break;
    }
    case '/ConfigMap':
    case '/Secret':
      if (old && old['immutable'] === true && (!jsonEqual(o['data'], old['data']) || !jsonEqual(o['binaryData'], old['binaryData'])))
        errors.push({ type: 'FieldValueForbidden', field: 'data', message: 'Forbidden: field is immutable when `immutable` is set' });
      break;
    default:
      break;
  }
  return errors;
}
