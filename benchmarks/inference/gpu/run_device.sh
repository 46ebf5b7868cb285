#!/usr/bin/env bash
# Runs THERE (the lent GPU machine), in the last chained call, after every chunk was copied to /tmp/gx:
# unpacks, sets LD_LIBRARY_PATH for the CUDA provider, runs InferenceBench on CUDA for both examples, then the
# PyTorch comparison (torch_bench.py, same architectures, random weights) and writes everything to $OUT.
set -uo pipefail
export PATH="$PWD/.gpu/tools:$PATH"
bash .gpu/bin/remote.sh unpack /tmp/gx /tmp/gapp || exit 3
export LD_LIBRARY_PATH="$(bash .gpu/bin/remote.sh libpath /tmp/gapp)"
nvidia-smi -L | tee "$OUT/card.txt"
for m in cxr-densenet121-xrv ct-head-3win-resnet18; do
  /tmp/gapp/InferenceBench --model /tmp/gapp/models/$m --provider Cuda --batches 1,8,32 --iters 40 --warmup 10 \
    --csv "$OUT/$m-cuda.csv" 2>&1 | tee "$OUT/$m-cuda.txt"
done
# PyTorch on the same card: torchvision densenet121 at 224 (3-channel stem, a near-identical cost) and the same batches
timeout 240 python3 .gpu/bin/torch_bench.py --out /tmp/tb --models densenet121:224,resnet50:224 --batches 1,8,32 --device cuda \
  2>&1 | tee "$OUT/torch.txt"
