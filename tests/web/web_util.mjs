// Helpers of the web tests: a free port, the daemon (`dawbridge --daw mock ... run --web-port P`) started and
// stopped by PID, raw HTTP requests (any Host/Origin), the process's RSS and open fds from /proc.
import { spawn } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import net from "node:net";
import os from "node:os";
import path from "node:path";

export const BIN = process.env.DAWBRIDGE;
export const SRC = process.env.DAWBRIDGE_SOURCE_DIR;
export const ARTEFACTS = process.env.WEB_ARTEFACTS || path.join(process.cwd(), "artefacts");
if (!BIN || !SRC) {
  console.error("DAWBRIDGE and DAWBRIDGE_SOURCE_DIR must be set (ctest sets them)");
  process.exit(1);
}

let failures = 0;
export function check(cond, what) {
  if (cond) console.log(`ok   ${what}`);
  else {
    failures++;
    console.log(`FAIL ${what}`);
  }
}
export const failed = () => failures;

export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Starts the daemon with the embedded mock DAW and the scripted model; resolves once the web URL is printed.
export async function startDaemon(extra = []) {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "dawbridge-web-"));
  const runtime = path.join(tmp, "run");
  fs.mkdirSync(runtime, { mode: 0o700 });
  const port = await freePort();
  const args = ["--daw", "mock", "--data-dir", path.join(tmp, "data"), "--llm", "script", "--transcript",
    path.join(SRC, "examples/demo-transcript.json"), "--log-level", "info", "run", "--web-port", String(port), ...extra];
  const env = { ...process.env, XDG_RUNTIME_DIR: runtime };
  const child = spawn(BIN, args, { stdio: ["ignore", "pipe", "pipe"], env });
  let log = "";
  const exited = new Promise((resolve) => child.on("exit", (code, signal) => resolve({ code, signal })));
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("no web URL within 20 s:\n" + log)), 20000);
    const onData = (d) => {
      log += d.toString();
      const m = log.match(/web page: (http:\/\/\S+)/);
      if (m && /connected to/.test(log)) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    };
    child.stderr.on("data", onData);
    child.stdout.on("data", (d) => (log += d.toString()));
    exited.then(({ code, signal }) => reject(new Error(`dawbridge exited (${code ?? signal}) before serving:\n${log}`)));
  });
  const u = new URL(url);
  return {
    child, pid: child.pid, port, url, token: u.searchParams.get("token"), base: `${u.protocol}//${u.host}`, runtime, tmp,
    log: () => log, exited,
    ctlSocket: () => (log.match(/control socket (\S+?);/) || [])[1],
    async stop() {
      if (child.exitCode === null && child.signalCode === null) process.kill(child.pid, "SIGTERM");
      const r = await Promise.race([exited, sleep(20000).then(() => null)]);
      if (!r) {
        process.kill(child.pid, "SIGKILL");
        return { code: -1, signal: "timeout" };
      }
      return r;
    },
  };
}

// One raw request; headers exactly as given (Host included). Resolves {status, headers, body, json}.
export function request(port, method, pathname, { headers = {}, body, hostHeader } = {}) {
  return new Promise((resolve, reject) => {
    const h = { ...headers };
    if (hostHeader !== null) h.Host = hostHeader || `127.0.0.1:${port}`;
    if (body !== undefined && h["Content-Length"] === undefined) h["Content-Length"] = Buffer.byteLength(body);
    const req = http.request({ host: "127.0.0.1", port, method, path: pathname, headers: h, setHost: false }, (res) => {
      const chunks = [];
      res.on("data", (c) => chunks.push(c));
      res.on("end", () => {
        const text = Buffer.concat(chunks).toString();
        let json = null;
        try { json = JSON.parse(text); } catch { json = null; }
        resolve({ status: res.statusCode, headers: res.headers, body: text, json });
      });
    });
    req.on("error", reject);
    req.setTimeout(15000, () => req.destroy(new Error(`timeout ${method} ${pathname}`)));
    if (body !== undefined) req.write(body);
    req.end();
  });
}

export function rssKiB(pid) {
  const m = fs.readFileSync(`/proc/${pid}/status`, "utf8").match(/VmRSS:\s+(\d+)/);
  return m ? Number(m[1]) : -1;
}
export const openFds = (pid) => fs.readdirSync(`/proc/${pid}/fd`).length;
