/** Manifests tests write into repositories: one place for their shape. */

/** A StatefulSet with a readiness probe, as rollgate rolls it out. */
export function statefulSetManifest(options: { readonly name: string; readonly namespace: string; readonly image: string; readonly replicas?: number; readonly container?: string }): string {
  const { name, namespace, image } = options;
  return `apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: ${name}
  namespace: ${namespace}
spec:
  replicas: ${options.replicas ?? 3}
  serviceName: ${name}
  selector:
    matchLabels: {app: ${name}}
  template:
    metadata:
      labels: {app: ${name}}
    spec:
      containers:
        - name: ${options.container ?? name}
          image: ${image}
          readinessProbe:
            httpGet: {path: /, port: 80}
`;
}
