/**
 * Server-side printing: `meta.k8s.io/v1` Table responses for `kubectl get`,
 * with the columns of kubernetes `pkg/printers/internalversion/printers.go`
 * for built-ins and `additionalPrinterColumns` for custom resources.
 */
import { evaluateJsonPath } from './jsonpath.ts';
import type { KubeObject } from './object.ts';
import { isPlainObject } from './object.ts';
import type { PrinterColumn, ResourceType } from './resources.ts';

export interface TableColumn {
  name: string;
  type: string;
  format: string;
  description: string;
  priority: number;
}

export interface TableRow {
  cells: unknown[];
  object: unknown;
}

export interface Table {
  kind: 'Table';
  apiVersion: 'meta.k8s.io/v1';
  metadata: { resourceVersion?: string; continue?: string };
  columnDefinitions: TableColumn[];
  rows: TableRow[];
}

/** apimachinery `duration.HumanDuration`: the AGE column's format. */
export function humanDuration(ms: number): string {
  const seconds = Math.floor(ms / 1000);
  if (seconds < -1) return '<invalid>';
  if (seconds < 0) return '0s';
  if (seconds < 60 * 2) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 10) return seconds % 60 === 0 ? `${minutes}m` : `${minutes}m${seconds % 60}s`;
  if (minutes < 60 * 3) return `${minutes}m`;
  const hours = Math.floor(minutes / 60);
  if (hours < 8) return minutes % 60 === 0 ? `${hours}h` : `${hours}h${minutes % 60}m`;
  if (hours < 48) return `${hours}h`;
  if (hours < 24 * 8) return hours % 24 === 0 ? `${Math.floor(hours / 24)}d` : `${Math.floor(hours / 24)}d${hours % 24}h`;
  if (hours < 24 * 365 * 2) return `${Math.floor(hours / 24)}d`;
  if (hours < 24 * 365 * 8) {
    const dy = Math.floor(hours / 24) % 365;
    return dy === 0 ? `${Math.floor(hours / 24 / 365)}y` : `${Math.floor(hours / 24 / 365)}y${dy}d`;
  }
  return `${Math.floor(hours / 24 / 365)}y`;
}

type Printer = { columns: [string, string, number?][]; cells: (o: KubeObject, age: string) => unknown[] };

const rec = (v: unknown): Record<string, unknown> => (isPlainObject(v) ? v : {});
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? (v as unknown[]) : []);
const num = (v: unknown): number => (typeof v === 'number' ? v : 0);
const str = (v: unknown, none = '<none>'): string => (typeof v === 'string' && v !== '' ? v : none);

function containersAndImages(o: KubeObject): [string, string] {
  const containers = arr(rec(rec(rec(o.spec)['template'])['spec'])['containers']).map(rec);
  return [containers.map((c) => str(c['name'], '')).join(','), containers.map((c) => str(c['image'], '')).join(',')];
}

function selectorText(o: KubeObject): string {
  const sel = rec(rec(o.spec)['selector']);
  const labels = rec(sel['matchLabels'] ?? sel);
  const text = Object.entries(labels).map(([k, v]) => `${k}=${String(v)}`).join(',');
  return text === '' ? '<none>' : text;
}

/** The STATUS column of a pod, as `printPod` derives it. */
export function podStatusReason(o: KubeObject): string {
  const status = rec(o.status);
  let reason = str(status['reason'], '') || str(status['phase'], 'Unknown');
  const statuses = arr(status['containerStatuses']).map(rec);
  for (const cs of statuses) {
    const state = rec(cs['state']);
    const waiting = rec(state['waiting']);
    const terminated = rec(state['terminated']);
    if (typeof waiting['reason'] === 'string' && waiting['reason'] !== '') reason = waiting['reason'];
    else if (typeof terminated['reason'] === 'string' && terminated['reason'] !== '') reason = terminated['reason'];
  }
  if (o.metadata.deletionTimestamp) reason = 'Terminating';
  return reason;
}

const printers: Record<string, Printer> = {
  '/Pod': {
    columns: [['Ready', 'string'], ['Status', 'string'], ['Restarts', 'string'], ['Age', 'string'], ['IP', 'string', 1], ['Node', 'string', 1], ['Nominated Node', 'string', 1], ['Readiness Gates', 'string', 1]],
    cells: (o, age) => {
      const spec = rec(o.spec);
      const status = rec(o.status);
      const statuses = arr(status['containerStatuses']).map(rec);
      const ready = statuses.filter((c) => c['ready'] === true).length;
      const restarts = statuses.reduce((n, c) => n + num(c['restartCount']), 0);
      return [`${ready}/${arr(spec['containers']).length}`, podStatusReason(o), String(restarts), age, str(status['podIP']), str(spec['nodeName']), str(status['nominatedNodeName']), '<none>'];
    },
  },
  'apps/StatefulSet': {
    columns: [['Ready', 'string'], ['Age', 'string'], ['Containers', 'string', 1], ['Images', 'string', 1]],
    cells: (o, age) => [`${num(rec(o.status)['readyReplicas'])}/${num(rec(o.spec)['replicas'])}`, age, ...containersAndImages(o)],
  },
  'apps/Deployment': {
    columns: [['Ready', 'string'], ['Up-to-date', 'integer'], ['Available', 'integer'], ['Age', 'string'], ['Containers', 'string', 1], ['Images', 'string', 1], ['Selector', 'string', 1]],
    cells: (o, age) => {
      const s = rec(o.status);
      return [`${num(s['readyReplicas'])}/${num(rec(o.spec)['replicas'])}`, num(s['updatedReplicas']), num(s['availableReplicas']), age, ...containersAndImages(o), selectorText(o)];
    },
  },
  'apps/ReplicaSet': {
    columns: [['Desired', 'integer'], ['Current', 'integer'], ['Ready', 'integer'], ['Age', 'string'], ['Containers', 'string', 1], ['Images', 'string', 1], ['Selector', 'string', 1]],
    cells: (o, age) => {
      const s = rec(o.status);
      return [num(rec(o.spec)['replicas']), num(s['replicas']), num(s['readyReplicas']), age, ...containersAndImages(o), selectorText(o)];
    },
  },
  'apps/ControllerRevision': {
    columns: [['Controller', 'string'], ['Revision', 'integer'], ['Age', 'string']],
    cells: (o, age) => {
      const owner = (o.metadata.ownerReferences ?? []).find((r) => r.controller);
      return [owner ? `${owner.kind.toLowerCase()}.${owner.apiVersion.split('/')[0] ?? ''}/${owner.name}` : '<none>', num(o['revision']), age];
    },
  },
  '/Namespace': { columns: [['Status', 'string'], ['Age', 'string']], cells: (o, age) => [str(rec(o.status)['phase'], 'Active'), age] },
  '/Service': {
    columns: [['Type', 'string'], ['Cluster-IP', 'string'], ['External-IP', 'string'], ['Port(s)', 'string'], ['Age', 'string'], ['Selector', 'string', 1]],
    cells: (o, age) => {
      const spec = rec(o.spec);
      const ports = arr(spec['ports']).map(rec).map((p) => `${num(p['port'])}/${str(p['protocol'], 'TCP')}`).join(',');
      const selector = Object.entries(rec(spec['selector'])).map(([k, v]) => `${k}=${String(v)}`).join(',');
      return [str(spec['type'], 'ClusterIP'), str(spec['clusterIP']), '<none>', ports === '' ? '<none>' : ports, age, selector === '' ? '<none>' : selector];
    },
  },
  '/ConfigMap': { columns: [['Data', 'integer'], ['Age', 'string']], cells: (o, age) => [Object.keys(rec(o['data'])).length + Object.keys(rec(o['binaryData'])).length, age] },
  '/Secret': { columns: [['Type', 'string'], ['Data', 'integer'], ['Age', 'string']], cells: (o, age) => [str(o['type'], 'Opaque'), Object.keys(rec(o['data'])).length, age] },
  '/Node': {
    columns: [['Status', 'string'], ['Roles', 'string'], ['Age', 'string'], ['Version', 'string']],
    cells: (o, age) => {
      const ready = arr(rec(o.status)['conditions']).map(rec).find((c) => c['type'] === 'Ready');
      return [ready?.['status'] === 'True' ? 'Ready' : 'NotReady', '<none>', age, str(rec(rec(o.status)['nodeInfo'])['kubeletVersion'], '')];
    },
  },
  '/Event': {
    columns: [['Last Seen', 'string'], ['Type', 'string'], ['Reason', 'string'], ['Object', 'string'], ['Message', 'string']],
    cells: (o, age) => {
      const io = rec(o['involvedObject']);
      return [age, str(o['type'], ''), str(o['reason'], ''), `${str(io['kind'], '').toLowerCase()}/${str(io['name'], '')}`, str(o['message'], '')];
    },
  },
  'coordination.k8s.io/Lease': { columns: [['Holder', 'string'], ['Age', 'string']], cells: (o, age) => [str(rec(o.spec)['holderIdentity'], ''), age] },
  'apiextensions.k8s.io/CustomResourceDefinition': { columns: [['Created At', 'date']], cells: (o) => [o.metadata.creationTimestamp ?? ''] },
};

function cellFor(column: PrinterColumn, o: KubeObject, now: number): unknown {
  let values: unknown[];
  try {
    values = evaluateJsonPath(o, column.jsonPath);
  } catch {
    return null;
  }
  if (values.length === 0) return null;
  const value = values[0];
  if (column.type === 'date' && typeof value === 'string') return humanDuration(now - Date.parse(value));
  if (values.length > 1) return values.map((v) => (typeof v === 'string' ? v : JSON.stringify(v))).join(',');
  return typeof value === 'object' ? JSON.stringify(value) : value;
}

function partialMetadata(o: KubeObject): object {
  return { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: o.metadata };
}

/**
 * Converts objects to a Table. `includeObject` is `None`, `Metadata`
 * (kubectl's default) or `Object`, as the query parameter says.
 */
export function toTable(t: ResourceType, objects: readonly KubeObject[], now: number, includeObject: string, metadata: Table['metadata']): Table {
  const nameColumn: TableColumn = { name: 'Name', type: 'string', format: 'name', description: 'Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated.', priority: 0 };
  const embed = (o: KubeObject): unknown => (includeObject === 'None' ? null : includeObject === 'Object' ? o : partialMetadata(o));
  const age = (o: KubeObject): string => humanDuration(now - Date.parse(o.metadata.creationTimestamp ?? new Date(now).toISOString()));
  const printer = t.builtin ? printers[`${t.group}/${t.kind}`] : undefined;
  if (printer) {
    return {
      kind: 'Table',
      apiVersion: 'meta.k8s.io/v1',
      metadata,
      columnDefinitions: [nameColumn, ...printer.columns.map(([name, type, priority]) => ({ name, type, format: '', description: name, priority: priority ?? 0 }))],
      rows: objects.map((o) => ({ cells: [o.metadata.name ?? '', ...printer.cells(o, age(o))], object: embed(o) })),
    };
  }
  const columns = t.builtin || t.printerColumns.length === 0 ? [{ name: 'Age', type: 'date' as const, jsonPath: '.metadata.creationTimestamp' }] : t.printerColumns;
  return {
    kind: 'Table',
    apiVersion: 'meta.k8s.io/v1',
    metadata,
    columnDefinitions: [nameColumn, ...columns.map((c) => ({ name: c.name, type: c.type, format: c.format ?? '', description: c.description ?? '', priority: c.priority ?? 0 }))],
    rows: objects.map((o) => ({ cells: [o.metadata.name ?? '', ...columns.map((c) => cellFor(c, o, now))], object: embed(o) })),
  };
}
