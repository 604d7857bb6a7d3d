// End-to-end tests of wtp-serve's web page in Debian's headless Chromium, with a fake camera
// fed by wtp-synth clips (Y4M). Each scenario drives the real page against the real service
// (a temporary SQLite database) and saves a screenshot in the output folder.
//
//   node tests/browser/e2e.mjs --bin build/bin --model model.ts --liveness liveness.ts \
//       --out DIR [--docs docs/]
//
// --model and --liveness are wtp-export archives (embedding, eye state). --docs also copies one
// screenshot of each page there (for the README). Prints "N passed, M failed" last; exits 1 on a
// failure. When Chromium or playwright-core is missing it prints "WTP-SKIPPED: why" (CTest
// reports a skip) and exits 0, or exits 1 under CI=true, where everything must run.
import { spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, "../..");
const CHROMIUM = process.env.WTP_CHROMIUM || "/usr/bin/chromium";

function arg(name, fallback) {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : fallback;
}

function skip(reason) {
  if (process.env.CI === "true") {
    console.error(`cannot skip under CI: ${reason}`);
    process.exit(1);
  }
  console.log(`WTP-SKIPPED: ${reason}`);
  process.exit(0);
}

let chromium;
try {
  ({ chromium } = await import("playwright-core"));
} catch {
  skip("playwright-core is not installed (WTP_WITH_BROWSER=1 bash scripts/setup.sh)");
}
if (!fs.existsSync(CHROMIUM)) skip(`${CHROMIUM} is missing (WTP_WITH_BROWSER=1 bash scripts/setup.sh)`);

const bin = path.resolve(arg("--bin", path.join(root, "build/bin")));
const model = path.resolve(arg("--model", ""));
const liveness = path.resolve(arg("--liveness", ""));
const out = path.resolve(arg("--out", fs.mkdtempSync(path.join(os.tmpdir(), "wtp-browser-"))));
const docs = arg("--docs", "");
fs.mkdirSync(out, { recursive: true });
const work = fs.mkdtempSync(path.join(os.tmpdir(), "wtp-browser-work-"));

/** Runs a wtp tool synchronously; throws with its output when it fails. */
function tool(name, args, input) {
  const r = spawnSync(path.join(bin, name), args, { input, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`${name} ${args.join(" ")} failed (${r.status}):\n${r.stdout}${r.stderr}`);
  return r.stdout;
}

function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

// Clips: identity 1 is the employee, identity 9 a stranger (both found by the Haar detector). Each clip blinks (or not) at a
// fixed frame and is looped by Chromium's fake camera, so a blink comes about once a second.
const clips = {};
function makeClip(name, identity, blink) {
  const dir = path.join(work, name);
  const args = ["clip", "--out", dir, "--identity", String(identity), "--frames", "30",
                "--fps", "30", "--size", "480"];
  if (blink) args.push("--blink-at", "12", "--blink-frames", "6");
  else args.push("--no-blink");
  tool("wtp-synth", args);
  clips[name] = path.join(dir, "clip.y4m");
}
makeClip("employee_blink", 1, true);
makeClip("employee_still", 1, false);
makeClip("stranger_blink", 9, true);

// The service, with a first administrator created on the command line.
const db = path.join(work, "wtp.db");
const password = "correct horse battery staple";
tool("wtp-serve", ["admin", "create", "admin", "--db", `sqlite:${db}`], `${password}\n${password}\n`);
const port = await freePort();
const base = `http://127.0.0.1:${port}`;
const server = spawn(path.join(bin, "wtp-serve"), [
  "--db", `sqlite:${db}`, "--port", String(port), "--model", model,
  "--liveness", liveness, "--static", path.join(root, "web"),
], { stdio: ["ignore", "pipe", "pipe"] });
let serverLog = "";
server.stdout.on("data", (d) => (serverLog += d));
server.stderr.on("data", (d) => (serverLog += d));
for (let i = 0; ; ++i) {
  try {
    if ((await fetch(`${base}/healthz`)).ok) break;
  } catch {}
  if (i > 300) throw new Error(`wtp-serve did not start:\n${serverLog}`);
  await new Promise((r) => setTimeout(r, 100));
}

/** A browser whose camera shows `clip`; every console error and page error is collected. */
async function browserWith(clip) {
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
           `--use-file-for-fake-video-capture=${clip}`],
  });
  const context = await browser.newContext({ viewport: { width: 1200, height: 800 } });
  const page = await context.newPage();
  const errors = [];
  page.on("console", (m) => {
    // 4xx answers of the API are expected in refusal scenarios; the page handles them.
    if (m.type() === "error" && !/status of 4\d\d/.test(m.text())) errors.push(m.text());
  });
  page.on("pageerror", (e) => errors.push(String(e)));
  return { browser, page, errors };
}

async function expectVisible(page, selector, text) {
  const locator = text ? page.locator(selector, { hasText: text }) : page.locator(selector);
  await locator.first().waitFor({ state: "visible", timeout: 30000 });
}

async function adminLogin(page) {
  await page.goto(`${base}/admin.html`);
  await expectVisible(page, "#signin");
  await page.fill("#signin-name", "admin");
  await page.fill("#signin-password", password);
  await page.press("#signin-password", "Enter");
  await expectVisible(page, "#user-add");
}

async function employeeLogin(page) {
  await page.goto(`${base}/`);
  await expectVisible(page, "#start:not([disabled])");
  await page.keyboard.press("Tab");
  await page.focus("#start");
  await page.keyboard.press("Enter");
  await expectVisible(page, "#result");
  return (await page.textContent("#result")).trim();
}

async function attendanceRows(page) {
  await page.click("button[data-tab=attendance]");
  await page.click("#attendance-query button[type=submit]");
  await page.waitForTimeout(500);
  return page.locator("#attendance tr").count();
}

const results = [];
async function scenario(name, clip, body) {
  const { browser, page, errors } = await browserWith(clips[clip]);
  try {
    await body(page);
    if (errors.length) throw new Error(`console errors: ${errors.join(" | ")}`);
    results.push([name, null]);
  } catch (e) {
    results.push([name, e]);
  } finally {
    await page.screenshot({ path: path.join(out, `${name}.png`), fullPage: true }).catch(() => {});
    await browser.close();
  }
  const [, error] = results[results.length - 1];
  console.log(`${error ? "FAIL" : "ok  "} ${name}${error ? `: ${error.message}` : ""}`);
}

function check(condition, message) {
  if (!condition) throw new Error(message);
}

await scenario("admin_enrols_employee", "employee_still", async (page) => {
  await adminLogin(page);
  await page.fill("#add-name", "Ada <b>Lovelace</b>'); DROP TABLE users;--");
  await page.fill("#add-employee", "E-001");
  await page.click("#user-add button[type=submit]");
  await expectVisible(page, "#enrol");
  await page.click("#enrol-camera");
  for (let i = 0; i < 3; ++i) {
    await expectVisible(page, "#enrol-capture:not([disabled])");
    await page.click("#enrol-capture");
    await expectVisible(page, "#enrol-kept li:nth-child(" + (i + 1) + ")");
  }
  await page.click("#enrol-save");
  await expectVisible(page, "#enrol-quality", "Saved 3 pictures");
  // The name with HTML and SQL is stored verbatim and shown as text.
  await expectVisible(page, "#users td", "Ada <b>Lovelace</b>'); DROP TABLE users;--");
  if (docs) await page.screenshot({ path: path.join(docs, "admin.png"), fullPage: true });
});

await scenario("face_box_on_preview", "employee_still", async (page) => {
  await page.goto(`${base}/`);
  await expectVisible(page, "#face-box");
  await expectVisible(page, "#face-status", "Face found.");
  // The box lies on the face: inside the video, around its centre (the clip's face is
  // centred), and not the whole frame.
  const video = await page.locator("#video").boundingBox();
  const box = await page.locator("#face-box").boundingBox();
  check(box.x >= video.x - 1 && box.y >= video.y - 1 &&
        box.x + box.width <= video.x + video.width + 1 &&
        box.y + box.height <= video.y + video.height + 1, "the face box leaves the video");
  const cx = box.x + box.width / 2 - (video.x + video.width / 2);
  check(Math.abs(cx) < video.width * 0.15, `the face box is off centre by ${cx} px`);
  check(box.height < video.height * 0.9, "the face box covers the whole frame");
  if (docs) await page.screenshot({ path: path.join(docs, "login_preview.png"), fullPage: true });
});

await scenario("employee_logs_in_with_blink", "employee_blink", async (page) => {
  const text = await employeeLogin(page);
  check(/Welcome, Ada <b>Lovelace<\/b>/.test(text), `expected a welcome, got: ${text}`);
  check(/Checked in/.test(text), `expected a check-in, got: ${text}`);
  if (docs) await page.screenshot({ path: path.join(docs, "login.png"), fullPage: true });
  await adminLogin(page);
  check((await attendanceRows(page)) === 1, "the attendance table should have one row");
});

await scenario("employee_without_blink_refused", "employee_still", async (page) => {
  const text = await employeeLogin(page);
  check(/No blink was seen/.test(text), `expected "no blink", got: ${text}`);
  await adminLogin(page);
  check((await attendanceRows(page)) === 1, "a refused log-in must not add an attendance row");
});

await scenario("stranger_not_recognised", "stranger_blink", async (page) => {
  const text = await employeeLogin(page);
  check(/not recognised/.test(text), `expected "not recognised", got: ${text}`);
});

await scenario("deleted_user_cannot_log_in", "employee_blink", async (page) => {
  await adminLogin(page);
  await page.click("#users button.danger");
  await expectVisible(page, "#confirm");
  await page.click("#confirm button[value=ok]");
  await expectVisible(page, "#users-page", "No users");
  const text = await employeeLogin(page);
  check(/not recognised/.test(text), `expected "not recognised" after deletion, got: ${text}`);
});

await scenario("logout_ends_session", "employee_still", async (page) => {
  await adminLogin(page);
  await page.click("#logout");
  await expectVisible(page, "#signin");
  await page.reload();
  await expectVisible(page, "#signin");
  check(!(await page.isVisible("#console")), "the admin console must be hidden after log-out");
});

server.kill("SIGTERM");
fs.rmSync(work, { recursive: true, force: true });
const failed = results.filter(([, e]) => e).length;
if (failed) console.log(`server log:\n${serverLog.slice(-4000)}`);
console.log(`${results.length - failed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
