#!/usr/bin/env node
// Reads runhub through the official binding @testmo/testmo-api 2.4.0 and checks every
// answer against the binding's own models.
//
//   node binding_check.js BASE_URL TOKEN PROJECT_ID
//   (or RUNHUB_BASE_URL, RUNHUB_TOKEN, RUNHUB_PROJECT_ID in the environment)
//   node binding_check.js --check MODEL < response.json   (checks one saved answer)
//
// TLS trust comes from NODE_EXTRA_CA_CERTS. Each call prints "OK <name>" or
// "FAIL <name>: <error>"; the exit code is 1 when any call failed.
//
// Checks, per response:
// 1. the binding's call resolves and deserializes into its declared return model;
// 2. `<Model>.validateJSON(raw)` for the return model and for every nested model it
//    holds (threads, artifacts, fields, links, expands items, ...), innermost first;
// 3. the shape the binding declares: every property its model lists (read from the
//    generated constructFromObject) is present, with the declared JSON type (null is
//    allowed for scalars, never for arrays or nested objects), and every Date the
//    binding's own parseDate reads is valid. Exceptions: expands objects carry only the
//    requested keys, and run list items omit artifacts/fields/links/threads (decisions.md).
'use strict';

const T = require('@testmo/testmo-api');

const RUN_EXPANDS = 'automation_sources,configs,milestones,statuses,users';
const MILESTONE_EXPANDS = 'issues,milestone_stats,milestone_types,milestones,statuses,users';
// Properties a list item may leave out: `<Model of the list>.<property of the list>`.
const LIST_OMITS = {
  'AutomationRunPage.result': new Set(['artifacts', 'fields', 'links', 'threads']),
};

// The property types the generated model declares, parsed from its constructFromObject.
const declaredCache = new Map();
function declared(name) {
  if (declaredCache.has(name)) return declaredCache.get(name);
  const Model = T[name];
  if (!Model) throw new Error(`the binding has no model ${name}`);
  const src = Model.constructFromObject.toString();
  const props = {};
  const re = /obj\['(\w+)'\] = (?:_ApiClient\["default"\]\.convertToType\(data\['\w+'\], ([\s\S]+?)\)|_(\w+)\["default"\]\.constructFromObject\(data\['\w+'\]\));/g;
  for (const m of src.matchAll(re)) {
    let mm;
    if (m[3]) props[m[1]] = { model: m[3] };
    else if ((mm = m[2].match(/^'(\w+)'$/))) props[m[1]] = { prim: mm[1] };
    else if ((mm = m[2].match(/^\['(\w+)'\]$/))) props[m[1]] = { array: true, prim: mm[1] };
    else if ((mm = m[2].match(/^\[_(\w+)\["default"\]\]$/))) props[m[1]] = { array: true, model: mm[1] };
    else if ((mm = m[2].match(/^\{\s*'String': '(\w+)'\s*\}$/))) props[m[1]] = { map: mm[1] };
    else throw new Error(`cannot read the type of ${name}.${m[1]}: ${m[2]}`);
  }
  const missing = Object.keys(Model.prototype).filter((k) => !(k in props));
  if (missing.length) throw new Error(`could not read ${name} properties ${missing}`);
  declaredCache.set(name, props);
  return props;
}

function checkScalar(prim, value, where) {
  const kinds = { Number: 'number', String: 'string', Boolean: 'boolean', Date: 'string' };
  if (!(prim in kinds)) throw new Error(`${where}: unexpected declared type ${prim}`);
  if (typeof value !== kinds[prim] || (prim === 'Number' && !Number.isFinite(value))) {
    throw new Error(`${where}: expected ${prim}, got ${JSON.stringify(value)}`);
  }
  if (prim === 'Date' && Number.isNaN(T.ApiClient.parseDate(value).getTime())) {
    throw new Error(`${where}: the binding cannot parse the date ${JSON.stringify(value)}`);
  }
}

// Validate `value` as model `name`, nested models first so that an error names the
// innermost object; `omit` = properties it may leave out.
function check(name, value, where, omit = new Set()) {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new Error(`${where}: expected a ${name} object, got ${JSON.stringify(value)}`);
  }
  const partial = name.endsWith('Expands');
  const present = Object.entries(declared(name)).filter(([prop]) => {
    if (prop in value) return true;
    if (partial || omit.has(prop)) return false;
    throw new Error(`${where}.${prop}: missing (${name} declares it)`);
  });
  for (const [prop, type] of present.filter(([, t]) => t.model)) {
    const at = `${where}.${prop}`;
    const v = value[prop];
    if (!type.array) check(type.model, v, at);
    else if (!Array.isArray(v)) throw new Error(`${at}: expected an array, got ${JSON.stringify(v)}`);
    else v.forEach((item, i) => check(type.model, item, `${at}[${i}]`, LIST_OMITS[`${name}.${prop}`]));
  }
  try {
    T[name].validateJSON(value);
  } catch (err) {
    throw new Error(`${where}: ${name}.validateJSON: ${err.message}`);
  }
  for (const [prop, type] of present.filter(([, t]) => !t.model)) {
    const at = `${where}.${prop}`;
    const v = value[prop];
    if (type.array) {
      if (!Array.isArray(v)) throw new Error(`${at}: expected an array, got ${JSON.stringify(v)}`);
      v.forEach((item, i) => {
        if (item === null) throw new Error(`${at}[${i}]: null in an array of ${type.prim}`);
        checkScalar(type.prim, item, `${at}[${i}]`);
      });
    } else if (type.map && v !== null) {
      if (typeof v !== 'object' || Array.isArray(v)) {
        throw new Error(`${at}: expected an object of ${type.map}, got ${JSON.stringify(v)}`);
      }
      for (const [k, item] of Object.entries(v)) checkScalar(type.map, item, `${at}.${k}`);
    } else if (v !== null && !type.map) {
      checkScalar(type.prim, v, at);
    }
  }
}

function describe(err) {
  if (err instanceof Error) return err.message;
  const status = err && err.status ? `HTTP ${err.status}` : 'request failed';
  const detail = err && err.body ? JSON.stringify(err.body) : String(err && err.error);
  return `${status}: ${detail}`;
}

let failures = 0;

// Run one binding call (a *WithHttpInfo method) and check its raw JSON as `modelName`.
async function call(name, modelName, fn) {
  try {
    const { data, response } = await fn();
    if (response.status !== 200) throw new Error(`HTTP ${response.status}`);
    if (!(data instanceof T[modelName])) throw new Error(`not deserialized as ${modelName}`);
    const raw = response.text ? JSON.parse(response.text) : response.body;
    check(modelName, raw, modelName);
    console.log(`OK ${name}`);
    return raw;
  } catch (err) {
    failures += 1;
    console.log(`FAIL ${name}: ${describe(err)}`);
    return null;
  }
}

async function main(baseUrl, token, projectId) {
  const client = new T.ApiClientEx(); // set up the way the official CLI does it
  client.basePath = baseUrl.replace(/\/+$/, '');
  client.authentications.bearerAuth.accessToken = token;
  const runsApi = new T.AutomationRunsApi(client);
  const sourcesApi = new T.AutomationSourcesApi(client);
  const projectsApi = new T.ProjectsApi(client);
  const milestonesApi = new T.MilestonesApi(client);
  const userApi = new T.UserApi(client);

  const runPage = await call('getAutomationRunPage', 'AutomationRunPage', () =>
    runsApi.getAutomationRunPageWithHttpInfo(projectId, {
      expands: RUN_EXPANDS, perPage: 100, order: 'desc', createdAfter: new Date(0),
    }));
  await call('getAutomationRunPage(page=2)', 'AutomationRunPage', () =>
    runsApi.getAutomationRunPageWithHttpInfo(projectId, { page: 2, perPage: 15 }));
  for (const run of (runPage && runPage.result) || []) {
    await call(`getAutomationRun(${run.id})`, 'AutomationRunRow', () =>
      runsApi.getAutomationRunWithHttpInfo(run.id, { expands: RUN_EXPANDS }));
  }

  const sourcePage = await call('getAutomationSourcePage', 'AutomationSourcePage', () =>
    sourcesApi.getAutomationSourcePageWithHttpInfo(projectId, { expands: 'users' }));
  for (const source of (sourcePage && sourcePage.result) || []) {
    await call(`getAutomationSource(${source.id})`, 'AutomationSourceRow', () =>
      sourcesApi.getAutomationSourceWithHttpInfo(source.id, { expands: 'users' }));
  }

  await call('getProjectPage', 'ProjectPage', () =>
    projectsApi.getProjectPageWithHttpInfo({ expands: 'users' }));
  await call(`getProject(${projectId})`, 'ProjectRow', () =>
    projectsApi.getProjectWithHttpInfo(projectId, { expands: 'users' }));

  const milestonePage = await call('getMilestonePage', 'MilestonePage', () =>
    milestonesApi.getMilestonePageWithHttpInfo(projectId, { expands: MILESTONE_EXPANDS }));
  for (const milestone of (milestonePage && milestonePage.result) || []) {
    await call(`getMilestone(${milestone.id})`, 'MilestoneRow', () =>
      milestonesApi.getMilestoneWithHttpInfo(milestone.id, { expands: MILESTONE_EXPANDS }));
  }

  await call('getCurrentUser', 'CurrentUser', () => userApi.getCurrentUserWithHttpInfo());
  return failures ? 1 : 0;
}

function checkStdin(model) {
  const raw = JSON.parse(require('fs').readFileSync(0, 'utf8'));
  try {
    check(model, raw, model);
    console.log(`OK ${model}`);
    return 0;
  } catch (err) {
    console.log(`FAIL ${model}: ${describe(err)}`);
    return 1;
  }
}

if (process.argv[2] === '--check') {
  process.exit(checkStdin(process.argv[3]));
}
const [baseUrl, token, projectId] = [
  process.argv[2] || process.env.RUNHUB_BASE_URL,
  process.argv[3] || process.env.RUNHUB_TOKEN,
  Number(process.argv[4] || process.env.RUNHUB_PROJECT_ID),
];
if (!baseUrl || !token || !projectId) {
  console.error('usage: binding_check.js BASE_URL TOKEN PROJECT_ID | --check MODEL');
  process.exit(2);
}
main(baseUrl, token, projectId).then(
  (code) => process.exit(code),
  (err) => {
    console.log(`FAIL binding_check: ${describe(err)}`);
    process.exit(1);
  },
);
