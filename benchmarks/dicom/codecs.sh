#!/usr/bin/env bash
# Lossless codec decode, the dcmtk library and TriageEngine interleaved on the same files, single thread:
# RLE (ct-rle) and JPEG Lossless SV1 (ct-jpll) from the peers' workload, and JPEG-LS lossless (ct-jpls), which the
# peers' workload lacks: made here from ct-native with dcmtk's dcmcjpls. The peers' dcmtk_bench registers the RLE and
# JPEG decoders only, so a copy of it with dcmtk's JPEG-LS decoder registered as well is built next to it.
#   benchmarks/dicom/codecs.sh [ROUNDS=2]       RESULT lines of both, then one table (decoded MB/s = files/s x 0.5 MiB)
# Needs the peer bench in $PEERS (benchmarks/dicom/run.sh puts it there) and Debian's libdcmtk-dev, dcmtk.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"; ROOT="$(cd "$HERE/../.." && pwd)"
PEERS="${PEERS:-/tmp/peer-bench}"; ROUNDS="${1:-2}"; REPS="${REPS:-5}"
[ -d "$PEERS/data/ct-native" ] || { echo "no workload in $PEERS/data: run benchmarks/dicom/run.sh first" >&2; exit 1; }
if [ ! -d "$PEERS/data/ct-jpls" ] || [ "$(ls "$PEERS/data/ct-jpls" | wc -l)" -ne "$(ls "$PEERS/data/ct-native" | wc -l)" ]; then
  rm -rf "$PEERS/data/ct-jpls"; mkdir -p "$PEERS/data/ct-jpls"
  for f in "$PEERS/data/ct-native"/*.dcm; do dcmcjpls "$f" "$PEERS/data/ct-jpls/$(basename "$f")"; done
fi
PEER="$PEERS/build/dcmtk_bench_jpls"
if [ ! -x "$PEER" ]; then
  mkdir -p "$PEERS/build"
  sed -e 's|#include "dcmtk/dcmjpeg/djdecode.h"|#include "dcmtk/dcmjpeg/djdecode.h"\n#include "dcmtk/dcmjpls/djdecode.h"|' \
      -e 's|  DJDecoderRegistration::registerCodecs();|  DJDecoderRegistration::registerCodecs();\n  DJLSDecoderRegistration::registerCodecs();|' \
      "$PEERS/dcmtk-inproc/dcmtk_bench.cc" > "$PEERS/build/dcmtk_bench_jpls.cc"
  g++ -O2 -std=c++17 -o "$PEER" "$PEERS/build/dcmtk_bench_jpls.cc" -ldcmjpls -ldcmjpeg -lijg8 -lijg12 -lijg16 -ldcmimgle -ldcmdata -loflog -lofstd
fi
dotnet build "$ROOT/benchmarks/TriageEngine.Benchmarks.Dicom" -c Release -v q -nologo > /dev/null
BENCH="$ROOT/benchmarks/TriageEngine.Benchmarks.Dicom/bin/Release/net10.0/TriageEngine.Benchmarks.Dicom"
OUT="$(mktemp)"
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)  cpus: $(nproc)" >&2
for r in $(seq 1 "$ROUNDS"); do
  for s in ct-rle ct-jpll ct-jpls; do
    (cd "$PEERS" && "$PEER" decode "$s" "data/$s" "$REPS") | grep '^RESULT' | tee -a "$OUT"
    "$BENCH" protocol decode "$s" "$PEERS/data/$s" "$REPS" | grep '^RESULT' | tee -a "$OUT"
  done
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
python3 - "$OUT" <<'EOF'
import re, sys, statistics
rows = {}
for line in open(sys.argv[1]):
    kv = dict(re.findall(r'(\w+)=(\S+)', line))
    rows.setdefault((kv['set'], kv['peer']), []).append(float(kv['files_per_s']))
print('| set | dcmtk library files/s | decoded MB/s | triage files/s | decoded MB/s | triage / dcmtk |')
print('|---|---:|---:|---:|---:|---:|')
for s in ('ct-rle', 'ct-jpll', 'ct-jpls'):
    d = statistics.median(rows.get((s, 'dcmtk-lib'), [float('nan')])); t = statistics.median(rows.get((s, 'triage'), [float('nan')]))
    mb = 524288 / 1e6
    print(f'| {s} | {d:,.0f} | {d*mb:,.0f} | {t:,.0f} | {t*mb:,.0f} | {t/d:.2f}x |')
EOF
rm -f "$OUT"
