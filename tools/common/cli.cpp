#include "common/cli.h"

#include <cstdio>
#include <iostream>

#include "core/error.h"
#include "core/log.h"
#include "core/threads.h"

namespace wtp::cli {

Tool::Tool(std::string name, std::string description, ConfigFlags flags)
    : app_(std::move(description), std::move(name)), flags_(flags) {
  app_.set_version_flag("--version", std::string(app_.get_name()) + " " + WTP_VERSION);
  app_.add_option("--threads", threads_,
                  "LibTorch intra-op threads (default: all cores; LibTorch itself would use 1)");
  app_.add_option("--log-level", log_level_, "debug, info, warn, error or quiet")
      ->capture_default_str();
  if (flags_ == ConfigFlags::kConfig) {
    app_.add_option("--config", config_path_, "YAML config file (include: bases are merged)");
    app_.add_option("--set", sets_, "override a config key: --set a.b.c=value (repeatable)");
    bind("--seed", "seed", "random seed (same seed + same config = same result)");
  }
}

CLI::Option* Tool::bind(const std::string& flag, const std::string& key, const std::string& help) {
  bindings_.push_back(Binding{flag, key, nullptr, "", false});
  // bindings_ may reallocate: CLI11 keeps a pointer to the string, so store by index.
  const std::size_t index = bindings_.size() - 1;
  auto* option = app_.add_option_function<std::string>(
      flag, [this, index](const std::string& v) { bindings_[index].value = v; },
      help + " [config key: " + key + "]");
  bindings_[index].option = option;
  return option;
}

CLI::Option* Tool::bind_flag(const std::string& flag, const std::string& key,
                             const std::string& help) {
  bindings_.push_back(Binding{flag, key, nullptr, "true", true});
  auto* option = app_.add_flag(flag)->description(help + " [config key: " + key + "]");
  bindings_.back().option = option;
  return option;
}

void Tool::build_config() {
  config_ = config_path_.empty() ? config::Node::map() : config::load_file(config_path_);
  for (const auto& assignment : sets_) config::apply_override(config_, assignment);
  for (const auto& b : bindings_) {
    if (b.option->count() == 0) continue;
    config::Node value = config::Node::scalar(b.value, config::Origin{b.flag + " " + b.value, 0});
    config::apply_override(config_, b.key + "=" + b.value);
    // Name the flag, not a synthetic --set, in messages about this value.
    config::Node* cursor = &config_;
    std::string rest = b.key;
    for (auto dot = rest.find('.'); dot != std::string::npos; dot = rest.find('.')) {
      cursor = cursor->find(rest.substr(0, dot));
      rest = rest.substr(dot + 1);
    }
    if (config::Node* leaf = cursor->find(rest)) leaf->set_origin(value.origin());
  }
}

int Tool::run(int argc, char** argv, const std::function<void()>& body) {
  const std::string name = app_.get_name();
  try {
    app_.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help and --version are "errors" with exit code 0.
    const int code = app_.exit(e);
    return code == 0 ? 0 : 2;
  }
  try {
    log::set_level(config::parse_enum<log::Level>(log_level_, "--log-level"));
    threads_set_ = set_threads(threads_);
    build_config();
    body();
    return 0;
  } catch (const UsageError& e) {
    std::fprintf(stderr, "%s: error: %s\n", name.c_str(), e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: failed: %s\n", name.c_str(), e.what());
    return 1;
  }
}

}  // namespace wtp::cli
