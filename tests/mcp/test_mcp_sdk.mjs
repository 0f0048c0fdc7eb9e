// test_mcp_sdk: `dawbridge mcp` driven by the official MCP SDK client (@modelcontextprotocol/sdk, pinned in
// package-lock.json) over stdio, against the mock DAW: initialize, tools/list (every inputSchema compiles and
// validates with ajv), create_track + create_midi_clip + add_effect confirmed by the DAW, ask with the scripted
// model (progress notifications), history + undo, the session resource (read, subscribe, updated), a refused
// call, cancelling a long call (a standalone mock DAW that delays every reply), and bad input sent raw.
// Env: DAWBRIDGE, MOCK_DAW (binaries), DAWBRIDGE_SOURCE_DIR. Exit 0 only when every check passed.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { LATEST_PROTOCOL_VERSION, ResourceUpdatedNotificationSchema } from "@modelcontextprotocol/sdk/types.js";
import Ajv from "ajv";
import { spawn } from "node:child_process";
import dgram from "node:dgram";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

const BIN = process.env.DAWBRIDGE;
const MOCK = process.env.MOCK_DAW;
const SRC = process.env.DAWBRIDGE_SOURCE_DIR;
if (!BIN || !MOCK || !SRC) {
  console.error("test_mcp_sdk: DAWBRIDGE, MOCK_DAW and DAWBRIDGE_SOURCE_DIR must be set (ctest sets them)");
  process.exit(1);
}
const TRANSCRIPT = path.join(SRC, "examples/demo-transcript.json");
const LONG_TRANSCRIPT = path.join(SRC, "tests/mcp/long-transcript.json");
const TOOL_LIMIT = 40;
const DESC_LIMIT = 300;

let failures = 0;
const stderrs = []; // every dawbridge child's stderr: a sanitizer report in any of them fails the test
const results = [];
function check(cond, what) {
  if (!cond) {
    failures++;
    console.error(`  FAIL: ${what}`);
  }
  return cond;
}
async function test(name, fn) {
  const before = failures;
  const t0 = Date.now();
  try {
    await fn();
  } catch (e) {
    failures++;
    console.error(`  FAIL: ${name}: ${e && e.stack ? e.stack : e}`);
  }
  const ok = failures === before;
  results.push([name, ok]);
  console.log(`${ok ? "ok  " : "FAIL"} ${name} (${Date.now() - t0} ms)`);
}
const tmp = (p) => fs.mkdtempSync(path.join(os.tmpdir(), p));
// a private runtime directory: no other daemon's control socket is seen, ours is seen by our clients only
process.env.XDG_RUNTIME_DIR = tmp("db-mcp-run-");
const textOf = (r) => (r.content || []).filter((c) => c.type === "text").map((c) => c.text).join("\n");
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function connect(args, env = {}) {
  const transport = new StdioClientTransport({
    command: BIN,
    args,
    env: { ...process.env, ...env },
    stderr: "pipe",
  });
  let stderr = "";
  transport.stderr?.on("data", (d) => (stderr += d));
  stderrs.push(() => stderr);
  const client = new Client({ name: "dawbridge-test", version: "1.0.0" }, { capabilities: {} });
  await client.connect(transport);
  return { client, transport, stderr: () => stderr };
}

// ---------- one server against the embedded mock REAPER (with its companion) ----------
const data = tmp("db-mcp-");
const base = ["--daw", "mock", "--data-dir", data, "--llm", "script", "--transcript", TRANSCRIPT];
let S;

await test("initialize: protocol, server info, capabilities", async () => {
  S = await connect([...base, "mcp"]);
  const info = S.client.getServerVersion();
  check(info && info.name === "dawbridge", `serverInfo.name is dawbridge (${JSON.stringify(info)})`);
  const caps = S.client.getServerCapabilities();
  check(caps && caps.tools, "tools capability");
  check(caps && caps.resources && caps.resources.subscribe === true, "resources.subscribe capability");
  check(typeof S.client.getInstructions() === "string", "instructions");
  // the version the server answered: the SDK asks for its latest, and the server must answer that same one
  let answered = null;
  const r = rawServer([...base, "mcp"]);
  r.send(`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"${LATEST_PROTOCOL_VERSION}","capabilities":{},"clientInfo":{"name":"raw","version":"0"}}}\n`);
  answered = JSON.parse(await r.next()).result?.protocolVersion;
  r.p.stdin.end();
  await r.exit;
  check(answered === LATEST_PROTOCOL_VERSION, `the SDK's latest revision ${LATEST_PROTOCOL_VERSION} is answered as is (${answered})`);
});

let tools = [];
await test("tools/list: every schema compiles and validates, limits hold, annotations from the vocabulary", async () => {
  tools = (await S.client.listTools()).tools;
  const names = tools.map((t) => t.name);
  check(tools.length > 0 && tools.length < TOOL_LIMIT, `${tools.length} tools, fewer than ${TOOL_LIMIT}`);
  for (const n of ["ask", "undo", "history", "create_track", "create_midi_clip", "add_effect", "get_state"])
    check(names.includes(n), `tool ${n} listed`);
  const ajv = new Ajv({ strict: false, allErrors: true });
  for (const t of tools) {
    check(typeof t.description === "string" && t.description.length <= DESC_LIMIT,
      `${t.name}: description of ${t.description?.length} chars <= ${DESC_LIMIT}`);
    check(t.inputSchema && t.inputSchema.type === "object", `${t.name}: inputSchema is an object schema`);
    let v;
    try {
      v = ajv.compile(t.inputSchema);
    } catch (e) {
      check(false, `${t.name}: inputSchema compiles (${e.message})`);
      continue;
    }
    check(!v(42), `${t.name}: a number is not valid arguments`);
    if (t.outputSchema) ajv.compile(t.outputSchema);
    check(t.annotations && typeof t.annotations.readOnlyHint === "boolean", `${t.name}: readOnlyHint`);
  }
  const ct = tools.find((t) => t.name === "create_track");
  const v = ajv.compile(ct.inputSchema);
  check(v({ name: "Kick", type: "midi", instrument: "kick" }), "create_track: valid arguments validate");
  check(!v({ name: "Kick", type: "banjo" }), "create_track: a bad enum does not validate");
  check(tools.find((t) => t.name === "get_state").annotations.readOnlyHint === true, "get_state is read-only");
  check(ct.annotations.readOnlyHint === false && ct.annotations.idempotentHint === false,
    "create_track: not read-only, not idempotent");
  const dt = tools.find((t) => t.name === "delete_track");
  if (dt) check(dt.annotations.destructiveHint === true, "delete_track is destructive");
});

await test("tools/call ask: the scripted model's plan runs, progress per event, an iteration is saved", async () => {
  const progress = [];
  const r = await S.client.callTool(
    { name: "ask", arguments: { text: "Add a kick drum track with a two-note pattern and some reverb" } },
    undefined,
    { onprogress: (p) => progress.push(p), timeout: 120000 },
  );
  const sc = r.structuredContent || {};
  check(!r.isError, `ask not an error: ${textOf(r)}`);
  check(sc.outcome === "confirmed", `ask confirmed: ${sc.outcome} ${sc.summary}`);
  check(sc.total === 3 && sc.confirmed === 3, `3 of 3 steps confirmed (${sc.confirmed}/${sc.total})`);
  check(Array.isArray(sc.steps) && sc.steps.filter((s) => s.outcome === "confirmed").length >= 3, "steps listed");
  check(sc.plan && Array.isArray(sc.plan.steps), "the plan is in the result");
  check(Number.isInteger(sc.iteration), `an iteration number (${sc.iteration})`);
  check(progress.length >= 4, `progress notifications: ${progress.length} (plan + 3 steps at least)`);
  check(progress.every((p, i) => i === 0 || p.progress > progress[i - 1].progress), "progress increases");
  const h = await S.client.callTool({ name: "history", arguments: {} });
  check(!h.isError && /Kick/i.test(textOf(h)), `history lists the iteration: ${textOf(h).slice(0, 200)}`);
  const u = await S.client.callTool({ name: "undo", arguments: {} });
  check(u.structuredContent && ["confirmed", "uncertain"].includes(u.structuredContent.outcome),
    `undo ran: ${textOf(u).slice(0, 300)}`);
});

let trackId;
await test("tools/call: create_track + create_midi_clip + add_effect confirmed by the mock DAW", async () => {
  const r1 = await S.client.callTool({ name: "create_track", arguments: { name: "Bass", type: "midi", instrument: "bass" } });
  check(!r1.isError, `create_track not an error: ${textOf(r1)}`);
  check(r1.structuredContent?.outcome === "confirmed", `create_track confirmed: ${JSON.stringify(r1.structuredContent)}`);
  trackId = r1.structuredContent?.steps?.[0]?.result?.track_id;
  check(/^t\d+$/.test(trackId || ""), `a track id came back (${trackId})`);
  const r2 = await S.client.callTool({
    name: "create_midi_clip",
    arguments: { track_id: trackId, start_time: 0, duration: 4, notes: [{ n: 45, s: 0, d: 1, v: 100 }, { n: 52, s: 2, d: 1 }] },
  });
  check(r2.structuredContent?.outcome === "confirmed", `create_midi_clip confirmed: ${textOf(r2)}`);
  const r3 = await S.client.callTool({ name: "add_effect", arguments: { track_id: trackId, effect_name: "ReaVerbate" } });
  check(r3.structuredContent?.outcome === "confirmed", `add_effect confirmed: ${textOf(r3)}`);
  check(r3.structuredContent?.confirmed === 1 && r3.structuredContent?.failed === 0, "counts: 1 confirmed, 0 failed");
});

await test("resources: session and track read, list names the tracks, subscribe gets updates", async () => {
  const list = (await S.client.listResources()).resources.map((r) => r.uri);
  check(list.includes("dawbridge://session") && list.includes("dawbridge://history"), "session and history listed");
  check(list.includes(`dawbridge://track/${trackId}`), `track ${trackId} listed`);
  const r = await S.client.readResource({ uri: "dawbridge://session" });
  const st = JSON.parse(r.contents[0].text);
  const t = st.tracks.find((x) => x.id === trackId);
  check(t && t.name === "Bass", "the session holds the new track");
  check(t && t.clips?.[0]?.notes?.length === 2, "with its clip of 2 notes");
  check(t && t.fx?.some((f) => /ReaVerbate/.test(f.name)), "and its effect");
  const tr = JSON.parse((await S.client.readResource({ uri: `dawbridge://track/${trackId}` })).contents[0].text);
  check(tr.id === trackId, "the track resource is the track");
  let updated = 0;
  S.client.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => {
    if (n.params.uri === "dawbridge://session") updated++;
  });
  await S.client.subscribeResource({ uri: "dawbridge://session" });
  const rt = await S.client.callTool({ name: "set_tempo", arguments: { bpm: 97 } });
  check(rt.structuredContent?.outcome !== "failed", `set_tempo ran: ${textOf(rt)}`);
  for (let i = 0; i < 50 && !updated; i++) await sleep(100);
  check(updated > 0, "notifications/resources/updated for dawbridge://session after set_tempo");
  let code;
  try {
    await S.client.readResource({ uri: "dawbridge://track/t999" });
  } catch (e) {
    code = e.code;
  }
  check(code === -32602, `an unknown track resource is -32602 (${code})`);
});

await test("tools/call: a refused call is isError with the validator's reason", async () => {
  const r = await S.client.callTool({ name: "set_track", arguments: { track_id: trackId, pan: 3 } });
  check(r.isError === true, "isError");
  check(/pan/.test(textOf(r)), `the reason names the argument: ${textOf(r)}`);
  check(r.structuredContent?.outcome !== "confirmed", "not confirmed");
  let code;
  try {
    await S.client.callTool({ name: "make_coffee", arguments: {} });
  } catch (e) {
    code = e.code;
  }
  check(code === -32602, `an unknown tool is -32602 (${code})`);
});

await test("shutdown: closing stdin ends the server cleanly", async () => {
  const proc = S.transport._process;
  const exited = new Promise((res) => proc.once("exit", (code, sig) => res({ code, sig })));
  proc.stdin.end();
  const e = await Promise.race([exited, sleep(20000).then(() => null)]);
  check(e && e.code === 0, `exit 0 after stdin closed (${JSON.stringify(e)}); stderr: ${S.stderr().slice(-500)}`);
  await S.client.close().catch(() => {});
});

await test("small profile: ten tools", async () => {
  const s = await connect([...base, "--profile", "small", "mcp"]);
  const t = (await s.client.listTools()).tools;
  check(t.length === 10, `--profile small lists 10 tools (${t.length}: ${t.map((x) => x.name).join(",")})`);
  await s.client.close();
});

// ---------- cancelling a long call: a standalone mock REAPER that delays every reply ----------
async function freeUdpPort() {
  const s = dgram.createSocket("udp4");
  await new Promise((r) => s.bind(0, "127.0.0.1", r));
  const p = s.address().port;
  s.close();
  return p;
}

await test("cancel: a long ask stops after the client cancels; the server goes on", async () => {
  const spool = tmp("db-mcp-spool-");
  const d2 = tmp("db-mcp-data-");
  const dawPort = await freeUdpPort();
  const ourPort = await freeUdpPort();
  // every reply of this mock comes 1 s late: each of the plan's five steps waits for the DAW's feedback
  const mock = spawn(MOCK, ["--dialect", "reaper", "--port", String(dawPort), "--feedback-port", String(ourPort),
    "--spool", spool, "--delay-ms", "1000", "--quiet"], { stdio: ["ignore", "ignore", "inherit"] });
  mock.on("error", (e) => check(false, `mock-daw did not start: ${e.message}`));
  try {
    await sleep(300);
    const s = await connect(["--daw", "reaper", "--port", String(dawPort), "--listen-port", String(ourPort),
      "--spool", spool, "--data-dir", d2, "--llm", "script", "--transcript", LONG_TRANSCRIPT, "--executor", "direct",
      "mcp"]);
    const ac = new AbortController();
    const progress = [];
    let rejected = null;
    const t0 = Date.now();
    await s.client
      .callTool({ name: "ask", arguments: { text: "a mix pass: tempo and levels" } }, undefined, {
        signal: ac.signal, timeout: 120000,
        onprogress: (p) => {
          progress.push(p);
          if (/^step/.test(p.message || "")) ac.abort("the user changed their mind");
        },
      })
      .catch((e) => (rejected = e));
    check(rejected !== null, "the cancelled call rejects in the client");
    check(progress.some((p) => /^step 1\//.test(p.message || "")),
      `step 1 was reported before cancelling (${progress.map((p) => p.message).join(" | ")})`);
    // the server stays usable, and the run ended early: it is saved as a partial iteration
    await s.client.ping();
    let partial = null, lastHistory = "";
    for (let i = 0; i < 150 && !partial; i++) {
      const h = await s.client.callTool({ name: "history", arguments: {} });
      lastHistory = textOf(h);
      const its = (h.structuredContent?.iterations || []).filter((it) => it.source === "ai_iteration");
      if (its.length) {
        const n = its[its.length - 1].number;
        const full = JSON.parse((await s.client.readResource({ uri: `dawbridge://history/${n}` })).contents[0].text);
        lastHistory = JSON.stringify(full).slice(0, 600);
        if (full.partial === true) partial = full;
      }
      if (!partial) await sleep(200);
    }
    check(partial !== null, `the cancelled run is saved as a partial iteration: ${lastHistory}`);
    if (partial) check(partial.actions_count <= 2, `at most the step in flight after step 1 ran (${partial.actions_count} actions)`);
    const st = JSON.parse((await s.client.readResource({ uri: "dawbridge://session" })).contents[0].text);
    const vox = st.tracks.find((t) => t.id === "t3");
    check(vox && Math.abs(vox.volume_db - -5) > 0.5, `step 4 was never sent: t3 at ${vox?.volume_db} dB, not -5`);
    check(Math.abs(st.tempo - 104) > 0.5, `step 5 was never sent: tempo ${st.tempo}, not 104`);
    console.log(`  cancel: ${Date.now() - t0} ms, ${progress.length} progress notifications`);
    await s.client.close();
  } finally {
    mock.kill("SIGTERM");
  }
});

// ---------- through a running daemon (dawbridge run): the MCP server is a client of its control socket ----------
await test("daemon: with `dawbridge run` up, mcp goes through its control socket; the daemon ends -> mcp ends", async () => {
  const d3 = tmp("db-mcp-daemon-");
  const daemon = spawn(BIN, ["--daw", "mock", "--data-dir", d3, "--llm", "script", "--transcript", TRANSCRIPT, "run"],
    { stdio: ["ignore", "ignore", "pipe"] });
  let dErr = "";
  daemon.stderr.on("data", (d) => (dErr += d));
  stderrs.push(() => dErr);
  const daemonExit = new Promise((r) => daemon.on("exit", (code, sig) => r({ code, sig })));
  // the daemon's control socket (named after the DAW) appears in our private runtime directory
  const sdir = path.join(process.env.XDG_RUNTIME_DIR, "dawbridge");
  const socks = () => (fs.existsSync(sdir) ? fs.readdirSync(sdir).filter((f) => f.endsWith(".sock")) : []);
  for (let i = 0; i < 100 && !socks().length; i++) await sleep(100);
  check(socks().length === 1, `the daemon's control socket appears in ${sdir} (${socks()}; ${dErr.slice(-300)})`);
  await sleep(300);
  const s = await connect(["--daw", "mock", "--log-level", "info", "mcp"]);
  try {
    const names = (await s.client.listTools()).tools.map((t) => t.name);
    check(names.includes("ask") && names.includes("create_track"), "tools listed through the daemon");
    const r = await s.client.callTool(
      { name: "ask", arguments: { text: "Add a kick drum track with a two-note pattern and some reverb" } },
      undefined, { timeout: 120000 });
    check(r.structuredContent?.outcome === "confirmed", `ask through the daemon confirmed: ${textOf(r).slice(0, 300)}`);
    check(/through the running daemon/.test(s.stderr()), `mcp says it uses the daemon (${s.stderr().slice(-300)})`);
    // the daemon ran it: the iteration is in the daemon's data directory (mcp was given none)
    const hist = path.join(d3, "compositions");
    const files = fs.existsSync(hist) ? fs.readdirSync(hist, { recursive: true }).filter((f) => /\d{4}\.json$/.test(f)) : [];
    check(files.length >= 2, `the iteration is saved in the daemon's data directory (${files.join(",")})`);
    const st = JSON.parse((await s.client.readResource({ uri: "dawbridge://session" })).contents[0].text);
    check(st.tracks.some((t) => t.name === "Kick Drum"), "the session resource is the daemon's mirror");
    const proc = s.transport._process;
    const mcpExit = new Promise((res) => proc.once("exit", (code, sig) => res({ code, sig })));
    daemon.kill("SIGTERM");
    const e = await Promise.race([mcpExit, sleep(20000).then(() => null)]);
    check(e && e.code === 2, `mcp ends with exit 2 when the daemon goes away (${JSON.stringify(e)})`);
  } finally {
    daemon.kill("SIGTERM");
    await Promise.race([daemonExit, sleep(10000)]);
    await s.client.close().catch(() => {});
  }
});

// ---------- bad input sent raw ----------
function rawServer(args) {
  const p = spawn(BIN, args, { stdio: ["pipe", "pipe", "pipe"] });
  let buf = "";
  const lines = [];
  const waiters = [];
  p.stdout.on("data", (d) => {
    buf += d;
    let i;
    while ((i = buf.indexOf("\n")) >= 0) {
      lines.push(buf.slice(0, i));
      buf = buf.slice(i + 1);
      while (waiters.length) waiters.shift()();
    }
  });
  let stderr = "";
  p.stderr.on("data", (d) => (stderr += d));
  stderrs.push(() => stderr);
  const exit = new Promise((r) => p.on("exit", (code, sig) => r({ code, sig })));
  let seen = 0;
  async function next(ms = 15000) {
    const end = Date.now() + ms;
    while (seen >= lines.length) {
      if (Date.now() > end) throw new Error("no answer within " + ms + " ms");
      await new Promise((r) => {
        waiters.push(r);
        setTimeout(r, 100);
      });
    }
    return lines[seen++];
  }
  return { p, send: (s) => p.stdin.write(s), next, exit, lines, stderr: () => stderr };
}

await test("bad input: the JSON-RPC errors the spec names, the connection survives, stdout is only frames", async () => {
  const r = rawServer([...base, "mcp"]);
  const expect = async (frame, code, what) => {
    r.send(frame);
    const line = await r.next();
    let m;
    try {
      m = JSON.parse(line);
    } catch {
      return check(false, `${what}: the answer is JSON (${line.slice(0, 200)})`);
    }
    check(m.jsonrpc === "2.0" && m.error && m.error.code === code, `${what}: error ${code} (${line.slice(0, 200)})`);
    return m;
  };
  await expect('{"jsonrpc":"2.0","id":1,"method":"tools/list"}\n', -32000, "a request before initialize");
  await expect("{this is not json\n", -32700, "a malformed frame");
  await expect('[{"jsonrpc":"2.0","id":2,"method":"ping"}]\n', -32600, "a batch");
  await expect('{"id":3,"method":"ping"}\n', -32600, "no jsonrpc member");
  await expect('"just a string"\n', -32600, "not an object");
  r.send('{"jsonrpc":"2.0","id":4,"method":"ping"}\n');
  check(JSON.parse(await r.next()).id === 4, "ping before initialize is answered");
  r.send(`{"jsonrpc":"2.0","id":5,"method":"initialize","params":{"protocolVersion":"1999-01-01","capabilities":{},"clientInfo":{"name":"raw","version":"0"}}}\n`);
  const init = JSON.parse(await r.next());
  check(init.result?.protocolVersion === LATEST_PROTOCOL_VERSION,
    `an unsupported version gets the latest we support, the SDK's latest (${init.result?.protocolVersion} vs ${LATEST_PROTOCOL_VERSION})`);
  r.send('{"jsonrpc":"2.0","method":"notifications/initialized"}\n');
  await expect('{"jsonrpc":"2.0","id":6,"method":"no/such/method"}\n', -32601, "an unknown method");
  await expect('{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"arguments":{}}}\n', -32602, "tools/call without a name");
  await expect('{"jsonrpc":"2.0","id":8,"method":"tools/call","params":{"name":"set_tempo","arguments":"fast"}}\n', -32602,
    "arguments not an object");
  await expect('{"jsonrpc":"2.0","id":9,"method":"resources/read","params":{}}\n', -32602, "resources/read without a uri");
  // an oversized frame (5 MiB): refused, the rest of the line dropped, the next frame served
  const big = '{"jsonrpc":"2.0","id":10,"method":"ping","params":{"pad":"' + "x".repeat(5 * 1024 * 1024) + '"}}\n';
  await expect(big, -32600, "a frame over 4 MiB");
  r.send('{"jsonrpc":"2.0","id":11,"method":"ping"}\n');
  const pong = JSON.parse(await r.next());
  check(pong.id === 11 && pong.result, "served after the oversized frame");
  // a bad argument value is a tool error, not a protocol error
  r.send('{"jsonrpc":"2.0","id":12,"method":"tools/call","params":{"name":"set_tempo","arguments":{"bpm":5}}}\n');
  const bad = JSON.parse(await r.next(30000));
  check(bad.id === 12 && bad.result?.isError === true, `set_tempo bpm 5: isError (${JSON.stringify(bad).slice(0, 300)})`);
  r.p.stdin.end();
  const e = await Promise.race([r.exit, sleep(20000).then(() => null)]);
  check(e && e.code === 0, `exit 0 after stdin closed (${JSON.stringify(e)})`);
  for (const l of r.lines) {
    let ok = false;
    try {
      ok = JSON.parse(l).jsonrpc === "2.0";
    } catch {}
    check(ok, `stdout carries only JSON-RPC frames: ${l.slice(0, 120)}`);
  }
});

await test("a client that does not read: stdin waits while 16 MiB of answers are queued; all come once it reads", async () => {
  const r = rawServer([...base, "mcp"]);
  r.send(`{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"${LATEST_PROTOCOL_VERSION}"}}\n`);
  await r.next();
  r.p.stdout.pause(); // stop reading: the server's answers pile up
  const N = 8000; // tools/list answers of ~18 KB each: ~145 MB in all
  for (let i = 1; i <= N; i++) r.send(`{"jsonrpc":"2.0","id":${i},"method":"tools/list"}\n`);
  await sleep(3000);
  const rss = () => Number((fs.readFileSync(`/proc/${r.p.pid}/status`, "utf8").match(/VmRSS:\s+(\d+)/) || [])[1]) / 1024;
  const held = rss();
  // the server stopped reading: most of the requests still wait in the client's own pipe buffer (with unbounded
  // queueing it would have read them all and hold every answer: ~145 MB)
  const unread = r.p.stdin.writableLength;
  check(unread > 100000, `the server stopped reading its stdin while its answers pile up (${unread} request bytes unread)`);
  r.p.stdout.resume();
  const t0 = Date.now();
  let last = null;
  for (let i = 1; i <= N; i++) last = JSON.parse(await r.next(30000));
  check(last && last.id === N && Array.isArray(last.result?.tools), `all ${N} answers arrive in order once it reads`);
  console.log(`  backlog: ${held.toFixed(0)} MB resident, ${unread} request bytes unread while paused; ${N} answers drained in ${Date.now() - t0} ms`);
  r.p.stdin.end();
  const e = await Promise.race([r.exit, sleep(20000).then(() => null)]);
  check(e && e.code === 0, `exit 0 (${JSON.stringify(e)})`);
});

await sleep(500); // the last children exit
await test("no sanitizer report from any dawbridge process", async () => {
  for (const e of stderrs) {
    const t = e();
    check(!/Sanitizer|runtime error:/.test(t), `stderr: ${t.slice(t.search(/Sanitizer|runtime error:/) - 200, t.search(/Sanitizer|runtime error:/) + 800)}`);
  }
});

const passed = results.filter((r) => r[1]).length;
console.log(`test_mcp_sdk: ${passed} of ${results.length} passed, ${failures} failed checks`);
process.exit(failures ? 1 : 0);
