#pragma once
/// Resumable HTTP(S) downloads with libcurl: one URL into one file.
///
/// Bytes go to `DEST.part`; a `.part` left by an earlier attempt or run is resumed with
/// an HTTP Range request when it came from the same URL (recorded in `DEST.part.url`).
/// A server that ignores the Range (200 instead of 206) or answers with another start
/// offset restarts the file from zero. Transient failures (connection refused or reset,
/// timeouts, truncated transfers, HTTP 5xx/408/429) are retried with exponential
/// backoff; permanent ones (HTTP 404, an unknown host, an HTML page instead of the file)
/// are not. Redirects are followed and the usual proxy variables (http_proxy,
/// https_proxy, no_proxy, ...) are honoured by libcurl.
///
/// Google Drive: a large file first answers with an HTML "can't scan for viruses" page.
/// The confirmation token is taken from the page's download form (`confirm`/`uuid`
/// fields), a `confirm=` link, or a `download_warning` cookie, and the request is made
/// again. A "quota exceeded" page is reported as FetchError::Kind::kQuota.
#include <filesystem>
#include <stdexcept>
#include <string>

namespace wtp::download {

/// Network behaviour of a download.
struct HttpOptions {
  double connect_timeout = 30;  ///< seconds allowed to establish a connection
  double stall_timeout = 60;    ///< abort when no byte arrives for this many seconds (>= 1)
  int retries = 3;              ///< extra attempts per URL on transient errors
  double backoff = 1.0;         ///< seconds before the first retry, doubled each time (max 60)
  int max_redirects = 10;       ///< redirects followed per request
  bool progress = true;         ///< show a byte progress bar
};

/// A download from one URL failed.
class FetchError : public std::runtime_error {
 public:
  enum class Kind {
    kTransient,  ///< still failing after the retries (timeouts, resets, 5xx)
    kPermanent,  ///< not worth retrying (404, unknown host, HTML instead of the file)
    kQuota,      ///< Google Drive's download quota is exceeded for this file
  };
  FetchError(Kind kind, const std::string& message) : std::runtime_error(message), kind_(kind) {}
  Kind kind() const { return kind_; }

 private:
  Kind kind_;
};

/// Downloads `url` to `dest` (through `dest.part`, resuming it when possible).
/// Ensures: on return `dest` holds the complete body and no `.part` is left; on failure
/// a FetchError is thrown whose message names the URL and the cause, and the `.part`
/// is kept for a later resume. Returns the URL that finally served the bytes.
std::string fetch_url(const std::string& url, const std::filesystem::path& dest,
                      const HttpOptions& options);

/// What an HTML page returned instead of a file means.
struct InterstitialPage {
  enum class Kind {
    kUnknown,  ///< some other page (login, error, ...)
    kConfirm,  ///< Google Drive's virus-scan warning: fetch `next_url` instead
    kQuota,    ///< Google Drive's quota-exceeded page
  };
  Kind kind = Kind::kUnknown;
  std::string next_url;  ///< for kConfirm: the URL that serves the file
};

/// Reads a Google Drive interstitial page served for `page_url`. `warning_cookie` is the
/// value of a `download_warning*` cookie set with the page ("" if none). Exposed for tests.
InterstitialPage parse_interstitial(const std::string& html, const std::string& page_url,
                                    const std::string& warning_cookie);

/// Percent-encodes a URL query component (RFC 3986 unreserved characters kept).
std::string url_encode(const std::string& text);

}  // namespace wtp::download
