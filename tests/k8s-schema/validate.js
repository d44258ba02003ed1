#!/usr/bin/env node
// Validates every Kubernetes object in the YAML streams given as arguments (rendered kustomize
// output) against the offline JSON schemas of kubernetes-models (core API) and
// @kubernetes-models/prometheus-operator (ServiceMonitor, PrometheusRule). Prints one line per
// object; exits 1 when any object is invalid or of a kind no schema here covers (an object that
// cannot be checked is not taken as valid), 2 on a usage or YAML error.
"use strict";
const fs = require("fs");
const path = require("path");
const YAML = require("yaml");

// apiVersion "apps/v1" -> "apps/v1", "v1" -> "v1" (the core group's folder in kubernetes-models).
function modelFor(apiVersion, kind) {
  if (typeof apiVersion !== "string" || typeof kind !== "string" || !/^[A-Za-z]+$/.test(kind)) {
    return null;
  }
  const candidates = apiVersion.startsWith("monitoring.coreos.com/")
    ? [`@kubernetes-models/prometheus-operator/${apiVersion}/${kind}`]
    : [`kubernetes-models/${apiVersion}/${kind}`];
  for (const id of candidates) {
    try {
      const exported = require(id);
      if (exported[kind]) return exported[kind];
    } catch (error) {
      if (error.code !== "MODULE_NOT_FOUND") throw error;
    }
  }
  return null;
}

// The schemas are compiled validators that read each property they know and ignore the rest,
// while the API server refuses unknown fields (kubectl's strict field validation). So every
// object is validated through proxies that record which properties the validator read: a
// property never read is a field no schema knows (a typo such as readOnlyRootFilesytem).
function watched(value, pointer, unread) {
  if (value === null || typeof value !== "object") return value;
  const seen = new Set();
  const keys = Object.keys(value);
  unread.push(() => keys.filter((key) => !seen.has(key)).map((key) => `${pointer}/${key}`));
  const children = new Map();
  return new Proxy(value, {
    get(target, key, receiver) {
      if (typeof key !== "string" || !Object.prototype.hasOwnProperty.call(target, key)) {
        return Reflect.get(target, key, receiver);
      }
      seen.add(key);
      if (!children.has(key)) children.set(key, watched(target[key], `${pointer}/${key}`, unread));
      return children.get(key);
    },
  });
}

function unknownFields(Model, object) {
  const unread = [];
  // The model deep-copies what it is given, reading every key: the validator runs on a watched
  // model instead.
  Model.prototype.validate.call(watched(new Model(object), "", unread));
  return unread.flatMap((list) => list());
}

function describe(error) {
  if (Array.isArray(error.errors)) {
    return error.errors
      .map((e) => `${e.instancePath || "/"} ${e.message}${e.params ? " " + JSON.stringify(e.params) : ""}`)
      .join("; ");
  }
  return error.message;
}

const files = process.argv.slice(2);
if (files.length === 0) {
  console.error("usage: validate.js FILE.yaml...");
  process.exit(2);
}
let invalid = 0;
let checked = 0;
for (const file of files) {
  let documents;
  try {
    documents = YAML.parseAllDocuments(fs.readFileSync(file, "utf8"));
  } catch (error) {
    console.error(`${file}: ${error.message}`);
    process.exit(2);
  }
  for (const document of documents) {
    if (document.errors.length > 0) {
      console.error(`${file}: invalid YAML: ${document.errors[0].message}`);
      process.exit(2);
    }
    const object = document.toJSON();
    if (object === null) continue;  // an empty document between separators
    // kustomize wraps a Secret's base64 at 70 columns; the API server's base64 decoder skips
    // line breaks, the schema's pattern does not: read the value as the server does.
    if (object.kind === "Secret" && object.data && typeof object.data === "object") {
      for (const key of Object.keys(object.data)) {
        if (typeof object.data[key] === "string") object.data[key] = object.data[key].replace(/[\r\n]/g, "");
      }
    }
    const name = `${path.basename(file)}: ${object.kind}/${object.metadata && object.metadata.name}`;
    const Model = modelFor(object.apiVersion, object.kind);
    if (Model === null) {
      console.log(`INVALID ${name}: no schema for apiVersion ${object.apiVersion} kind ${object.kind}`);
      ++invalid;
      continue;
    }
    ++checked;
    try {
      new Model(object).validate();
      const unknown = unknownFields(Model, object);
      if (unknown.length > 0) throw new Error(`unknown fields: ${unknown.join(", ")}`);
      console.log(`ok ${name}`);
    } catch (error) {
      console.log(`INVALID ${name}: ${describe(error)}`);
      ++invalid;
    }
  }
}
console.log(`${checked} objects checked, ${invalid} invalid`);
process.exit(invalid === 0 && checked > 0 ? 0 : 1);
