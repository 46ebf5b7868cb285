#!/usr/bin/env bash
# Prepares, HERE, everything the GPU run needs: the example models, a self-contained InferenceBench with them
# inside, the shared GPU tools, zstd, and the chunks to carry. Prints the chained device calls to make.
#   bash benchmarks/inference/gpu/prepare.sh          (from the repository root)
set -euo pipefail
ROOT="$(git rev-parse --show-toplevel)"
cd "$ROOT"
SHARED="${SHARED_GPU:-$ROOT/../shared/gpu}"
grep -qx '/.gpu/' .git/info/exclude 2>/dev/null || grep -qx '/.gpu/' .gitignore || echo '/.gpu/' >> .git/info/exclude
rm -rf .gpu/publish .gpu/xfer && mkdir -p .gpu/bin .gpu/tools
cp "$SHARED"/*.sh "$SHARED"/*.py .gpu/bin/
cp benchmarks/inference/gpu/run_device.sh .gpu/bin/
cp /usr/bin/zstd .gpu/tools/
/usr/bin/python3 models/examples/export.py --out models/examples/_out
dotnet publish benchmarks/inference/InferenceBench -c Release -r linux-x64 --self-contained true -o .gpu/publish --nologo -v quiet
mkdir -p .gpu/publish/models && cp -r models/examples/_out/* .gpu/publish/models/
# CPU check of the very binary that travels
.gpu/publish/InferenceBench --model .gpu/publish/models/cxr-densenet121-xrv --batches 1 --iters 2 --warmup 1
bash .gpu/bin/pack.sh .gpu/publish .gpu/xfer 48
ls .gpu/xfer
