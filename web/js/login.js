// The employees' log-in page: camera preview, then the server's blink
// challenge: ask for a nonce, cue the blink when the server said, capture frames at the rate
// it requires, send them, show who was recognised and the attendance event (or why not).
// While idle, a face box follows the face on the preview (the server's detector, a few
// small frames per second).
import { call, ApiError, snapshot, startCamera, sleep, say } from "./api.js";

const video = document.getElementById("video");
const startButton = document.getElementById("start");
const cue = document.getElementById("cue");

/** Sentences for the server's refusal codes (service.h Refusal). */
const REASONS = {
  no_blink: "No blink was seen. Press Start and blink once when the page says “Blink now”.",
  unknown_face: "Your face was not recognised. Ask an administrator to enrol you.",
  different_people: "More than one person was seen during the check. Try again alone.",
  several_faces: "Several faces are in view. Only one person may stand in front of the camera.",
  no_face: "No face was found. Face the camera in good light.",
  face_too_small: "Your face is too small in the picture. Come closer to the camera.",
  too_blurry: "The picture is blurred. Hold still and try again.",
  too_dark: "It is too dark. Turn towards the light and try again.",
  bad_challenge: "The check expired. Press Start again.",
  bad_timing: "The camera did not deliver enough frames. Close other programs and try again.",
  reenrol: "Your enrolment was made with an older model. Ask an administrator to enrol you again.",
  bad_image: "The camera picture could not be read. Try again.",
};

function reasonOf(error) {
  if (error instanceof ApiError) {
    if (error.status === 429)
      return `Too many attempts. Try again in ${error.retryAfter || 60} s.`;
    return REASONS[error.code] || error.message;
  }
  return error.message;
}

/** Face-box look-ups: a 320-pixel frame about every 400 ms while no log-in runs. */
const DETECT_WIDTH = 320;
const DETECT_PERIOD_MS = 400;
let busy = false;

/** Where the video's frame is drawn inside its element (object-fit: contain). */
function videoFrameRect() {
  const w = video.clientWidth, h = video.clientHeight;
  const scale = Math.min(w / video.videoWidth, h / video.videoHeight);
  return { scale, left: (w - video.videoWidth * scale) / 2, top: (h - video.videoHeight * scale) / 2 };
}

function drawFaceBox(face, ok, sentScale) {
  const box = document.getElementById("face-box");
  if (!face) {
    box.hidden = true;
    return;
  }
  const r = videoFrameRect();
  const s = r.scale / sentScale;
  box.style.left = `${r.left + face.x * s}px`;
  box.style.top = `${r.top + face.y * s}px`;
  box.style.width = `${face.width * s}px`;
  box.style.height = `${face.height * s}px`;
  box.classList.toggle("warn", !ok);
  box.hidden = false;
}

async function followFace() {
  for (;;) {
    await sleep(DETECT_PERIOD_MS);
    if (busy || !video.videoWidth) continue;
    const sentScale = Math.min(1, DETECT_WIDTH / video.videoWidth);
    try {
      const answer = await call("POST", "/api/v1/faces/detect", { image: snapshot(video, DETECT_WIDTH) });
      if (busy) continue;
      drawFaceBox(answer.face, answer.ok, sentScale);
      say("face-status", answer.ok ? "Face found." : REASONS[answer.code] || "");
    } catch (e) {
      drawFaceBox(null);
      if (e instanceof ApiError && e.status === 429) await sleep(1000 * (e.retryAfter || 1));
    }
  }
}

function showResult(ok, title, detail) {
  const box = document.getElementById("result");
  box.hidden = false;
  box.classList.toggle("ok", ok);
  box.classList.toggle("fail", !ok);
  say("result-title", title);
  say("result-detail", detail);
}

function timeOf(ms) {
  return new Date(ms).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

/** One log-in attempt. */
async function login() {
  busy = true;
  drawFaceBox(null);
  say("face-status", "");
  startButton.disabled = true;
  document.getElementById("result").hidden = true;
  try {
    const challenge = await call("POST", "/api/v1/login/challenge");
    const t0 = performance.now();
    const fps = Math.max(10, challenge.min_fps * 1.25);
    const period = 1000 / fps;
    // Frames from a little before the cue until 2 s after it, within the server's limits.
    const wanted = Math.min(challenge.max_frames, Math.max(challenge.min_frames, Math.ceil(2.3 * fps)));
    const firstAt = Math.max(0, challenge.cue_after_ms - 300);
    say("progress", "Look at the camera…");
    const frames = [];
    for (let i = 0; i < wanted; ++i) {
      const due = firstAt + i * period;
      const wait = due - (performance.now() - t0);
      if (wait > 0) await sleep(wait);
      const t = performance.now() - t0;
      if (t >= challenge.cue_after_ms && cue.hidden) {
        cue.textContent = "Blink now";
        cue.hidden = false;
      }
      frames.push({ image: snapshot(video), t_ms: Math.round(t) });
    }
    cue.hidden = true;
    say("progress", "Checking…");
    const answer = await call("POST", "/api/v1/login", { nonce: challenge.nonce, frames });
    const kind = answer.event && answer.event.kind === "check_out" ? "Checked out" : "Checked in";
    const at = answer.event ? ` at ${timeOf(answer.event.at)}` : "";
    showResult(true, `Welcome, ${answer.user.name}`, `${kind}${at}.`);
  } catch (e) {
    showResult(false, "Not logged in", reasonOf(e));
  } finally {
    cue.hidden = true;
    say("progress", "");
    startButton.disabled = false;
    busy = false;
  }
}

startButton.addEventListener("click", login);

startCamera(video)
  .then(() => {
    say("camera-status", "Camera ready.");
    startButton.disabled = false;
    followFace();
  })
  .catch((e) => say("camera-status", e.message));
