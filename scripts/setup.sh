#!/usr/bin/env bash
# Installs wtp's dependencies (Debian 12 packages only), then configures and builds.
# Idempotent: installs only what is missing and rebuilds incrementally.
#   bash scripts/setup.sh            # Release build of the library and the tools in ./build
#   BUILD_DIR=out bash scripts/setup.sh
#   WTP_BUILD_TESTS=1 ...  also the test executables (for ctest) and everything the tests use:
#                          WTP_WITH_PYTHON, WTP_WITH_POSTGRES, WTP_WITH_BROWSER and
#                          WTP_WITH_DATASETS default to 1
#   WTP_WITH_PYTHON=1 ...  also python3-torch for the PyTorch cross-check tests
#   WTP_WITH_DATASETS=1 ... also the image sets Debian packages (dataset-fashion-mnist, 30 MB:
#                          the README's second comparison and its loader's test on the real files)
#   WTP_WITH_BENCH=1 ...   also the benchmarks and their Python peers (torchvision, sklearn, optuna)
#   WTP_WITH_POSTGRES=1 ...  also the PostgreSQL 15 server the database tests start themselves
#   WTP_WITH_BROWSER=1 ...   also Chromium, Node.js and the pinned playwright-core of the web
#                            page's browser tests (tests/browser/package-lock.json)
#   WTP_CMAKE_ARGS="-DWTP_WERROR=ON" ...  extra CMake configure arguments (CI uses this one)
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD_DIR=${BUILD_DIR:-build}
if [ "${WTP_BUILD_TESTS:-0}" = 1 ]; then
  : "${WTP_WITH_PYTHON:=1}" "${WTP_WITH_POSTGRES:=1}" "${WTP_WITH_BROWSER:=1}" "${WTP_WITH_DATASETS:=1}"
fi
PACKAGES=(
  build-essential cmake pkg-config
  libtorch-dev            # LibTorch 1.13 (C++ frontend, TorchScript, c10d)
  libgloo-dev             # headers LibTorch's c10d Gloo process group includes
  libopenblas0-openmp     # fast BLAS for LibTorch's matrix products (~25x over the reference BLAS)
  libopencv-dev opencv-data  # image I/O, drawing, Haar cascades
  libcurl4-openssl-dev    # downloads
  libssl-dev              # SHA-256 (and MD5) of downloads: OpenSSL's libcrypto
  libarchive-dev          # .tgz/.zip/.rar extraction
  zlib1g-dev              # gzip-compressed IDX files (Fashion-MNIST)
  libyaml-cpp-dev         # configs
  libcli11-dev            # command lines
  libeigen3-dev           # similarity alignment (Eigen::umeyama), linked to wtp_align only
  nlohmann-json3-dev      # report.json, metadata
  libsqlite3-dev          # tuning studies, wtp-serve's embedded database
  libpqxx-dev             # wtp-serve's PostgreSQL backend (libpqxx 6.4 over libpq)
  catch2                  # tests (v2)
  libcpp-httplib-dev      # wtp-serve's HTTP API; local HTTP servers in tests
  libsodium-dev           # wtp-serve: Argon2id passwords, SHA-256, random tokens
)

# Optional: Python torch for the tests that cross-check our numbers against PyTorch and
# load our files from Python (they skip with a message without it). CI turns it on.
if [ "${WTP_WITH_PYTHON:-0}" = 1 ]; then
  PACKAGES+=(python3-torch python3-numpy)
  PACKAGES+=(python3-prometheus-client)  # parses wtp-serve's /metrics in its tests
fi
# Optional: a PostgreSQL 15 server for the tests of the PostgreSQL backends (they start a
# private server in a temporary directory and skip with a message without it). CI turns it on;
# nothing else needs it (wtp-serve connects to any PostgreSQL server).
if [ "${WTP_WITH_POSTGRES:-0}" = 1 ]; then
  PACKAGES+=(postgresql-15)
fi
# Optional: the web page's end-to-end tests drive Debian's Chromium with playwright-core from
# npm (pinned by tests/browser/package-lock.json; it downloads no browser of its own). Node.js
# and npm come from Debian unless the machine already has them (e.g. NodeSource's nodejs,
# which bundles npm and conflicts with Debian's npm package). CTest runs the driver
# (tests/browser/CMakeLists.txt); CI turns it on.
if [ "${WTP_WITH_BROWSER:-0}" = 1 ]; then
  PACKAGES+=(chromium)
  command -v node >/dev/null || PACKAGES+=(nodejs)
  command -v npm >/dev/null || PACKAGES+=(npm)
fi
# Optional: real image sets from Debian (Fashion-MNIST for the second recipe comparison).
if [ "${WTP_WITH_DATASETS:-0}" = 1 ]; then
  PACKAGES+=(dataset-fashion-mnist)
fi
# Optional: the Python peers the benchmarks (bench/run_*.sh) measure us against.
if [ "${WTP_WITH_BENCH:-0}" = 1 ]; then
  PACKAGES+=(python3-torch python3-numpy python3-torchvision python3-sklearn python3-optuna python3-faiss time)
fi

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  echo "setup: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if [ "${WTP_WITH_BROWSER:-0}" = 1 ]; then
  (cd tests/browser && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error)
fi

# Only what was asked for is configured and built: the tests and benchmarks take most of a
# fresh build's time, and the main job needs neither.
on_off() { if [ "${1:-0}" = 1 ]; then echo ON; else echo OFF; fi; }
tests=$(on_off "${WTP_BUILD_TESTS:-0}")
bench=$(on_off "${WTP_WITH_BENCH:-0}")
cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release -DWTP_BUILD_TESTS="$tests" \
  -DWTP_BUILD_BENCH="$bench" ${WTP_CMAKE_ARGS:-} >/dev/null
cmake --build "$BUILD_DIR" -j"$(nproc)"
echo "setup: built the library and tools (tests $tests, benchmarks $bench) into $BUILD_DIR/bin"
