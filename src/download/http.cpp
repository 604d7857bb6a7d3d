#include "download/http.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <curl/curl.h>
#include <fstream>
#include <memory>
#include <mutex>
#include <regex>
#include <sstream>
#include <thread>

#include "core/log.h"
#include "core/progress.h"

namespace fs = std::filesystem;

namespace wtp::download {
namespace {

constexpr std::size_t kMaxBufferedBody = 1 << 20;  // HTML pages and error bodies kept in memory
constexpr int kMaxConfirmSteps = 3;                // Drive confirmation pages followed per URL

void global_init() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
      throw std::runtime_error("libcurl could not be initialised (curl_global_init failed)");
  });
}

std::string lower(std::string text) {
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

bool starts_with_nocase(const std::string& text, const std::string& prefix) {
  return text.size() >= prefix.size() && lower(text.substr(0, prefix.size())) == lower(prefix);
}

std::string trim(const std::string& text) {
  std::size_t b = 0, e = text.size();
  while (b < e && std::isspace(static_cast<unsigned char>(text[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(text[e - 1]))) --e;
  return text.substr(b, e - b);
}

std::string html_unescape(std::string text) {
  const std::pair<const char*, const char*> entities[] = {
      {"&amp;", "&"}, {"&quot;", "\""}, {"&#39;", "'"}, {"&lt;", "<"},
      {"&gt;", ">"},  {"&#x3D;", "="},  {"&#61;", "="}};
  for (const auto& [from, to] : entities) {
    std::string::size_type pos = 0;
    const std::string f(from);
    while ((pos = text.find(f, pos)) != std::string::npos) {
      text.replace(pos, f.size(), to);
      pos += std::string(to).size();
    }
  }
  return text;
}

/// "scheme://host[:port]" of a URL ("" if it has no scheme).
std::string url_origin(const std::string& url) {
  const auto scheme = url.find("://");
  if (scheme == std::string::npos) return "";
  const auto path = url.find_first_of("/?#", scheme + 3);
  return path == std::string::npos ? url : url.substr(0, path);
}

std::string resolve_url(const std::string& base, const std::string& ref) {
  if (ref.find("://") != std::string::npos) return ref;
  if (starts_with_nocase(ref, "//")) {
    const auto scheme = base.find("://");
    return (scheme == std::string::npos ? "https:" : base.substr(0, scheme + 1)) + ref;
  }
  if (!ref.empty() && ref[0] == '/') return url_origin(base) + ref;
  // Relative to the base's directory.
  auto query = base.find_first_of("?#");
  const std::string path = base.substr(0, query);
  const auto slash = path.rfind('/');
  const auto origin = url_origin(base);
  if (slash == std::string::npos || slash < origin.size()) return origin + "/" + ref;
  return path.substr(0, slash + 1) + ref;
}

/// Adds or replaces query parameter `key` in `url`.
std::string with_query_param(const std::string& url, const std::string& key,
                             const std::string& value) {
  const std::regex existing("([?&])" + key + "=[^&#]*");
  const std::string encoded = url_encode(value);
  if (std::regex_search(url, existing))
    return std::regex_replace(url, existing, "$1" + key + "=" + encoded,
                              std::regex_constants::format_first_only);
  return url + (url.find('?') == std::string::npos ? "?" : "&") + key + "=" + encoded;
}

std::string html_snippet(const std::string& body) {
  // The page title, or the first characters of text, to show in messages.
  std::smatch m;
  static const std::regex title("<title[^>]*>([^<]*)</title>", std::regex::icase);
  if (std::regex_search(body, m, title)) return trim(html_unescape(m[1].str()));
  std::string text = body.substr(0, 120);
  for (char& c : text)
    if (c == '\n' || c == '\r' || c == '\t') c = ' ';
  return trim(text);
}

std::string format_seconds(double seconds) {
  std::ostringstream out;
  out << seconds << " s";
  return out.str();
}

/// State of one HTTP request (one attempt).
struct Transfer {
  CURL* curl = nullptr;
  fs::path part;
  std::string label;
  bool want_html = false;  ///< the file itself is an HTML page
  bool show_progress = true;
  std::int64_t offset = 0;  ///< bytes already in .part when the request was made

  enum class Mode { kUndecided, kFile, kBuffer, kAbort };
  Mode mode = Mode::kUndecided;
  long code = 0;
  bool html = false;          ///< the body is an HTML page held in `buffer`
  std::string buffer;         ///< HTML page or error body
  std::string content_range;  ///< Content-Range of the latest response
  std::string abort_reason;
  bool restart_from_zero = false;
  bool write_failed = false;
  std::FILE* file = nullptr;
  std::int64_t written = 0;
  std::unique_ptr<Progress> progress;

  ~Transfer() {
    if (file) std::fclose(file);
  }

  /// Chooses where the body goes once the response's status line and headers are known.
  void decide() {
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code);
    char* type_ptr = nullptr;
    curl_easy_getinfo(curl, CURLINFO_CONTENT_TYPE, &type_ptr);
    const std::string type = type_ptr ? lower(type_ptr) : "";
    curl_off_t length = -1;
    curl_easy_getinfo(curl, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &length);

    if (code == 206) {
      // "bytes START-END/TOTAL": the server must resume exactly where .part ends.
      static const std::regex range_re("bytes\\s+(\\d+)-(\\d+)/(\\d+|\\*)", std::regex::icase);
      std::smatch m;
      if (!std::regex_search(content_range, m, range_re) || std::stoll(m[1].str()) != offset) {
        mode = Mode::kAbort;
        restart_from_zero = true;
        abort_reason = "the server resumed at a different offset (Content-Range '" + content_range +
                       "', expected start " + std::to_string(offset) + ")";
        return;
      }
      file = std::fopen(part.c_str(), "ab");
      std::int64_t total = m[3].str() == "*" ? 0 : std::stoll(m[3].str());
      open_progress(total);
    } else if (code == 200) {
      if (!want_html && type.rfind("text/html", 0) == 0) {
        mode = Mode::kBuffer;
        html = true;
        return;
      }
      if (offset > 0)
        log::info(label, ": the server ignored the range request (200 instead of 206); ",
                  "restarting from zero");
      offset = 0;
      file = std::fopen(part.c_str(), "wb");
      open_progress(length > 0 ? static_cast<std::int64_t>(length) : 0);
    } else {
      mode = Mode::kBuffer;
      return;
    }
    if (!file) {
      mode = Mode::kAbort;
      write_failed = true;
      abort_reason = "cannot write " + part.string();
      return;
    }
    mode = Mode::kFile;
  }

  void open_progress(std::int64_t total) {
    if (!show_progress) return;
    progress = std::make_unique<Progress>(label, total, "B");
    progress->set(offset);
  }

  std::size_t write(const char* data, std::size_t size) {
    if (mode == Mode::kUndecided) decide();
    switch (mode) {
      case Mode::kFile:
        if (std::fwrite(data, 1, size, file) != size) {
          write_failed = true;
          abort_reason = "cannot write " + part.string() + " (disk full?)";
          return 0;
        }
        written += static_cast<std::int64_t>(size);
        if (progress) progress->advance(static_cast<std::int64_t>(size));
        return size;
      case Mode::kBuffer:
        if (buffer.size() < kMaxBufferedBody)
          buffer.append(data, std::min(size, kMaxBufferedBody - buffer.size()));
        return size;
      default:
        return 0;
    }
  }

  /// Closes the file; false (with abort_reason) if the data could not be flushed.
  bool close() {
    if (!file) return true;
    const bool ok = std::fflush(file) == 0;
    const bool closed = std::fclose(file) == 0;
    file = nullptr;
    if (progress) progress->finish();
    if (!ok || !closed) {
      write_failed = true;
      abort_reason = "cannot write " + part.string() + " (disk full?)";
      return false;
    }
    return true;
  }
};

std::size_t write_callback(char* data, std::size_t size, std::size_t count, void* user) {
  return static_cast<Transfer*>(user)->write(data, size * count);
}

std::size_t header_callback(char* data, std::size_t size, std::size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const std::string line(data, size * count);
  if (starts_with_nocase(line, "HTTP/")) {
    t->content_range.clear();  // a new response (after a redirect or 100-continue)
  } else if (starts_with_nocase(line, "Content-Range:")) {
    t->content_range = trim(line.substr(14));
  }
  return size * count;
}

struct EasyDeleter {
  void operator()(CURL* curl) const { curl_easy_cleanup(curl); }
};

/// The outcome of one request.
struct Outcome {
  enum class Kind { kDone, kRetry, kFail, kQuota, kFollow };
  Kind kind = Kind::kFail;
  std::string message;   ///< kRetry / kFail / kQuota
  std::string next_url;  ///< kFollow
};

std::string warning_cookie(CURL* curl) {
  curl_slist* cookies = nullptr;
  std::string value;
  if (curl_easy_getinfo(curl, CURLINFO_COOKIELIST, &cookies) == CURLE_OK) {
    for (curl_slist* c = cookies; c; c = c->next) {
      // Netscape format: domain, tailmatch, path, secure, expires, name, value.
      std::vector<std::string> fields;
      std::stringstream line(c->data);
      std::string field;
      while (std::getline(line, field, '\t')) fields.push_back(field);
      if (fields.size() >= 7 && fields[5].rfind("download_warning", 0) == 0) value = fields[6];
    }
    curl_slist_free_all(cookies);
  }
  return value;
}

bool is_transient_curl_error(CURLcode code) {
  switch (code) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_PARTIAL_FILE:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_HTTP3:
    case CURLE_SSL_CONNECT_ERROR:
      return true;
    default:
      return false;
  }
}

Outcome request(CURL* curl, const std::string& url, const fs::path& part, const fs::path& dest,
                const HttpOptions& options) {
  Transfer t;
  t.curl = curl;
  t.part = part;
  t.label = "download " + dest.filename().string();
  const std::string ext = lower(dest.extension().string());
  t.want_html = ext == ".html" || ext == ".htm";
  t.show_progress = options.progress;
  std::error_code ec;
  t.offset = fs::exists(part, ec) ? static_cast<std::int64_t>(fs::file_size(part, ec)) : 0;
  if (ec) t.offset = 0;

  char error_buffer[CURL_ERROR_SIZE] = {0};
  const std::string range = std::to_string(t.offset) + "-";
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_RANGE, t.offset > 0 ? range.c_str() : nullptr);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, write_callback);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &t);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, header_callback);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &t);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error_buffer);
  if (t.offset > 0) log::info(t.label, ": resuming at byte ", t.offset, " from ", url);

  const CURLcode rc = curl_easy_perform(curl);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, nullptr);
  if (rc == CURLE_OK && t.mode == Transfer::Mode::kUndecided) t.decide();  // empty body
  const bool closed = t.close();
  const std::string where = " from " + url;

  if (t.write_failed || !closed) return {Outcome::Kind::kFail, t.abort_reason, ""};
  if (t.restart_from_zero) {
    fs::remove(part, ec);
    return {Outcome::Kind::kRetry, t.abort_reason + where + "; restarting from zero", ""};
  }
  if (rc != CURLE_OK) {
    std::string detail = error_buffer[0] ? error_buffer : curl_easy_strerror(rc);
    if (!detail.empty() && detail.back() == '\n') detail.pop_back();
    std::string message;
    if (rc == CURLE_OPERATION_TIMEDOUT) {
      message = "timed out" + where + " (no data for " + format_seconds(options.stall_timeout) +
                " or no connection within " + format_seconds(options.connect_timeout) +
                "; curl: " + detail + ")";
    } else if (rc == CURLE_COULDNT_CONNECT) {
      message = "could not connect" + where + " (curl: " + detail + ")";
    } else if (rc == CURLE_COULDNT_RESOLVE_HOST || rc == CURLE_COULDNT_RESOLVE_PROXY) {
      message = "could not resolve the host" + where + " (curl: " + detail + ")";
    } else if (rc == CURLE_PARTIAL_FILE || rc == CURLE_RECV_ERROR || rc == CURLE_GOT_NOTHING) {
      message = "the connection was closed mid-transfer" + where + " after " +
                std::to_string(t.offset + t.written) + " bytes (curl: " + detail + ")";
    } else if (rc == CURLE_TOO_MANY_REDIRECTS) {
      message = "too many redirects" + where;
    } else {
      message = "transfer failed" + where + " (curl: " + detail + ")";
    }
    return {is_transient_curl_error(rc) ? Outcome::Kind::kRetry : Outcome::Kind::kFail, message,
            ""};
  }

  if (t.mode == Transfer::Mode::kFile) return {Outcome::Kind::kDone, "", ""};
  if (t.html) {
    char* effective = nullptr;
    curl_easy_getinfo(curl, CURLINFO_EFFECTIVE_URL, &effective);
    const std::string page_url = effective ? effective : url;
    const auto page = parse_interstitial(t.buffer, page_url, warning_cookie(curl));
    if (page.kind == InterstitialPage::Kind::kQuota)
      return {Outcome::Kind::kQuota,
              "Google Drive refuses to serve the file" + where +
                  ": its download quota is exceeded (too many users fetched it recently)",
              ""};
    if (page.kind == InterstitialPage::Kind::kConfirm)
      return {Outcome::Kind::kFollow, "", page.next_url};
    return {Outcome::Kind::kFail,
            "got an HTML page ('" + html_snippet(t.buffer) + "') instead of the file" + where, ""};
  }
  // An HTTP error status.
  const std::string status = "HTTP " + std::to_string(t.code);
  std::string body = t.buffer.substr(0, 200);
  if (t.code == 416) {
    fs::remove(part, ec);
    return {Outcome::Kind::kRetry,
            status + " (range not satisfiable)" + where + "; restarting from zero", ""};
  }
  const bool transient = t.code >= 500 || t.code == 408 || t.code == 429;
  std::string reason;
  switch (t.code) {
    case 401:
      reason = " Unauthorized";
      break;
    case 403:
      reason = " Forbidden";
      break;
    case 404:
      reason = " Not Found (the file is not at this address)";
      break;
    case 410:
      reason = " Gone";
      break;
    case 429:
      reason = " Too Many Requests";
      break;
    case 500:
      reason = " Internal Server Error";
      break;
    case 502:
      reason = " Bad Gateway";
      break;
    case 503:
      reason = " Service Unavailable";
      break;
    case 504:
      reason = " Gateway Timeout";
      break;
    default:
      break;
  }
  if ((t.code == 403 || t.code == 429) &&
      parse_interstitial(t.buffer, url, "").kind == InterstitialPage::Kind::kQuota)
    return {Outcome::Kind::kQuota,
            "Google Drive refuses to serve the file" + where +
                ": its download quota is exceeded (too many users fetched it recently)",
            ""};
  return {transient ? Outcome::Kind::kRetry : Outcome::Kind::kFail, status + reason + where, ""};
}

std::string read_text(const fs::path& path) {
  std::ifstream in(path);
  std::string text;
  std::getline(in, text);
  return text;
}

}  // namespace

std::string url_encode(const std::string& text) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

InterstitialPage parse_interstitial(const std::string& html, const std::string& page_url,
                                    const std::string& cookie) {
  InterstitialPage page;
  if (html.find("Quota exceeded") != std::string::npos ||
      html.find("Too many users have viewed or downloaded this file recently") !=
          std::string::npos ||
      html.find("download quota for this file has been exceeded") != std::string::npos) {
    page.kind = InterstitialPage::Kind::kQuota;
    return page;
  }
  std::smatch m;
  // 1. The current page: <form id="download-form" action="..."> with hidden inputs
  //    id, export, confirm (often "t") and uuid.
  static const std::regex form_re("<form[^>]*id=\"download-form\"[^>]*>([\\s\\S]*?)</form>",
                                  std::regex::icase);
  static const std::regex action_re("action=\"([^\"]*)\"", std::regex::icase);
  static const std::regex input_re("<input[^>]*>", std::regex::icase);
  static const std::regex name_re("name=\"([^\"]*)\"", std::regex::icase);
  static const std::regex value_re("value=\"([^\"]*)\"", std::regex::icase);
  if (std::regex_search(html, m, form_re)) {
    const std::string form = m[0].str();
    const std::string inner = m[1].str();
    std::smatch a;
    const std::string open_tag = form.substr(0, form.find('>') + 1);
    std::string action = std::regex_search(open_tag, a, action_re)
                             ? html_unescape(a[1].str())
                             : page_url.substr(0, page_url.find('?'));
    std::string query;
    bool has_token = false;
    for (std::sregex_iterator it(inner.begin(), inner.end(), input_re), end; it != end; ++it) {
      const std::string tag = it->str();
      std::smatch n, v;
      if (!std::regex_search(tag, n, name_re)) continue;
      const std::string value =
          std::regex_search(tag, v, value_re) ? html_unescape(v[1].str()) : "";
      const std::string name = html_unescape(n[1].str());
      if (name == "confirm" || name == "uuid") has_token = true;
      query += (query.empty() ? "" : "&") + url_encode(name) + "=" + url_encode(value);
    }
    if (has_token) {
      const std::string base = resolve_url(page_url, action);
      page.kind = InterstitialPage::Kind::kConfirm;
      page.next_url = base + (base.find('?') == std::string::npos ? "?" : "&") + query;
      return page;
    }
  }
  // 2. The older page: a link carrying confirm=TOKEN.
  static const std::regex href_re("href=\"([^\"]*[?&](?:amp;)?confirm=[^\"]*)\"",
                                  std::regex::icase);
  if (std::regex_search(html, m, href_re)) {
    page.kind = InterstitialPage::Kind::kConfirm;
    page.next_url = resolve_url(page_url, html_unescape(m[1].str()));
    return page;
  }
  // 3. The oldest scheme: the token only in a download_warning cookie.
  if (!cookie.empty()) {
    page.kind = InterstitialPage::Kind::kConfirm;
    page.next_url = with_query_param(page_url, "confirm", cookie);
    return page;
  }
  // 4. A bare confirm=TOKEN anywhere in the page (e.g. in a script).
  static const std::regex token_re("confirm=([0-9A-Za-z_\\-]+)");
  if (std::regex_search(html, m, token_re)) {
    page.kind = InterstitialPage::Kind::kConfirm;
    page.next_url = with_query_param(page_url, "confirm", m[1].str());
    return page;
  }
  return page;
}

std::string fetch_url(const std::string& url, const fs::path& dest, const HttpOptions& options) {
  global_init();
  std::unique_ptr<CURL, EasyDeleter> curl(curl_easy_init());
  if (!curl) throw std::runtime_error("libcurl could not create a transfer handle");
  CURL* h = curl.get();
  curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(h, CURLOPT_MAXREDIRS, static_cast<long>(options.max_redirects));
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_USERAGENT, "wtp-download/0.1 (libcurl)");
  curl_easy_setopt(h, CURLOPT_COOKIEFILE, "");  // cookie engine on (Drive's warning cookie)
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(std::max(1.0, options.connect_timeout * 1000.0)));
  curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME,
                   static_cast<long>(std::max(1.0, std::ceil(options.stall_timeout))));

  fs::path part = dest;
  part += ".part";
  fs::path part_url = dest;
  part_url += ".part.url";
  std::error_code ec;
  // A .part from another URL may hold other bytes: never splice two sources together.
  if (fs::exists(part, ec) && read_text(part_url) != url) {
    log::info("discarding ", part.string(), " (it came from another address)");
    fs::remove(part, ec);
  }
  {
    std::ofstream out(part_url);
    out << url << "\n";
    if (!out) throw std::runtime_error("cannot write " + part_url.string());
  }

  std::string current = url;
  int attempt = 0;
  int confirm_steps = 0;
  for (;;) {
    const Outcome outcome = request(h, current, part, dest, options);
    switch (outcome.kind) {
      case Outcome::Kind::kDone: {
        fs::rename(part, dest, ec);
        if (ec)
          throw std::runtime_error("cannot rename " + part.string() + " to " + dest.string() +
                                   ": " + ec.message());
        fs::remove(part_url, ec);
        return current;
      }
      case Outcome::Kind::kFollow:
        if (++confirm_steps > kMaxConfirmSteps)
          throw FetchError(FetchError::Kind::kPermanent,
                           "Google Drive kept answering with its confirmation page for " + url);
        log::info("download ", dest.filename().string(),
                  ": Google Drive asked to confirm a file too large to scan for viruses; "
                  "confirming");
        current = outcome.next_url;
        break;
      case Outcome::Kind::kQuota:
        throw FetchError(FetchError::Kind::kQuota, outcome.message);
      case Outcome::Kind::kFail:
        throw FetchError(FetchError::Kind::kPermanent, outcome.message);
      case Outcome::Kind::kRetry: {
        if (attempt >= options.retries)
          throw FetchError(FetchError::Kind::kTransient,
                           outcome.message + " (gave up after " + std::to_string(attempt + 1) +
                               " attempt" + (attempt == 0 ? "" : "s") + ")");
        const double delay = std::min(60.0, options.backoff * std::pow(2.0, attempt));
        ++attempt;
        log::warn(outcome.message, "; retrying in ", delay, " s (retry ", attempt, " of ",
                  options.retries, ")");
        std::this_thread::sleep_for(std::chrono::duration<double>(delay));
        current = url;  // a confirmation token may have expired: start over
        confirm_steps = 0;
        break;
      }
    }
  }
}

}  // namespace wtp::download
