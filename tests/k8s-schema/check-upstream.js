#!/usr/bin/env node
// The sidecar patch applied to an upstream StatefulSet (issue 25), judged on kustomize's output:
//   check-upstream.js FIXTURE.yaml RENDERED.yaml RENEWED_VOLUME LOADED_VOLUME
// The database's containers, init containers and volumes come out exactly as they went in; the
// crdb-certwatch container mounts the projected Secret volume (renewals) and the copy the init
// container makes (what the database loaded), both read-only, and its config volume exists.
// Exits 1 naming every broken promise.
"use strict";
const fs = require("fs");
const YAML = require("yaml");
const [fixtureFile, renderedFile, renewed, loaded] = process.argv.slice(2);
const problems = [];
const expect = (condition, what) => { if (!condition) problems.push(what); };
// YAML 1.1 as Kubernetes reads it: `mode: 0400` is octal (256), as kustomize prints it.
const load = (file) => YAML.parseAllDocuments(fs.readFileSync(file, "utf8"), { version: "1.1" })
  .map((d) => d.toJSON()).filter(Boolean);
// Equal whatever the key order (kustomize prints keys sorted).
const canonical = (v) => Array.isArray(v) ? v.map(canonical)
  : v && typeof v === "object" ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, canonical(v[k])])) : v;
const same = (a, b) => JSON.stringify(canonical(a)) === JSON.stringify(canonical(b));
const byName = (list) => Object.fromEntries((list || []).map((x) => [x.name, x]));

const before = load(fixtureFile).find((o) => o.kind === "StatefulSet");
const after = load(renderedFile).find((o) => o.kind === "StatefulSet");
expect(before && after, "a StatefulSet in and out");
if (before && after) {
  const podBefore = before.spec.template.spec;
  const podAfter = after.spec.template.spec;
  expect(same(podBefore.initContainers, podAfter.initContainers), "the init containers are unchanged");
  const containersAfter = byName(podAfter.containers);
  for (const container of podBefore.containers) {
    expect(same(container, containersAfter[container.name]), `container ${container.name} is unchanged`);
  }
  const volumesAfter = byName(podAfter.volumes);
  for (const volume of podBefore.volumes) {
    expect(same(volume, volumesAfter[volume.name]), `volume ${volume.name} is unchanged`);
  }
  expect(volumesAfter[renewed] && volumesAfter[renewed].projected, `${renewed} is the projected Secret volume`);
  expect(volumesAfter[loaded] && volumesAfter[loaded].emptyDir, `${loaded} is the emptyDir copy`);
  const sidecar = containersAfter["crdb-certwatch"];
  expect(sidecar !== undefined, "the crdb-certwatch container is added");
  if (sidecar) {
    const mounts = byName(sidecar.volumeMounts);
    for (const name of [renewed, loaded, "crdb-certwatch-config"]) {
      expect(mounts[name] && mounts[name].readOnly === true, `the sidecar mounts ${name} read-only`);
    }
    expect(mounts[renewed] && mounts[renewed].mountPath === "/crdb-certwatch/renewed", `${renewed} at /crdb-certwatch/renewed`);
    expect(mounts[loaded] && mounts[loaded].mountPath === "/crdb-certwatch/loaded", `${loaded} at /crdb-certwatch/loaded`);
    const security = Object.assign({}, podAfter.securityContext, sidecar.securityContext);
    expect(security.runAsNonRoot === true && security.runAsUser !== 0, "the sidecar runs as non-root");
    expect(sidecar.securityContext.readOnlyRootFilesystem === true, "the sidecar's root file system is read-only");
  }
  const config = volumesAfter["crdb-certwatch-config"];
  // The ConfigMap the volume names is in the output, with the daemon's config.yaml: a volume that
  // names a ConfigMap kustomize renamed (a hash suffix the reference did not follow, as the
  // kustomize of Debian 12's kubectl leaves it) would keep the pod from starting.
  const configMaps = load(renderedFile).filter((o) => o.kind === "ConfigMap");
  const named = config && config.configMap &&
    configMaps.find((m) => m.metadata && m.metadata.name === config.configMap.name);
  expect(named && named.data && typeof named.data["config.yaml"] === "string",
    "the config volume names the generated ConfigMap, which holds config.yaml");
  expect(Object.keys(volumesAfter).length === podBefore.volumes.length + 1, "one volume added, none lost");
  expect(podAfter.containers.length === podBefore.containers.length + 1, "one container added");
}
if (problems.length > 0) {
  for (const p of problems) console.error(`BROKEN: ${p}`);
  process.exit(1);
}
console.log(`${fixtureFile}: the sidecar patch applies as it is`);
