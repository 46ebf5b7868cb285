#!/usr/bin/env bash
# End-to-end latency under load: starts `triage serve` (embedded storage, the demonstration models, CPU unless a GPU
# is there) with its HL7 updates going to the load generator's receiver, replays phantom studies at a steady rate
# (an HL7 order, then the images over C-STORE), and writes OUT.csv, OUT.md and OUT.png (benchmarks/LoadGen).
#
#   benchmarks/e2e/run.sh [--studies N] [--per-minute R] [--kind HeadCt|ChestXr|Mix] [--ct-slices 200] [--ct-matrix 512]
#                         [--pool P] [--warmup-minutes W] OUT
#
# Example (the issue's figures): run.sh --kind HeadCt --studies 12 --per-minute 2 results/e2e/headct-2pm
# Soak (an hour at 1,000 studies/h, 40 distinct studies repeated with new UIDs, verdict after a 10-minute warm-up):
#   run.sh --kind Mix --studies 1000 --per-minute 16.7 --pool 40 --warmup-minutes 10 results/e2e/soak-1h
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"; ROOT="$(cd "$HERE/../.." && pwd)"
STUDIES=12; RATE=2; KIND=Mix; SLICES=200; MATRIX=512; SEED=5150; POOL=0; WARMUP=0
while [ $# -gt 1 ]; do case "$1" in
  --studies) STUDIES=$2; shift 2;; --per-minute) RATE=$2; shift 2;; --kind) KIND=$2; shift 2;;
  --ct-slices) SLICES=$2; shift 2;; --ct-matrix) MATRIX=$2; shift 2;; --seed) SEED=$2; shift 2;;
  --pool) POOL=$2; shift 2;; --warmup-minutes) WARMUP=$2; shift 2;; *) echo "unknown option $1" >&2; exit 2;; esac; done
OUT="${1:?usage: run.sh [options] OUT}"
"$ROOT/triage" --help > /dev/null   # builds artifacts/triage once
dotnet build -c Release "$ROOT/benchmarks/LoadGen" > /dev/null
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
DICOM=$(port); HTTP=$(port); HL7=$(port); RECV=$(port)
WORK="$(mktemp -d)"
TRIAGE_HL7OUTBOUND__DESTINATIONS__0__NAME=RIS TRIAGE_HL7OUTBOUND__DESTINATIONS__0__HOST=127.0.0.1 \
TRIAGE_HL7OUTBOUND__DESTINATIONS__0__PORT=$RECV TRIAGE_HL7OUTBOUND__INITIALBACKOFF=00:00:00.200 TRIAGE_HL7OUTBOUND__MAXBACKOFF=00:00:01 \
  "$ROOT/triage" serve --data "$WORK" --dicom-port "$DICOM" --http-port "$HTTP" --hl7-port "$HL7" > "$WORK/serve.log" 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null || true; wait $PID 2>/dev/null || true; rm -rf "$WORK"' EXIT
for _ in $(seq 1 300); do curl -fs "http://127.0.0.1:$HTTP/health/live" > /dev/null 2>&1 && break; sleep 0.2; done
mkdir -p "$(dirname "$OUT")"
echo "# load average before: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
dotnet "$ROOT/benchmarks/LoadGen/bin/Release/net10.0/LoadGen.dll" --http "http://127.0.0.1:$HTTP" --dicom "127.0.0.1:$DICOM" \
  --hl7 "127.0.0.1:$HL7" --hl7-receive "$RECV" --studies "$STUDIES" --per-minute "$RATE" --kind "$KIND" --ct-slices "$SLICES" \
  --ct-matrix "$MATRIX" --pool "$POOL" --warmup-minutes "$WARMUP" --seed "$SEED" --pid "$PID" --out "$OUT"
rc=$?
echo "# load average after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
exit $rc
