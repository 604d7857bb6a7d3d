#pragma once
/// Command-line conventions shared by every wtp tool (CLI11 lives here, never in src/).
///
/// Every tool has --help, --version, --threads, --log-level, and where it takes a config:
/// --config FILE, --set a.b=v (repeatable) and --seed (bound to the top-level key `seed`,
/// so every tool's options struct has a `seed` field). Tool flags that mirror a config
/// key are declared with bind(): the flag becomes an override of that key, so flags,
/// --set and config files go through the same strict decoding. Precedence, lowest first:
/// option defaults, --config file (with its include: bases), --set, bound flags.
///
///     int main(int argc, char** argv) {
///       wtp::cli::Tool tool("wtp-synth", "Generate synthetic face datasets");
///       tool.bind("--out", "out", "output directory")->required();
///       return tool.run(argc, argv, [&] {
///         auto opts = wtp::config::decode<SynthOptions>(tool.config());
///         ...
///       });
///     }
#include <CLI/CLI.hpp>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/config.h"

namespace wtp::cli {

/// What the tool accepts besides the always-present flags.
enum class ConfigFlags { kNone, kConfig };

class Tool {
 public:
  /// `name` e.g. "wtp-train"; `description` is the one-line summary shown by --help.
  Tool(std::string name, std::string description, ConfigFlags flags = ConfigFlags::kConfig);

  CLI::App& app() { return app_; }

  /// Declares a flag whose value overrides config key `key` (dotted path). Returns the
  /// CLI11 option so callers can add ->required(), ->check(...), etc.
  CLI::Option* bind(const std::string& flag, const std::string& key, const std::string& help);
  /// As bind(), for a flag without a value that sets a boolean key to true.
  CLI::Option* bind_flag(const std::string& flag, const std::string& key, const std::string& help);

  /// Parses argv, sets threads and log level, then runs `body`. Maps failures to exit
  /// codes with one message on stderr: usage/config errors (wtp::UsageError, CLI11
  /// errors) -> 2; anything else -> 1. Returns the exit code for main().
  int run(int argc, char** argv, const std::function<void()>& body);

  /// The merged configuration: --config file (if any), then --set, then bound flags.
  /// Valid inside run()'s body.
  const config::Node& config() const { return config_; }
  /// The intra-op thread count set for this run.
  int threads() const { return threads_set_; }
  /// --config path ("" if none).
  const std::string& config_path() const { return config_path_; }

 private:
  struct Binding {
    std::string flag;
    std::string key;
    CLI::Option* option = nullptr;
    std::string value;
    bool is_flag = false;
  };
  void build_config();

  CLI::App app_;
  ConfigFlags flags_;
  std::string config_path_;
  std::vector<std::string> sets_;
  int threads_ = 0;
  int threads_set_ = 0;
  std::string log_level_ = "info";
  std::vector<Binding> bindings_;
  config::Node config_;
};

}  // namespace wtp::cli
