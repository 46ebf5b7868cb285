#!/usr/bin/env bash
# Peers and TriageEngine on the same workload, same protocol, one table.
#   benchmarks/dicom/run.sh                 peers (ONLY, default "dcmtk-lib pydicom") + ours, then table.py
#   SKIP_PEERS=1 benchmarks/dicom/run.sh    ours only, tabled beside the newest peer results already there
#   TASKS="header decode" SETS="ct-native" REPS=5 BENCH_WARMUP_S=8 benchmarks/dicom/run.sh
# The peer bench (shared/peers/bench) is copied to $PEERS (default /tmp/peer-bench) as its README says; its
# run-peers.sh generates the workload there on first use (~240 MB, needs the Debian peers: --install).
# Results: $PEERS/results/triage-<timestamp>.txt (our RESULT lines) and the table on stdout.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"; ROOT="$(cd "$HERE/../.." && pwd)"
PEERS="${PEERS:-/tmp/peer-bench}"; SHARED="${SHARED:-$ROOT/../shared/peers/bench}"
ONLY="${ONLY:-dcmtk-lib pydicom}"; REPS="${REPS:-5}"; MAXS="${MAXS:-120}"
TASKS="${TASKS:-header readall stream decode}"; SETS="${SETS:-ct-native cxr-native}"
if [ ! -x "$PEERS/run-peers.sh" ]; then
  [ -d "$SHARED" ] || { echo "peer bench not found at $SHARED (set SHARED=)" >&2; exit 1; }
  cp -r "$SHARED" "$PEERS" && chmod -R u+w "$PEERS"
fi
[ -f "$PEERS/data/MANIFEST.txt" ] || (cd "$PEERS" && ./gen-workload.sh)
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)  cpus: $(nproc)" >&2
if [ -z "${SKIP_PEERS:-}" ]; then
  (cd "$PEERS" && ONLY="$ONLY" REPS="$REPS" ./run-peers.sh > /dev/null)
fi
dotnet build "$ROOT/benchmarks/TriageEngine.Benchmarks.Dicom" -c Release -v q -nologo > /dev/null
BENCH="$ROOT/benchmarks/TriageEngine.Benchmarks.Dicom/bin/Release/net10.0/TriageEngine.Benchmarks.Dicom"
OURS="$PEERS/results/triage-$(date +%Y%m%d-%H%M%S).txt"; mkdir -p "$PEERS/results"; : > "$OURS"
for s in $SETS; do
  for t in $TASKS; do
    echo "[triage] $t $s" >&2
    "$BENCH" protocol "$t" "$s" "$PEERS/data/$s" "$REPS" "$MAXS" | tee -a "$OURS" | grep '^RESULT' > /dev/null || echo "  (no result)" >&2
  done
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
RAW="$PEERS/results/latest/raw.txt"; [ -f "$RAW" ] || RAW=/dev/null
/usr/bin/python3 "$PEERS/table.py" "$RAW" "$OURS"
echo "ours: $OURS   peers: $(readlink -f "$RAW")"
