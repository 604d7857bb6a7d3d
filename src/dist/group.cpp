// c10d's Gloo (and NCCL) headers are guarded by the macros LibTorch itself was built with.
#ifndef USE_C10D_GLOO
#define USE_C10D_GLOO
#endif
#include "dist/group.h"

#include <cstdlib>
#include <map>
#include <sstream>
#include <torch/csrc/distributed/c10d/GlooDeviceFactory.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#ifdef WTP_DIST_NCCL
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

#include "core/error.h"
#include "core/log.h"
#include "core/threads.h"

namespace wtp::dist {
namespace {

/// An integer environment variable, or nullopt when unset.
std::optional<long> env_int(const char* name, long low, long high) {
  const char* text = std::getenv(name);
  if (!text) return std::nullopt;
  char* end = nullptr;
  const long value = std::strtol(text, &end, 10);
  if (*text == '\0' || *end != '\0' || value < low || value > high)
    throw UsageError(std::string("environment variable ") + name + "='" + text +
                     "' must be an integer in [" + std::to_string(low) + ", " +
                     std::to_string(high) + "] (torchrun launch contract; see wtp-launch)");
  return value;
}

std::string seconds_text(std::chrono::milliseconds ms) {
  std::ostringstream s;
  s << static_cast<double>(ms.count()) / 1000.0 << " s";
  return s.str();
}

c10d::ReduceOp to_c10d(Group::ReduceOp op) {
  switch (op) {
    case Group::ReduceOp::kMax:
      return c10d::ReduceOp::MAX;
    case Group::ReduceOp::kMin:
      return c10d::ReduceOp::MIN;
    default:
      return c10d::ReduceOp::SUM;
  }
}

}  // namespace

std::chrono::milliseconds parse_timeout(const std::string& seconds, const std::string& what) {
  char* end = nullptr;
  const double value = std::strtod(seconds.c_str(), &end);
  if (seconds.empty() || *end != '\0' || !(value > 0) || value > 1e7)
    throw UsageError(what + " '" + seconds +
                     "' must be a positive number of seconds (the collective timeout)");
  return std::chrono::milliseconds(static_cast<std::int64_t>(value * 1000.0 + 0.5));
}

std::optional<LaunchEnv> LaunchEnv::from_environment() {
  const auto world = env_int("WORLD_SIZE", 1, 1 << 20);
  if (!world) return std::nullopt;
  LaunchEnv env;
  env.world_size = static_cast<int>(*world);
  const auto rank = env_int("RANK", 0, env.world_size - 1);
  if (!rank)
    throw UsageError("WORLD_SIZE is set but RANK is not: set both (and MASTER_ADDR, " +
                     std::string("MASTER_PORT), or start the ranks with wtp-launch"));
  env.rank = static_cast<int>(*rank);
  env.local_world_size =
      static_cast<int>(env_int("LOCAL_WORLD_SIZE", 1, env.world_size).value_or(env.world_size));
  env.local_rank = static_cast<int>(
      env_int("LOCAL_RANK", 0, env.local_world_size - 1).value_or(env.rank % env.local_world_size));
  if (const char* addr = std::getenv("MASTER_ADDR"); addr && *addr) env.master_addr = addr;
  env.master_port = static_cast<int>(env_int("MASTER_PORT", 1, 65535).value_or(29500));
  if (const char* t = std::getenv("WTP_DIST_TIMEOUT"); t && *t)
    env.timeout = parse_timeout(t, "WTP_DIST_TIMEOUT");
  return env;
}

int default_threads() {
  int local = 1;
  if (const char* text = std::getenv("LOCAL_WORLD_SIZE")) local = std::max(1, std::atoi(text));
  return std::max(1, available_cores() / local);
}

std::uint64_t module_checksum(const torch::nn::Module& module) {
  std::uint64_t hash = 1469598103934665603ULL;
  auto add = [&](const std::string& name, const torch::Tensor& t) {
    for (char c : name) hash = (hash ^ static_cast<unsigned char>(c)) * 1099511628211ULL;
    if (!t.defined()) return;
    auto cpu = t.detach().to(torch::kCPU).contiguous();
    const auto* bytes = static_cast<const unsigned char*>(cpu.data_ptr());
    const auto n = cpu.numel() * static_cast<std::int64_t>(cpu.element_size());
    for (std::int64_t i = 0; i < n; ++i) hash = (hash ^ bytes[i]) * 1099511628211ULL;
  };
  for (const auto& p : module.named_parameters()) add(p.key(), p.value());
  for (const auto& b : module.named_buffers()) add(b.key(), b.value());
  return hash;
}

std::pair<std::int64_t, std::int64_t> shard_range(std::int64_t n, int rank, int world) {
  require(world >= 1 && rank >= 0 && rank < world, "shard_range: bad rank/world");
  const std::int64_t base = n / world, extra = n % world;
  const std::int64_t begin = rank * base + std::min<std::int64_t>(rank, extra);
  return {begin, begin + base + (rank < extra ? 1 : 0)};
}

Group::Group(const LaunchEnv& env, torch::Device device) : env_(env), device_(device) {
  require(env.world_size >= 1 && env.rank >= 0 && env.rank < env.world_size,
          "dist: rank " + std::to_string(env.rank) + " outside world size " +
              std::to_string(env.world_size));
  const auto started = std::chrono::steady_clock::now();
  try {
    c10d::TCPStoreOptions so;
    so.port = static_cast<std::uint16_t>(env.master_port);
    so.isServer = env.rank == 0;
    so.numWorkers = static_cast<std::size_t>(env.world_size);
    so.waitWorkers = true;
    so.timeout = env.timeout;
    store_ = c10::make_intrusive<c10d::TCPStore>(env.master_addr, so);
  } catch (const std::exception& e) {
    throw std::runtime_error(
        "distributed: rank " + std::to_string(env.rank) + " could not join the job at " +
        env.master_addr + ":" + std::to_string(env.master_port) + " within " +
        seconds_text(env.timeout) + " (WTP_DIST_TIMEOUT / --dist-timeout): " + e.what() +
        (env.rank == 0 ? " (is the port in use? choose another MASTER_PORT)"
                       : " (is rank 0 running and MASTER_ADDR/MASTER_PORT right?)"));
  }
  try {
    if (device.is_cuda()) {
#ifdef WTP_DIST_NCCL
      auto options = c10d::ProcessGroupNCCL::Options::create();
      options->timeout = env.timeout;
      pg_ = c10::make_intrusive<c10d::ProcessGroupNCCL>(store_, env.rank, env.world_size, options);
      backend_name_ = "nccl";
#else
      throw UsageError("device " + device.str() +
                       " in a distributed run needs NCCL, which this LibTorch was built "
                       "without; train on device cpu (Gloo) or use a CUDA build of LibTorch");
#endif
    } else {
      auto options = c10d::ProcessGroupGloo::Options::create(env.timeout);
      // Loopback for a single machine; otherwise the interface that reaches MASTER_ADDR's
      // network (GLOO_SOCKET_IFNAME overrides, as in PyTorch).
      if (const char* ifname = std::getenv("GLOO_SOCKET_IFNAME"); ifname && *ifname)
        options->devices.push_back(::c10d::GlooDeviceFactory::makeDeviceForInterface(ifname));
      else if (env.master_addr == "127.0.0.1" || env.master_addr == "localhost")
        options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1"));
      else
        options->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
      pg_ = c10::make_intrusive<c10d::ProcessGroupGloo>(store_, env.rank, env.world_size, options);
      backend_name_ = "gloo";
    }
  } catch (const UsageError&) {
    throw;
  } catch (const std::exception& e) {
    fail("creating the process group", e, started);
  }
}

Group::~Group() = default;

void Group::fail(const std::string& what, const std::exception& cause,
                 std::chrono::steady_clock::time_point started) const {
  const double waited =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::ostringstream s;
  s.precision(3);
  s << "distributed: rank " << env_.rank << " of " << env_.world_size << ": " << what
    << " failed after " << waited << " s (collective timeout " << seconds_text(env_.timeout)
    << ", set with --dist-timeout or WTP_DIST_TIMEOUT): another rank died or hangs (see its "
    << "log; wtp-launch names it); resume with wtp-train --resume RUN_DIR. Cause: " << cause.what();
  std::string message = s.str();
  // c10::Error appends a C++ stack trace: keep the first line of the cause.
  if (auto nl = message.find('\n'); nl != std::string::npos) message.resize(nl);
  throw std::runtime_error(message);
}

void Group::wait(const c10::intrusive_ptr<c10d::Work>& work, const std::string& what) {
  const auto started = std::chrono::steady_clock::now();
  try {
    work->wait();
  } catch (const std::exception& e) {
    fail(what, e, started);
  }
}

void Group::broadcast(const std::vector<torch::Tensor>& tensors, int root,
                      const std::string& what) {
  // One flat buffer per dtype (Gloo broadcasts one tensor per call).
  std::map<int, std::vector<torch::Tensor>> by_dtype;
  for (const auto& t : tensors)
    if (t.defined() && t.numel() > 0) by_dtype[static_cast<int>(t.scalar_type())].push_back(t);
  for (auto& [dtype, group] : by_dtype) {
    std::vector<torch::Tensor> flat_parts;
    for (const auto& t : group) flat_parts.push_back(t.detach().reshape({-1}));
    std::vector<torch::Tensor> buffer{torch::cat(flat_parts).contiguous()};
    c10d::BroadcastOptions options;
    options.rootRank = root;
    const auto started = std::chrono::steady_clock::now();
    try {
      pg_->broadcast(buffer, options)->wait();
    } catch (const std::exception& e) {
      fail(what, e, started);
    }
    if (rank() == root) continue;
    torch::NoGradGuard no_grad;
    std::int64_t offset = 0;
    for (auto& t : group) {
      t.detach().copy_(buffer[0].narrow(0, offset, t.numel()).view(t.sizes()));
      offset += t.numel();
    }
  }
}

void Group::broadcast_module(torch::nn::Module& module, bool buffers_only,
                             const std::string& what) {
  std::vector<torch::Tensor> tensors;
  if (!buffers_only)
    for (auto& p : module.parameters()) tensors.push_back(p);
  for (auto& b : module.buffers()) tensors.push_back(b);
  broadcast(tensors, 0, what);
}

void Group::all_reduce(torch::Tensor& tensor, ReduceOp op, const std::string& what) {
  require(tensor.is_contiguous(), "dist::Group::all_reduce needs a contiguous tensor");
  std::vector<torch::Tensor> list{tensor};
  c10d::AllreduceOptions options;
  options.reduceOp = to_c10d(op);
  const auto started = std::chrono::steady_clock::now();
  try {
    pg_->allreduce(list, options)->wait();
  } catch (const std::exception& e) {
    fail(what, e, started);
  }
}

c10::intrusive_ptr<c10d::Work> Group::all_reduce_async(torch::Tensor& tensor) {
  std::vector<torch::Tensor> list{tensor};
  return pg_->allreduce(list);
}

torch::Tensor Group::all_gather_rows(const torch::Tensor& local, const std::string& what) {
  const auto started = std::chrono::steady_clock::now();
  try {
    // Row counts first, then every rank's rows padded to the largest count.
    std::vector<torch::Tensor> count{
        torch::tensor({local.size(0)}, torch::kLong).to(local.device())};
    std::vector<std::vector<torch::Tensor>> counts(1);
    for (int r = 0; r < world_size(); ++r) counts[0].push_back(torch::empty_like(count[0]));
    pg_->allgather(counts, count)->wait();
    std::vector<std::int64_t> rows;
    for (const auto& c : counts[0]) rows.push_back(c.item<std::int64_t>());
    const std::int64_t most = *std::max_element(rows.begin(), rows.end());
    auto shape = local.sizes().vec();
    shape[0] = most;
    std::vector<torch::Tensor> padded{torch::zeros(shape, local.options())};
    if (local.size(0) > 0) padded[0].narrow(0, 0, local.size(0)).copy_(local);
    std::vector<std::vector<torch::Tensor>> gathered(1);
    for (int r = 0; r < world_size(); ++r) gathered[0].push_back(torch::empty_like(padded[0]));
    pg_->allgather(gathered, padded)->wait();
    std::vector<torch::Tensor> parts;
    for (int r = 0; r < world_size(); ++r)
      parts.push_back(
          gathered[0][static_cast<std::size_t>(r)].narrow(0, 0, rows[static_cast<std::size_t>(r)]));
    return torch::cat(parts);
  } catch (const std::exception& e) {
    fail(what, e, started);
  }
}

void Group::barrier(const std::string& what) {
  // A tiny all-reduce: Gloo's barrier has no per-call timeout message of its own.
  torch::Tensor t = torch::zeros({1}, torch::TensorOptions().device(device_));
  all_reduce(t, ReduceOp::kSum, what);
}

void Group::signal(const std::string& key) { store_->set("wtp/" + key, {1}); }

void Group::wait_key(const std::string& key, std::chrono::milliseconds timeout,
                     const std::string& what) {
  const auto started = std::chrono::steady_clock::now();
  try {
    store_->wait({"wtp/" + key}, timeout);
  } catch (const std::exception& e) {
    fail(what, e, started);
  }
}

}  // namespace wtp::dist
