// The web face over real sockets against `dawbridge --daw mock run --web-port P` (scripted model): the API's
// answers, every refusal (no token, wrong token, foreign Origin, foreign Host, oversized body, malformed JSON,
// traversal, WebSocket without token or from another site), the token file (0600), and 200 concurrent WebSocket
// clients connecting, receiving an event and leaving, three rounds: open fds back to the baseline exactly, RSS
// within 1 MiB of it. Exit status = number of failed checks (0 = pass).
import fs from "node:fs";
import path from "node:path";
import { spawnSync } from "node:child_process";
import os from "node:os";
import WebSocket from "ws";
import { BIN, check, failed, request, rssKiB, openFds, sleep, startDaemon } from "./web_util.mjs";

const d = await startDaemon();
const { port, token } = d;
const auth = { Authorization: `Bearer ${token}` };
try {
  check(/^[0-9a-f]{64}$/.test(token || ""), "the URL carries a 64-hex-digit token");
  const tokFile = path.join(d.runtime, "dawbridge", `web-${port}.token`);
  const alt = fs.existsSync(tokFile) ? tokFile : fs.readdirSync(d.runtime, { recursive: true })
    .map((f) => path.join(d.runtime, f)).find((f) => f.endsWith(`web-${port}.token`));
  check(alt && fs.readFileSync(alt, "utf8").trim() === token, `token file kept in the runtime dir (${alt})`);
  check(alt && (fs.statSync(alt).mode & 0o777) === 0o600, "token file mode 0600");

  // the page and its files
  let r = await request(port, "GET", "/");
  check(r.status === 200 && /<title>dawbridge<\/title>/.test(r.body), "GET / serves the page without a token");
  check(/default-src 'self'/.test(r.headers["content-security-policy"] || ""), "the page has a Content-Security-Policy");
  r = await request(port, "GET", "/app.js");
  check(r.status === 200 && /javascript/.test(r.headers["content-type"]), "GET /app.js");
  r = await request(port, "GET", "/style.css");
  check(r.status === 200 && /text\/css/.test(r.headers["content-type"]), "GET /style.css");

  // the API with the token
  r = await request(port, "GET", "/api/state", { headers: auth });
  check(r.status === 200 && r.json && Array.isArray(r.json.tracks), "GET /api/state (bearer) is the session JSON");
  r = await request(port, "GET", `/api/state?token=${token}`);
  check(r.status === 200 && r.json && r.json.format === "dawbridge.session/1", "GET /api/state?token= works too");
  r = await request(port, "GET", "/api/status", { headers: auth });
  check(r.status === 200 && r.json && r.json.connected === true, "GET /api/status: connected");
  r = await request(port, "GET", "/api/history", { headers: auth });
  check(r.status === 200 && r.json && Array.isArray(r.json.iterations), "GET /api/history");
  r = await request(port, "GET", "/api/iteration/999", { headers: auth });
  check(r.status === 404 && r.json && r.json.error, "GET /api/iteration/999: 404 with a message");

  // refusals
  const refusals = [
    ["no token", "GET", "/api/state", {}, undefined, 401],
    ["wrong token", "GET", "/api/state", { Authorization: `Bearer ${"0".repeat(64)}` }, undefined, 401],
    ["wrong token in query", "GET", `/api/history?token=${"f".repeat(64)}`, {}, undefined, 401],
    ["no token on POST", "POST", "/api/ask", { "Content-Type": "application/json" }, '{"text":"x"}', 401],
    ["foreign Origin", "POST", "/api/ask", { ...auth, Origin: "http://evil.example" }, '{"text":"x"}', 403],
    ["foreign Origin on GET", "GET", "/api/state", { ...auth, Origin: `http://evil.example:${port}` }, undefined, 403],
    ["malformed JSON", "POST", "/api/ask", auth, '{"text": "add a', 400],
    ["not an object", "POST", "/api/ask", auth, '"add a kick"', 400],
    ["unknown field", "POST", "/api/ask", auth, '{"text":"x","tool":"delete_track"}', 400],
    ["missing text", "POST", "/api/ask", auth, "{}", 400],
    ["oversized body", "POST", "/api/ask", auth, JSON.stringify({ text: "x".repeat(70000) }), 413],
    ["traversal", "GET", "/../../etc/passwd", {}, undefined, 404],
    ["encoded traversal", "GET", "/%2e%2e/%2e%2e/etc/passwd", {}, undefined, 404],
    ["unknown API path", "GET", "/api/nope", auth, undefined, 404],
    ["wrong method", "GET", "/api/ask", auth, undefined, 405],
  ];
  for (const [name, method, p, headers, body, want] of refusals) {
    r = await request(port, method, p, { headers, body });
    check(r.status === want && r.json && typeof r.json.error === "string" && r.json.error.length > 0,
      `${name}: ${want} with a JSON message (got ${r.status}: ${r.body.slice(0, 100)})`);
  }
  r = await request(port, "GET", "/", { hostHeader: `evil.example:${port}` });
  check(r.status === 403, `foreign Host (DNS rebinding): 403 (got ${r.status})`);
  r = await request(port, "GET", "/api/state", { headers: auth, hostHeader: `attacker.test:${port}` });
  check(r.status === 403, `foreign Host on the API: 403 (got ${r.status})`);
  r = await request(port, "POST", "/api/ask", { headers: auth, body: '{"text": "a", "text": "b"}' });
  check(r.status === 400 && /malformed JSON/.test(r.json?.error || ""), `duplicate keys: 400 "${r.json?.error}"`);
  r = await request(port, "GET", "/api/status", { headers: auth, body: '{"text":"x"}' });
  check(r.status === 200 && r.json && "connected" in r.json, "a GET with a body: one answer, the body is not read as a request");
  // the server still answers after all that
  r = await request(port, "GET", "/api/status", { headers: auth });
  check(r.status === 200, "still serving after the refusals");

  // a second daemon on the taken web port, and a listen address that is no IP address: clear errors, no crash
  const rt = fs.mkdtempSync(path.join(os.tmpdir(), "dawbridge-web2-"));
  const second = spawnSync(BIN, ["--daw", "mock", "--data-dir", path.join(rt, "d"), "run", "--web-port", String(port)],
    { env: { ...process.env, XDG_RUNTIME_DIR: rt }, encoding: "utf8", timeout: 30000 });
  check(second.status === 5 && /cannot listen on 127\.0\.0\.1:\d+: Address already in use/.test(second.stderr) &&
    !/handles still open/.test(second.stderr), `a taken web port: exit 5 with the reason (got ${second.status ?? second.signal})`);
  const badListen = spawnSync(BIN, ["--daw", "mock", "--data-dir", path.join(rt, "d"), "run", "--web-port", "1",
    "--web-listen", "evil.example"], { env: { ...process.env, XDG_RUNTIME_DIR: rt }, encoding: "utf8", timeout: 30000 });
  check(badListen.status !== 0 && badListen.signal === null && /takes an IP address/.test(badListen.stderr),
    `--web-listen with a name: refused (exit ${badListen.status ?? badListen.signal})`);
  fs.rmSync(rt, { recursive: true, force: true });

  // the WebSocket
  const wsOpen = (q, headers = {}) => new Promise((resolve) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/api/events${q}`, { headers });
    ws.on("open", () => resolve({ ok: true, ws }));
    ws.on("unexpected-response", (_req, res) => resolve({ ok: false, status: res.statusCode }));
    ws.on("error", (e) => resolve({ ok: false, error: e.message }));
  });
  let w = await wsOpen("");
  check(!w.ok, `WebSocket without token refused (${w.status ?? w.error})`);
  w = await wsOpen(`?token=${"1".repeat(64)}`);
  check(!w.ok, `WebSocket with a wrong token refused (${w.status ?? w.error})`);
  w = await wsOpen(`?token=${token}`, { Origin: "http://evil.example" });
  check(!w.ok, `WebSocket from a foreign Origin refused (${w.status ?? w.error})`);
  w = await wsOpen(`?token=${token}`, { Origin: `http://127.0.0.1:${port}` });
  check(w.ok, "WebSocket with the token and our Origin opens");
  if (w.ok) {
    const got = new Promise((resolve) => w.ws.once("message", (m) => resolve(JSON.parse(m.toString()))));
    r = await request(port, "POST", "/api/new", { headers: auth, body: "" });
    check(r.status === 202 && r.json && r.json.request > 0, `POST /api/new: 202 {request} (${r.body})`);
    const ev = await Promise.race([got, sleep(10000).then(() => null)]);
    check(ev && typeof ev.type === "string", `an event arrives as one JSON text frame (${ev && ev.type})`);
    // restore, undo and cancel go to the live core and come back as its events (no iterations yet: refused there)
    const dones = new Map();
    w.ws.on("message", (m) => { const e = JSON.parse(m.toString()); if (e.type === "done") dones.set(e.request, e); });
    const rs = await request(port, "POST", "/api/restore", { headers: auth, body: '{"iteration": 1}' });
    const un = await request(port, "POST", "/api/undo", { headers: auth, body: '{"force": false}' });
    check(rs.status === 202 && un.status === 202 && rs.json.request > 0 && un.json.request > rs.json.request,
      `POST /api/restore and /api/undo: 202 with their request ids (${rs.body} ${un.body})`);
    for (let i = 0; i < 100 && !(dones.has(rs.json?.request) && dones.has(un.json?.request)); i++) await sleep(100);
    const dr = dones.get(rs.json?.request), du = dones.get(un.json?.request);
    check(dr && dr.kind === "restore" && dr.exit_code === 4 && /no iteration/.test(dr.summary),
      `the restore's done event: refused by the core, exit 4 (${dr && dr.summary})`);
    check(du && du.kind === "undo" && du.exit_code === 4 && /nothing to undo/.test(du.summary),
      `the undo's done event: refused by the core, exit 4 (${du && du.summary})`);
    r = await request(port, "POST", "/api/cancel", { headers: auth, body: "{}" });
    check(r.status === 404 && /no such request/.test(r.json?.error || ""), `POST /api/cancel with nothing running: 404 (${r.body})`);
    w.ws.close();
  }

  // 200 concurrent WebSocket clients connecting, receiving, leaving; three rounds
  async function round(n) {
    const clients = await Promise.all(Array.from({ length: n }, () => wsOpen(`?token=${token}`)));
    const open = clients.filter((c) => c.ok);
    const received = open.map((c) => new Promise((resolve) => {
      const t = setTimeout(() => resolve(false), 15000);
      c.ws.on("message", () => { clearTimeout(t); resolve(true); });
    }));
    await request(port, "POST", "/api/new", { headers: auth, body: "{}" });
    const got = (await Promise.all(received)).filter(Boolean).length;
    await Promise.all(open.map((c) => new Promise((resolve) => { c.ws.on("close", resolve); c.ws.close(); })));
    return { open: open.length, got };
  }
  await round(200); // warm-up: allocator pools, lws's per-connection tables
  await sleep(500);
  const fds0 = openFds(d.pid), rss0 = rssKiB(d.pid);
  let allOk = true;
  for (let i = 1; i <= 3; i++) {
    const { open, got } = await round(200);
    allOk = allOk && open === 200 && got === 200;
    console.log(`     round ${i}: ${open} open, ${got} received an event`);
  }
  check(allOk, "3 rounds of 200 concurrent WebSocket clients: all open, all receive the event");
  // the server sees the closes on its next loop turns
  let fds1 = openFds(d.pid);
  for (let i = 0; i < 50 && fds1 > fds0; i++) { await sleep(100); fds1 = openFds(d.pid); }
  const rss1 = rssKiB(d.pid);
  console.log(`     fds ${fds0} -> ${fds1}; RSS ${rss0} KiB -> ${rss1} KiB (${rss1 - rss0 >= 0 ? "+" : ""}${rss1 - rss0})`);
  check(fds1 === fds0, "open fds back to the baseline after 600 WebSocket clients");
  // (an ASan build keeps freed memory in its quarantine: web.cmake gives it more room)
  const slack = Number(process.env.WEB_RSS_SLACK_KIB || 1024);
  check(rss1 - rss0 <= slack, `RSS within ${slack} KiB of the baseline after 600 WebSocket clients`);
} catch (e) {
  check(false, `unexpected: ${e.stack}`);
} finally {
  const { code, signal } = await d.stop();
  check(code === 0, `dawbridge run stops on SIGTERM with exit 0 (got ${code ?? signal})`);
  check(!/handles still open/.test(d.log()), "every libuv handle (lws's too) is closed at exit: uv_loop_close() == 0");
  const tokFiles = fs.readdirSync(d.runtime, { recursive: true }).filter((f) => String(f).endsWith(".token"));
  check(tokFiles.length === 0, "the token file is removed at exit");
  if (failed()) console.log(d.log().slice(-4000));
  fs.rmSync(d.tmp, { recursive: true, force: true });
}
process.exit(failed() ? 1 : 0);
