// Talks to wtp-serve's JSON API (/api/v1). Same origin only: the session is an HttpOnly
// cookie the page never sees; the CSRF token lives in memory (never in localStorage) and is
// sent on every state-changing request.

let csrfToken = "";

/** Remembers the CSRF token the server returned with the admin session. */
export function setCsrf(token) {
  csrfToken = token || "";
}

/** An API error: `status` (HTTP), `code` (the server's machine-readable reason), `message`
 * (a sentence for a person), `retryAfter` (seconds, for 429). */
export class ApiError extends Error {
  constructor(status, code, message, retryAfter) {
    super(message);
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter;
  }
}

/** Calls `method path` with an optional JSON body; resolves to the parsed JSON (or the text
 * for non-JSON answers), rejects with ApiError. */
export async function call(method, path, body) {
  const headers = {};
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (method !== "GET" && csrfToken) headers["X-CSRF-Token"] = csrfToken;
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "same-origin",
      cache: "no-store",
    });
  } catch (e) {
    throw new ApiError(0, "network", "The server cannot be reached. Check the connection.");
  }
  const type = response.headers.get("Content-Type") || "";
  const data = type.includes("application/json") ? await response.json() : await response.text();
  if (!response.ok) {
    const retry = Number(response.headers.get("Retry-After") || 0);
    const code = (data && data.code) || String(response.status);
    const message = (data && data.error) || `The server answered ${response.status}.`;
    throw new ApiError(response.status, code, message, retry);
  }
  return data;
}

/** The base64 payload of a JPEG of what `source` (video or canvas) shows, at most `maxWidth`
 * pixels wide. */
export function snapshot(source, maxWidth = 640, quality = 0.92) {
  const width = source.videoWidth || source.width;
  const height = source.videoHeight || source.height;
  const scale = Math.min(1, maxWidth / width);
  const canvas = document.createElement("canvas");
  canvas.width = Math.round(width * scale);
  canvas.height = Math.round(height * scale);
  canvas.getContext("2d").drawImage(source, 0, 0, canvas.width, canvas.height);
  return canvas.toDataURL("image/jpeg", quality).split(",")[1];
}

/** The base64 payload of a File (an uploaded photo). */
export function fileToBase64(file) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result).split(",")[1]);
    reader.onerror = () => reject(new Error(`Cannot read ${file.name}.`));
    reader.readAsDataURL(file);
  });
}

/** Starts the camera in `video`; resolves to the MediaStream or rejects with a sentence. */
export async function startCamera(video) {
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia)
    throw new Error("This browser cannot use a camera here (the page needs HTTPS or localhost).");
  try {
    const stream = await navigator.mediaDevices.getUserMedia({
      video: { width: { ideal: 640 }, height: { ideal: 480 } },
      audio: false,
    });
    video.srcObject = stream;
    await video.play();
    return stream;
  } catch (e) {
    throw new Error("The camera could not be started: allow camera access and reload the page.");
  }
}

/** Resolves after `ms` milliseconds. */
export function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Puts `text` in the element `id` (textContent: never HTML). */
export function say(id, text) {
  document.getElementById(id).textContent = text;
}
