#!/bin/sh
# Builds the libFuzzer harness with clang (-fsanitize=fuzzer,address) and runs it on a
# corpus seeded with the shared checkpoint fixtures. Usage (from the repository root):
#   tests/io/fuzz/run_fuzzer.sh [SECONDS]     (default 60)
set -eu
seconds=${1:-60}
root=$(cd "$(dirname "$0")/../../.." && pwd)
out=${TMPDIR:-/tmp}/wtp-fuzz-io
mkdir -p "$out/corpus"
cp "$root"/../shared/fixtures/checkpoints/*.pt "$root"/../shared/fixtures/checkpoints/*.ckpt "$out/corpus/" 2>/dev/null || true
torch_inc=/usr/include/torch/csrc/api/include
clang++ -std=c++17 -O1 -g -fsanitize=fuzzer,address -I"$root/src" -I"$torch_inc" \
  "$root/tests/io/fuzz/fuzz_torch_file.cpp" "$root"/src/io/pickle_value.cpp \
  "$root"/src/io/unpickler.cpp "$root"/src/io/torch_file.cpp "$root"/src/io/npy.cpp \
  "$root"/src/io/inspect.cpp "$root"/src/core/log.cpp \
  -ltorch -ltorch_cpu -lc10 -larchive -lyaml-cpp -lpthread -o "$out/fuzz_torch_file"
"$out/fuzz_torch_file" -max_total_time="$seconds" -rss_limit_mb=4096 -max_len=65536 "$out/corpus"
