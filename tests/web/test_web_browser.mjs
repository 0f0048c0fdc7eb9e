// The web page end to end in a real browser: Debian's chromium, headless, driven by puppeteer-core, against
// `dawbridge --daw mock run --web-port P` with the scripted model (examples/demo-transcript.json). Loads the page
// (desktop and 360 px wide), asks, watches the plan and each step's outcome appear, sees the new track with its
// piano roll, undoes it from the history, sees it gone. A screenshot of each state goes to $WEB_ARTEFACTS.
// Chromium is started and stopped by its PID. Exit status 0 = every check passed.
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import puppeteer from "puppeteer-core";
import { ARTEFACTS, check, failed, sleep, startDaemon } from "./web_util.mjs";

const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
fs.mkdirSync(ARTEFACTS, { recursive: true });
const REQUEST = "Add a kick drum track with a two-note pattern and some reverb";

// one request through the daemon's control socket (app/ctl.h); resolves its "done" event
function ctlSubmit(sock, request) {
  return new Promise((resolve) => {
    const c = net.connect(sock);
    let buf = "", id = null;
    const done = new Map(); // the done event may come before the reply that names the request
    const t = setTimeout(() => { c.destroy(); resolve(null); }, 20000);
    c.on("connect", () => c.write(JSON.stringify({ op: "subscribe" }) + "\n" + JSON.stringify({ op: "submit", id: "w", request }) + "\n"));
    c.on("data", (d) => {
      buf += d;
      let nl;
      while ((nl = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        let m;
        try { m = JSON.parse(line); } catch { continue; }
        if (m.type === "reply" && m.id === "w") id = m.result && m.result.request;
        if (m.type === "done") done.set(m.request, m);
        if (id !== null && done.has(id)) { clearTimeout(t); c.end(); resolve(done.get(id)); return; }
      }
    });
    c.on("error", () => { clearTimeout(t); resolve(null); });
  });
}

const d = await startDaemon();
let browser = null, chromePid = null;
const shot = async (page, name) => {
  const file = path.join(ARTEFACTS, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  console.log(`     screenshot ${file}`);
};
try {
  browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions", "--disable-dev-shm-usage"],
    handleSIGINT: false, handleSIGTERM: false, handleSIGHUP: false,
  });
  chromePid = browser.process()?.pid ?? null;
  check(chromePid > 0, `chromium started (pid ${chromePid}, ${await browser.version()})`);
  const page = await browser.newPage();
  const consoleErrors = [];
  page.on("console", (m) => { if (m.type() === "error") consoleErrors.push(m.text()); });
  page.on("pageerror", (e) => consoleErrors.push(String(e)));
  await page.setViewport({ width: 1280, height: 900 });
  await page.goto(d.url, { waitUntil: "load" });
  await page.waitForFunction(() => document.body.dataset.events === "open", { timeout: 15000 });
  check(!(await page.url()).includes("token="), "the token is dropped from the address bar");
  await page.waitForSelector("#tracks .track", { timeout: 15000 });
  const before = await page.$$eval("#tracks .track", (ts) => ts.map((t) => t.dataset.trackName));
  check(before.length === 3 && !before.includes("Kick Drum"), `the session shows the mock's tracks: ${before.join(", ")}`);
  const conn = await page.$eval("#conn", (e) => e.textContent);
  check(/connected/i.test(conn) && !/not/i.test(conn), `the DAW connection is shown ("${conn}")`);
  const rolls0 = await page.$$eval("#tracks svg.roll", (s) => s.length);
  check(rolls0 >= 1, `existing MIDI clips are drawn as piano rolls (${rolls0})`);
  await shot(page, "web-1-loaded");

  // ask with the keyboard only: focus the prompt, type, Enter
  await page.focus("#prompt-text");
  await page.keyboard.type(REQUEST);
  await page.keyboard.press("Enter");
  await page.waitForSelector("#conversation .req .plan:not([hidden])", { timeout: 20000 });
  check(true, "the plan appears in the conversation");
  await page.waitForSelector("#conversation .req .summary:not([hidden])", { timeout: 60000 });
  const req = await page.$eval("#conversation .req", (li) => ({
    text: li.querySelector(".req-text").textContent,
    plan: li.querySelector(".plan").textContent,
    steps: [...li.querySelectorAll(".step")].map((s) => ({ outcome: s.dataset.outcome, text: s.textContent })),
    summary: li.querySelector(".summary").textContent,
    stage: li.querySelector(".stage").textContent,
  }));
  check(req.text === REQUEST, "the request is shown");
  check(/create_track/.test(req.plan) && /add_effect/.test(req.plan), "the plan lists its steps");
  check(req.steps.length >= 3 && req.steps.every((s) => s.outcome === "confirmed" && /confirmed/.test(s.text)),
    `each step shows its outcome as a word: ${req.steps.map((s) => s.text.slice(0, 40)).join(" | ")}`);
  check(/Done/.test(req.summary) && /3 of 3 confirmed/.test(req.summary), `the summary: "${req.summary.trim()}"`);
  const okColour = await page.$eval("#conversation .step .outcome", (e) => getComputedStyle(e).color);
  check(okColour === "rgb(90, 208, 138)", `confirmed is drawn in its colour too (${okColour})`);
  await page.waitForSelector('#tracks .track[data-track-name="Kick Drum"] svg.roll rect.note', { timeout: 15000 });
  const notes = await page.$$eval('#tracks .track[data-track-name="Kick Drum"] svg.roll rect.note', (r) => r.length);
  check(notes === 2, `the new track "Kick Drum" has a piano roll with its 2 notes (${notes})`);
  const fx = await page.$eval('#tracks .track[data-track-name="Kick Drum"]', (t) => t.textContent);
  check(/Verb|verb/.test(fx), "the new track's FX chain shows the reverb");
  await page.waitForSelector('#iterations .iteration[data-iteration="2"]', { timeout: 15000 });
  await page.waitForFunction(() => /track t4 "Kick Drum"/.test(document.querySelector('#iterations .iteration[data-iteration="2"] .diff')?.textContent || ""), { timeout: 15000 });
  check(true, "the history shows iteration 2 with its readable diff (+ track t4 \"Kick Drum\")");
  await shot(page, "web-2-after-ask");

  // the same page at 360 px wide (a phone on the music stand): no horizontal scrolling
  await page.setViewport({ width: 360, height: 740 }); // (isMobile would reload the page)
  await sleep(200);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  check(overflow <= 0, `at 360 px nothing overflows sideways (${overflow} px)`);
  await shot(page, "web-3-phone-360");
  await page.setViewport({ width: 1280, height: 900 });

  // the musician changes the new track (through the control socket, as the CLI would), then asks to undo it:
  // the daemon refuses with a conflict, the page says so and offers to revert that edit too
  const call = await ctlSubmit(d.ctlSocket(),
    { kind: "call", tool: "set_track", args: { track_id: "t4", volume_db: -6 } });
  check(call && call.status === "ok", `the musician's own edit (set_track t4 -6 dB) is confirmed (${call && call.summary})`);
  // (clicked inside the page in one step: the history list is redrawn whenever a request ends)
  await page.$eval('#iterations .iteration[data-iteration="2"] button[aria-label="Undo iteration 2"]', (b) => b.click());
  await page.waitForSelector("#conversation .conflict button", { timeout: 20000 });
  const conflict = await page.$eval("#conversation .conflict", (e) => e.closest(".req").textContent);
  check(/conflict/.test(conflict) && /Undo anyway/.test(conflict), `a conflict is shown with its message and "Undo anyway": "${conflict.trim().slice(0, 160)}"`);
  const still = await page.$$eval("#tracks .track", (ts) => ts.map((t) => t.dataset.trackName));
  check(still.includes("Kick Drum"), "nothing was undone on the conflict");
  await shot(page, "web-4-conflict");
  await page.$eval("#conversation .conflict button", (b) => b.click());
  await page.waitForFunction(() => ![...document.querySelectorAll("#tracks .track")].some((t) => t.dataset.trackName === "Kick Drum"), { timeout: 30000 });
  const after = await page.$$eval("#tracks .track", (ts) => ts.map((t) => t.dataset.trackName));
  check(!after.includes("Kick Drum") && after.length === 3, `after Undo the track is gone: ${after.join(", ")}`);
  await page.waitForFunction(() => [...document.querySelectorAll("#conversation .req")].some((li) => /undo/.test(li.querySelector(".kind").textContent) && li.querySelector(".stage").textContent === "done"), { timeout: 15000 });
  const undoLine = await page.$$eval("#conversation .req", (ls) => ls.filter((l) => /undo/.test(l.querySelector(".kind").textContent)).map((l) => l.textContent).pop() || "");
  check(/Done/.test(undoLine), `the forced undo is reported done: "${undoLine.trim().slice(0, 120)}"`);
  await page.waitForSelector('#iterations .iteration[data-iteration="3"]', { timeout: 15000 });
  check(true, "the undo is saved as iteration 3");
  await shot(page, "web-5-after-undo");
  check(consoleErrors.length === 0, `no errors in the page's console${consoleErrors.length ? ": " + consoleErrors.join(" | ") : ""}`);
} catch (e) {
  check(false, `unexpected: ${e.stack}`);
} finally {
  if (browser) await browser.close().catch(() => {});
  if (chromePid) {
    let alive = true;
    for (let i = 0; i < 50 && alive; i++) {
      try { process.kill(chromePid, 0); await sleep(100); } catch { alive = false; }
    }
    if (alive) process.kill(chromePid, "SIGKILL");
    check(!alive, `chromium (pid ${chromePid}) stopped`);
  }
  const { code, signal } = await d.stop();
  check(code === 0, `dawbridge run stops with exit 0 (got ${code ?? signal})`);
  check(!/handles still open/.test(d.log()), "every libuv handle (lws's too) is closed at exit: uv_loop_close() == 0");
  if (failed()) console.log(d.log().slice(-5000));
  fs.rmSync(d.tmp, { recursive: true, force: true });
}
process.exit(failed() ? 1 : 0);
