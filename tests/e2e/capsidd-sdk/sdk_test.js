// capsidd driven by Microsoft's own SDK for ACI, @azure/arm-containerinstance,
// with a TokenCredential that returns the test's token. Node trusts the
// test's CA through NODE_EXTRA_CA_CERTS. Environment: CD_URL, CD_HOST,
// CD_PORT, TOKEN_A, TOKEN_B, SUB_A, SUB_B, CASE_LOG (optional).
"use strict";
const assert = require("node:assert/strict");
const tls = require("node:tls");
const https = require("node:https");
const { ContainerInstanceManagementClient } = require("@azure/arm-containerinstance");
const WebSocket = require("ws");

const env = process.env;
const RG = "rg-sdk";

class TestToken {
  constructor(token) {
    this.token = token;
  }
  async getToken() {
    return { token: this.token, expiresOnTimestamp: Date.now() + 3600 * 1000 };
  }
}

function client(token, sub) {
  return new ContainerInstanceManagementClient(new TestToken(token), sub, {
    endpoint: env.CD_URL,
    retryOptions: { maxRetries: 2 },
  });
}

const step = (what) => console.log(`--- case: ${what}`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function status(promise) {
  try {
    await promise;
    return 200;
  } catch (e) {
    if (e.statusCode === undefined) throw e;
    return e.statusCode;
  }
}

async function waitState(c, name, state) {
  for (let i = 0; i < 600; i++) {
    const g = await c.containerGroups.get(RG, name);
    if (g.instanceView && g.instanceView.state === state) return g;
    await sleep(500);
  }
  throw new Error(`${name} never became ${state}`);
}

function group(image, command) {
  return {
    location: "westeurope",
    tags: { owner: "sdk" },
    osType: "Linux",
    restartPolicy: "Always",
    containers: [
      {
        name: "app",
        image,
        command: ["/bin/sh", "-c", command],
        resources: { requests: { cpu: 1, memoryInGB: 0.5 } },
      },
    ],
  };
}

// A raw request with the token, for what the SDK never sends.
function raw(method, path, { token = env.TOKEN_A, body } = {}) {
  return new Promise((resolve, reject) => {
    const req = https.request(
      `${env.CD_URL}${path}`,
      { method, headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" } },
      (res) => {
        let data = "";
        res.on("data", (d) => (data += d));
        res.on("end", () => resolve({ status: res.statusCode, body: data ? JSON.parse(data) : null }));
      },
    );
    req.on("error", reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

function execOverWebSocket(uri, password, input) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(uri);
    let out = "";
    ws.on("open", () => {
      ws.send(password);
      ws.send("\x1b[8;33;77t");
      ws.send(input);
    });
    ws.on("message", (data) => (out += data.toString()));
    ws.on("close", (code, reason) => resolve({ out, code, reason: reason.toString() }));
    ws.on("error", reject);
  });
}

// A client that sends its headers a byte a second; resolves with what the
// server said when it closed the connection.
function slowLoris() {
  return new Promise((resolve) => {
    const sock = tls.connect({ host: env.CD_HOST, port: Number(env.CD_PORT), servername: "localhost" });
    const text = "GET /subscriptions/x/providers/Microsoft.ContainerInstance/containerGroups HTTP/1.1\r\n";
    let i = 0,
      got = "";
    const timer = setInterval(() => sock.write(text[i++ % text.length]), 1000);
    sock.on("data", (d) => (got += d.toString()));
    sock.on("close", () => {
      clearInterval(timer);
      resolve(got.split("\r\n")[0]);
    });
    sock.on("error", () => {});
  });
}

async function main() {
  const a = client(env.TOKEN_A, env.SUB_A);

  step("create with the SDK's poller (beginCreateOrUpdate, pollUntilDone)");
  const initial = [];
  const poller = await a.containerGroups.beginCreateOrUpdate(
    RG,
    "sdk",
    group("capsid/demo:latest", "echo hello-from-sdk; exec sleep 3600"),
    { updateIntervalInMs: 500, onResponse: (raw) => initial.push(raw) },
  );
  // ARM's contract, not only what the poller copes with: 201, Creating or
  // already Succeeded, and an Azure-AsyncOperation URL to poll.
  assert.equal(initial[0].status, 201);
  assert.match(initial[0].headers.get("azure-asyncoperation") || "", /\/locations\/[^/]+\/operations\/[0-9a-f]{32}\?/);
  const firstBody = initial[0].parsedBody || JSON.parse(initial[0].bodyAsText);
  // (parsedBody is the SDK's model: properties flattened)
  assert.match((firstBody.properties || firstBody).provisioningState, /^(Creating|Succeeded)$/);
  const created = await poller.pollUntilDone();
  assert.equal(created.provisioningState, "Succeeded");
  assert.equal(created.name, "sdk");
  assert.equal(created.type, "Microsoft.ContainerInstance/containerGroups");
  assert.equal(created.location, "westeurope");
  assert.equal(created.tags.owner, "sdk");

  step("get until Running");
  const running = await waitState(a, "sdk", "Running");
  assert.equal(running.id, `/subscriptions/${env.SUB_A}/resourceGroups/${RG}/providers/Microsoft.ContainerInstance/containerGroups/sdk`);
  assert.equal(running.containers[0].name, "app");

  step("a create that fails: the poller reports Failed");
  await assert.rejects(
    a.containerGroups.beginCreateOrUpdateAndWait(RG, "broken", group("127.0.0.1:1/absent:1", "true"), {
      updateIntervalInMs: 500,
    }),
  );
  assert.equal((await a.containerGroups.get(RG, "broken")).provisioningState, "Failed");

  step("list per resource group and per subscription, over nextLink pages");
  const names = [];
  for await (const g of a.containerGroups.listByResourceGroup(RG)) names.push(g.name);
  assert.deepEqual(names.sort(), ["broken", "sdk"]);
  const all = [];
  for await (const g of a.containerGroups.list()) all.push(g.name);
  assert.deepEqual(all.sort(), ["broken", "sdk"]);
  await a.containerGroups.beginDeleteAndWait(RG, "broken", { updateIntervalInMs: 500 });

  step("tags (update)");
  const tagged = await a.containerGroups.update(RG, "sdk", { tags: { owner: "patched" } });
  assert.equal(tagged.tags.owner, "patched");

  step("logs");
  let logs = "";
  for (let i = 0; i < 120 && !logs.includes("hello-from-sdk"); i++) {
    logs = (await a.containers.listLogs(RG, "sdk", "app", { tail: 10 })).content || "";
    if (!logs.includes("hello-from-sdk")) await sleep(500);
  }
  assert.match(logs, /hello-from-sdk/);
  const stamped = await a.containers.listLogs(RG, "sdk", "app", { tail: 1, timestamps: true });
  assert.match(stamped.content, /^\d{4}-\d\d-\d\dT\S+Z hello-from-sdk/);

  step("exec: executeCommand, then the command over the websocket with a terminal");
  const session = await a.containers.executeCommand(RG, "sdk", "app", {
    command: "/bin/sh",
    terminalSize: { rows: 24, cols: 80 },
  });
  assert.match(session.webSocketUri, /^wss:\/\//);
  const ex = await execOverWebSocket(session.webSocketUri, session.password, "stty size; echo sdk-$((6*7)); exit\n");
  assert.match(ex.out, /sdk-42/);
  assert.match(ex.out, /33 77/);
  assert.equal(ex.code, 1000);

  step("usages and capabilities");
  const usages = [];
  for await (const u of a.location.listUsage("westeurope")) usages.push(u);
  assert.equal(usages.find((u) => u.name.value === "ContainerGroups").currentValue, 1);
  const caps = [];
  for await (const cap of a.location.listCapabilities("westeurope")) caps.push(cap);
  assert.equal(caps[0].osType, "Linux");

  step("a second tenant: 404 on the first's group, lists nothing, cannot list the first's subscription");
  const b = client(env.TOKEN_B, env.SUB_B);
  const bOnA = client(env.TOKEN_B, env.SUB_A);
  assert.equal(await status(b.containerGroups.get(RG, "sdk")), 404);
  assert.equal(await status(bOnA.containerGroups.get(RG, "sdk")), 404);
  assert.equal(await status(b.containers.listLogs(RG, "sdk", "app")), 404);
  assert.equal(await status(b.containerGroups.stop(RG, "sdk")), 404);
  const bList = [];
  for await (const g of b.containerGroups.list()) bList.push(g.name);
  assert.deepEqual(bList, []);
  assert.equal(await status((async () => {
    for await (const g of bOnA.containerGroups.list()) void g;
  })()), 404);

  step("a wrong token: 401");
  const wrong = client("not-the-token-0123456789", env.SUB_A);
  assert.equal(await status(wrong.containerGroups.get(RG, "sdk")), 401);

  step("malformed JSON, an oversized body, an unknown api-version, bad names");
  const path = `/subscriptions/${env.SUB_A}/resourceGroups/${RG}/providers/Microsoft.ContainerInstance/containerGroups`;
  let r = await raw("PUT", `${path}/bad?api-version=2023-05-01`, { body: '{"properties": [' });
  assert.equal(r.status, 400);
  assert.equal(r.body.error.code, "InvalidRequestContent");
  r = await raw("PUT", `${path}/big?api-version=2023-05-01`, { body: " ".repeat(70000) });
  assert.equal(r.status, 413);
  r = await raw("GET", `${path}/sdk?api-version=2018-01-01`);
  assert.equal(r.status, 400);
  assert.equal(r.body.error.code, "NoRegisteredProviderFound");
  assert.equal(await status(a.containerGroups.get(RG, "Not_Valid")), 400);
  assert.equal(await status(a.containerGroups.get("bad rg.", "sdk")), 400);

  step("a slow-loris client is cut at its deadline while the SDK is served");
  const loris = slowLoris();
  await sleep(1000);
  assert.equal((await a.containerGroups.get(RG, "sdk")).name, "sdk");
  assert.match(await loris, /408/);

  step("stop, start (beginStartAndWait), restart (beginRestartAndWait)");
  await a.containerGroups.stop(RG, "sdk");
  assert.equal((await a.containerGroups.get(RG, "sdk")).instanceView.state, "Stopped");
  await a.containerGroups.beginStartAndWait(RG, "sdk", { updateIntervalInMs: 500 });
  await waitState(a, "sdk", "Running");
  await a.containerGroups.beginRestartAndWait(RG, "sdk", { updateIntervalInMs: 500 });
  await waitState(a, "sdk", "Running");

  step("delete (beginDeleteAndWait: 202 with Location), then 404");
  const deleted = [];
  await a.containerGroups.beginDeleteAndWait(RG, "sdk", {
    updateIntervalInMs: 500,
    onResponse: (raw) => deleted.push(raw),
  });
  assert.equal(deleted[0].status, 202);
  assert.match(deleted[0].headers.get("location") || "", /\/operationResults\/[0-9a-f]{32}\?/);
  assert.equal(await status(a.containerGroups.get(RG, "sdk")), 404);
  console.log("SDK PASS");
}

main().catch((e) => {
  console.error("FAIL:", e && e.stack ? e.stack : e);
  process.exit(1);
});
