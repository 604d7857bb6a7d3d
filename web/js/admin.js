// The administrators' page: log-in, users (search, paging, add, enrol from the camera or
// photos, delete), attendance (by user and dates, CSV), API keys (create, shown once; revoke).
import { call, setCsrf, ApiError, snapshot, fileToBase64, startCamera, say } from "./api.js";

const PAGE = 20;
const $ = (id) => document.getElementById(id);
let usersOffset = 0;
let enrolUser = null;
let kept = [];

/** A table cell holding `text` as text (never HTML). */
function cell(text) {
  const td = document.createElement("td");
  td.textContent = text;
  return td;
}

function button(label, onClick, className) {
  const b = document.createElement("button");
  b.type = "button";
  b.textContent = label;
  if (className) b.className = className;
  b.addEventListener("click", onClick);
  return b;
}

/** Asks for confirmation in the page's dialog; resolves to true for "Delete". */
function confirmDelete(text) {
  const dialog = $("confirm");
  say("confirm-text", text);
  dialog.showModal();
  return new Promise((resolve) =>
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true }));
}

/** Shows the log-in form (session missing or ended). */
function signedOut(message) {
  setCsrf("");
  $("console").hidden = true;
  $("logout").hidden = true;
  say("who", "");
  $("signin").hidden = false;
  say("signin-error", message || "");
  $("signin-name").focus();
}

function signedIn(me) {
  setCsrf(me.csrf_token);
  $("signin").hidden = true;
  $("console").hidden = false;
  $("logout").hidden = false;
  say("who", `Signed in as ${me.name}`);
  showTab("users");
}

/** Runs an admin action; a 401 (session expired) returns to the log-in form. */
async function guarded(action, messageId) {
  try {
    return await action();
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) signedOut("Your session ended. Log in again.");
    else if (messageId) say(messageId, e.message);
    else throw e;
  }
}

function showTab(name) {
  for (const tab of document.querySelectorAll(".tab")) tab.hidden = tab.id !== `tab-${name}`;
  for (const b of document.querySelectorAll(".tabs button"))
    b.setAttribute("aria-current", b.dataset.tab === name ? "page" : "false");
  if (name === "users") loadUsers();
  if (name === "attendance") loadAttendance();
  if (name === "keys") loadKeys();
}

// Users.
async function loadUsers() {
  await guarded(async () => {
    const q = encodeURIComponent($("user-query").value.trim());
    const page = await call("GET", `/api/v1/users?q=${q}&offset=${usersOffset}&limit=${PAGE}`);
    const body = $("users");
    body.replaceChildren();
    for (const u of page.users) {
      const tr = document.createElement("tr");
      tr.append(cell(u.employee_id), cell(u.name), cell(String(u.templates)));
      const actions = document.createElement("td");
      actions.append(button("Enrol faces", () => openEnrol(u)),
                     button("Delete", () => deleteUser(u), "danger"));
      tr.append(actions);
      body.append(tr);
    }
    const last = Math.min(page.total, usersOffset + page.users.length);
    say("users-page", page.total ? `${usersOffset + 1}–${last} of ${page.total}` : "No users");
    $("users-prev").disabled = usersOffset === 0;
    $("users-next").disabled = last >= page.total;
    const select = $("att-user");
    const chosen = select.value;
    select.replaceChildren(new Option("everyone", ""));
    for (const u of page.users) select.append(new Option(`${u.name} (${u.employee_id})`, String(u.id)));
    select.value = chosen;
  });
}

async function deleteUser(user) {
  if (!(await confirmDelete(`Delete ${user.name} (${user.employee_id}) and their faces?`))) return;
  await guarded(async () => {
    await call("DELETE", `/api/v1/users/${user.id}`);
    await loadUsers();
  }, "users-page");
}

async function addUser(event) {
  event.preventDefault();
  await guarded(async () => {
    const user = await call("POST", "/api/v1/users",
                            { name: $("add-name").value.trim(), employee_id: $("add-employee").value.trim() });
    say("add-message", `Added ${user.name}. Now enrol their face.`);
    $("user-add").reset();
    await loadUsers();
    openEnrol(user);
  }, "add-message");
}

// Enrolment: every picture is checked by the server before it is kept.
function openEnrol(user) {
  enrolUser = user;
  kept = [];
  renderKept();
  say("enrol-name", user.name);
  say("enrol-quality", "");
  $("enrol").hidden = false;
  $("enrol-camera").focus();
}

function renderKept() {
  const list = $("enrol-kept");
  list.replaceChildren();
  kept.forEach((image, i) => {
    const li = document.createElement("li");
    const img = document.createElement("img");
    img.src = `data:image/jpeg;base64,${image}`;
    img.alt = `Picture ${i + 1}`;
    li.append(img);
    list.append(li);
  });
  $("enrol-save").disabled = kept.length < 3;
  $("enrol-capture").disabled = kept.length >= 5 || !$("enrol-video").srcObject;
}

async function keepIfGood(image) {
  if (kept.length >= 5) {
    say("enrol-quality", "Five pictures are enough: save them.");
    return;
  }
  await guarded(async () => {
    const verdict = await call("POST", "/api/v1/faces/check", { image });
    if (!verdict.ok) {
      say("enrol-quality", `Not kept: ${verdict.message}`);
      return;
    }
    kept.push(image);
    renderKept();
    const more = kept.length < 3 ? ` Take ${3 - kept.length} more.` : "";
    say("enrol-quality", `Picture ${kept.length} is good (sharpness ${Math.round(verdict.sharpness)}).${more}`);
  }, "enrol-quality");
}

async function saveFaces() {
  await guarded(async () => {
    const answer = await call("POST", `/api/v1/users/${enrolUser.id}/faces`, { images: kept });
    say("enrol-quality", `Saved ${answer.added} pictures for ${enrolUser.name}.`);
    kept = [];
    renderKept();
    await loadUsers();
  }, "enrol-quality");
}

// Attendance.
function attendanceQuery() {
  const params = new URLSearchParams();
  if ($("att-user").value) params.set("user_id", $("att-user").value);
  if ($("att-from").value) params.set("from", $("att-from").value);
  if ($("att-to").value) params.set("to", $("att-to").value);
  return params.toString();
}

async function loadAttendance(event) {
  if (event) event.preventDefault();
  await guarded(async () => {
    const query = attendanceQuery();
    $("att-csv").href = `/api/v1/attendance.csv?${query}`;
    const answer = await call("GET", `/api/v1/attendance?${query}`);
    const body = $("attendance");
    body.replaceChildren();
    for (const e of answer.events) {
      const tr = document.createElement("tr");
      const time = new Date(e.at).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
      tr.append(cell(e.day), cell(time), cell(e.employee_id), cell(e.name),
                cell(e.kind === "check_out" ? "check-out" : "check-in"));
      body.append(tr);
    }
  });
}

// API keys.
async function loadKeys() {
  await guarded(async () => {
    const answer = await call("GET", "/api/v1/keys");
    const body = $("keys");
    body.replaceChildren();
    for (const k of answer.keys) {
      const tr = document.createElement("tr");
      tr.append(cell(k.name), cell(`${k.prefix}…`), cell(new Date(k.created_at).toLocaleString()),
                cell(k.revoked_at ? "revoked" : "active"));
      const actions = document.createElement("td");
      if (!k.revoked_at) actions.append(button("Revoke", () => revokeKey(k), "danger"));
      tr.append(actions);
      body.append(tr);
    }
  });
}

async function createKey(event) {
  event.preventDefault();
  await guarded(async () => {
    const answer = await call("POST", "/api/v1/keys", { name: $("key-name").value.trim() });
    const shown = $("key-new");
    shown.hidden = false;
    shown.textContent = `New key (copy it now, it is not shown again): ${answer.key}`;
    $("key-add").reset();
    await loadKeys();
  });
}

async function revokeKey(key) {
  if (!(await confirmDelete(`Revoke the key “${key.name}”? Programs using it stop working.`))) return;
  await guarded(async () => {
    await call("DELETE", `/api/v1/keys/${key.id}`);
    await loadKeys();
  });
}

// Wiring.
$("signin").addEventListener("submit", async (event) => {
  event.preventDefault();
  try {
    const me = await call("POST", "/api/v1/admin/login",
                          { name: $("signin-name").value, password: $("signin-password").value });
    $("signin").reset();
    signedIn(me);
  } catch (e) {
    say("signin-error", e instanceof ApiError && e.status === 429
          ? `Too many attempts. Try again in ${e.retryAfter || 60} s.` : e.message);
  }
});
$("logout").addEventListener("click", async () => {
  await call("POST", "/api/v1/admin/logout").catch(() => {});
  signedOut("You are logged out.");
});
for (const b of document.querySelectorAll(".tabs button"))
  b.addEventListener("click", () => showTab(b.dataset.tab));
$("user-search").addEventListener("submit", (event) => {
  event.preventDefault();
  usersOffset = 0;
  loadUsers();
});
$("users-prev").addEventListener("click", () => { usersOffset = Math.max(0, usersOffset - PAGE); loadUsers(); });
$("users-next").addEventListener("click", () => { usersOffset += PAGE; loadUsers(); });
$("user-add").addEventListener("submit", addUser);
$("enrol-camera").addEventListener("click", async () => {
  try {
    await startCamera($("enrol-video"));
    renderKept();
    $("enrol-capture").focus();
  } catch (e) {
    say("enrol-quality", e.message);
  }
});
$("enrol-capture").addEventListener("click", () => keepIfGood(snapshot($("enrol-video"))));
$("enrol-files").addEventListener("change", async (event) => {
  for (const file of event.target.files) await keepIfGood(await fileToBase64(file));
  event.target.value = "";
});
$("enrol-save").addEventListener("click", saveFaces);
$("enrol-cancel").addEventListener("click", () => { $("enrol").hidden = true; kept = []; });
$("attendance-query").addEventListener("submit", loadAttendance);
$("key-add").addEventListener("submit", createKey);

call("GET", "/api/v1/admin/me").then(signedIn).catch(() => signedOut());
