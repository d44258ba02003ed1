#!/usr/bin/env node
// What deploy/kubernetes/README.md promises, checked on the rendered overlays:
//   check-rendered.js SIDECAR.yaml CLUSTER.yaml CLUSTER-WEB-CONFIG.yaml
// Exits 1 naming every broken promise.
"use strict";
const fs = require("fs");
const YAML = require("yaml");

const problems = [];
function expect(condition, what) {
  if (!condition) problems.push(what);
}
function load(file) {
  return YAML.parseAllDocuments(fs.readFileSync(file, "utf8")).map((d) => d.toJSON()).filter(Boolean);
}
function find(objects, kind, name) {
  const found = objects.find((o) => o.kind === kind && (name === undefined || o.metadata.name === name));
  expect(found !== undefined, `no ${kind} ${name || ""}`);
  return found || {};
}
const dig = (value, ...keys) => keys.reduce((v, k) => (v == null ? undefined : v[k]), value);

// The container's hardening and probes, as the README lists them.
function checkContainer(where, pod, container) {
  const security = Object.assign({}, pod.securityContext, container.securityContext);
  expect(security.runAsNonRoot === true, `${where}: runAsNonRoot`);
  expect(Number.isInteger(security.runAsUser) && security.runAsUser !== 0, `${where}: a non-root runAsUser`);
  expect(container.securityContext && container.securityContext.readOnlyRootFilesystem === true, `${where}: readOnlyRootFilesystem`);
  expect(container.securityContext && container.securityContext.allowPrivilegeEscalation === false, `${where}: allowPrivilegeEscalation false`);
  expect(JSON.stringify(dig(container, "securityContext", "capabilities", "drop")) === '["ALL"]', `${where}: capabilities drop ALL`);
  expect(dig(security, "seccompProfile", "type") === "RuntimeDefault", `${where}: seccomp RuntimeDefault`);
  for (const kind of ["requests", "limits"]) {
    expect(dig(container, "resources", kind, "cpu") && dig(container, "resources", kind, "memory"), `${where}: cpu and memory ${kind}`);
  }
  const port = (container.ports || []).find((p) => p.name === "certwatch");
  expect(port && port.containerPort === 9712, `${where}: a port named certwatch on 9712`);
  return port;
}
function checkHttpProbes(where, container) {
  expect(dig(container, "livenessProbe", "httpGet", "path") === "/-/healthy", `${where}: liveness /-/healthy`);
  expect(dig(container, "readinessProbe", "httpGet", "path") === "/-/ready", `${where}: readiness /-/ready`);
  expect(dig(container, "livenessProbe", "httpGet", "port") === "certwatch", `${where}: probes use the named port`);
}
// The config the container is given, from the generated ConfigMap its volume names.
function configOf(objects, pod, container) {
  const mount = (container.volumeMounts || []).find((m) => m.mountPath === "/etc/crdb-certwatch");
  const volume = mount && (pod.volumes || []).find((v) => v.name === mount.name);
  const name = dig(volume, "configMap", "name");
  expect(name, `${container.name}: config volume from a ConfigMap`);
  const map = find(objects, "ConfigMap", name);
  expect(dig(map, "data", "config.yaml"), `ConfigMap ${name}: config.yaml`);
  return YAML.parse(dig(map, "data", "config.yaml") || "{}") || {};
}

const [sidecarFile, clusterFile, webFile] = process.argv.slice(2);

// (a) The sidecar in the CockroachDB StatefulSet.
{
  const objects = load(sidecarFile);
  const set = find(objects, "StatefulSet", "cockroachdb");
  const pod = dig(set, "spec", "template", "spec") || {};
  const containers = pod.containers || [];
  const db = containers.find((c) => c.name === "db") || {};
  const sidecar = containers.find((c) => c.name === "crdb-certwatch") || {};
  expect(containers.length === 2, "the StatefulSet has the database and the sidecar");
  const dbCerts = (db.volumeMounts || []).find((m) => m.name === "certs");
  expect(dbCerts, "the database still mounts its certs volume");
  checkContainer("sidecar", pod, sidecar);
  checkHttpProbes("sidecar", sidecar);
  const certs = (sidecar.volumeMounts || []).find((m) => m.name === "certs");
  expect(certs && certs.readOnly === true, "the sidecar mounts the same certs volume read-only");
  const config = configOf(objects, pod, sidecar);
  expect(certs && (dig(config, "files", "certs_dirs") || []).includes(certs.mountPath), "the sidecar's config watches the certs mount");
  const sqlPort = (db.ports || []).find((p) => p.containerPort === 26257);
  const target = (dig(config, "probe", "targets") || [])[0] || {};
  expect(sqlPort && target.address === `127.0.0.1:${sqlPort.containerPort}` && target.protocol === "postgres", "the sidecar probes its own pod's SQL port");
  const service = find(objects, "Service", "crdb-certwatch-sidecar");
  expect(JSON.stringify(dig(service, "spec", "selector")) === JSON.stringify(dig(set, "spec", "selector", "matchLabels")), "the sidecar Service selects the CockroachDB pods");
  const monitor = find(objects, "ServiceMonitor", "crdb-certwatch-sidecar");
  expect(dig(monitor, "spec", "endpoints", 0, "port") === "certwatch", "the sidecar ServiceMonitor scrapes the named port");
  expect(clusterLabel(monitor), "the sidecar ServiceMonitor sets the cluster target label");
}

// (b) The Deployment for the cluster (and CMEK) sources, plain and with the web config.
for (const [file, web] of [[clusterFile, false], [webFile, true]]) {
  const objects = load(file);
  const where = web ? "cluster-web-config" : "cluster";
  const deployment = find(objects, "Deployment", "crdb-certwatch");
  expect(dig(deployment, "spec", "replicas") === 2, `${where}: two replicas`);
  const pod = dig(deployment, "spec", "template", "spec") || {};
  const container = (pod.containers || [])[0] || {};
  checkContainer(where, pod, container);
  if (!web) checkHttpProbes(where, container);
  const config = configOf(objects, pod, container);
  expect(dig(config, "cluster", "dsn"), `${where}: the cluster source is configured`);
  const secretDir = dig(config, "files", "tls_secrets", 0, "path");
  const mount = (container.volumeMounts || []).find((m) => m.mountPath === secretDir);
  const volume = mount && (pod.volumes || []).find((v) => v.name === mount.name);
  expect(dig(volume, "secret", "secretName") === "crdb-certwatch-client", `${where}: the client certificate from its Secret, at the tls_secrets path`);
  find(objects, "Service", "crdb-certwatch");
  const monitor = find(objects, "ServiceMonitor", "crdb-certwatch");
  expect(clusterLabel(monitor), `${where}: the ServiceMonitor sets the cluster target label`);
  if (web) {
    const flag = (container.args || []).find((a) => a.startsWith("--web.config.file="));
    const webMount = flag && (container.volumeMounts || []).find((m) => flag.slice(17).startsWith(m.mountPath + "/"));
    const webVolume = webMount && (pod.volumes || []).find((v) => v.name === webMount.name);
    const secret = find(objects, "Secret", dig(webVolume, "secret", "secretName"));
    expect(dig(secret, "data", "web-config.yml"), "cluster-web-config: the web config Secret holds web-config.yml");
    expect(dig(monitor, "spec", "endpoints", 0, "scheme") === "https", "cluster-web-config: scraped over https");
    expect(dig(container, "livenessProbe", "tcpSocket") && !dig(container, "livenessProbe", "httpGet"), "cluster-web-config: liveness is a TCP connect");
  }
}

// The `cluster` target label (docs/scale.md) on every endpoint: fleet views group by it.
function clusterLabel(monitor) {
  const endpoints = dig(monitor, "spec", "endpoints") || [];
  return endpoints.length > 0 && endpoints.every((e) =>
    (e.relabelings || []).some((r) => r.targetLabel === "cluster" && r.replacement));
}

for (const problem of problems) console.log(`broken promise: ${problem}`);
console.log(`${problems.length} broken promises`);
process.exit(problems.length === 0 ? 0 : 1);
