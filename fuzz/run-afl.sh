#!/usr/bin/env bash
# AFL++ campaign for the parsers that face the network, through SharpFuzz.
#   fuzz/run-afl.sh [target=part10|stream|pixels|pdu|dimse|hl7|mllp|stow] [seconds=600]
# Needs: Debian package afl++ (apt-get install afl++) and the SharpFuzz instrumenter
# (dotnet tool install --global SharpFuzz.CommandLine). Builds into fuzz/out/<target>/ (ignored by git),
# instruments the target's assembly there, runs afl-fuzz on its seeds (fuzz/seeds/dicom for part10 and stream,
# fuzz/seeds/<target> otherwise), then replays every crash and hang
# with the uninstrumented harness and prints the summary. Findings stay in fuzz/out/<target>/findings/.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
TARGET="${1:-part10}"; SECONDS_TO_RUN="${2:-600}"
OUT="$HERE/out/$TARGET"; BIN="$OUT/bin"
export PATH="$PATH:$HOME/.dotnet/tools"
command -v afl-fuzz > /dev/null || { echo "missing afl-fuzz: apt-get install afl++" >&2; exit 1; }
command -v sharpfuzz > /dev/null || { echo "missing sharpfuzz: dotnet tool install --global SharpFuzz.CommandLine" >&2; exit 1; }
rm -rf "$OUT"; mkdir -p "$OUT"
dotnet publish "$HERE/TriageEngine.Fuzz.Dicom" -c Release -o "$BIN" -v q -nologo > "$OUT/build.log"
case "$TARGET" in
  part10|stream) ASSEMBLIES=(TriageEngine.Dicom.dll); SEEDS="$HERE/seeds/dicom" ;;
  pixels) ASSEMBLIES=(TriageEngine.Dicom.Codecs.dll); SEEDS="$HERE/seeds/pixels" ;;
  pdu|dimse) ASSEMBLIES=(TriageEngine.Dicom.Network.dll); SEEDS="$HERE/seeds/$TARGET" ;;
  hl7|mllp) ASSEMBLIES=(TriageEngine.Hl7.dll); SEEDS="$HERE/seeds/$TARGET" ;;
  stow) ASSEMBLIES=(TriageEngine.Application.dll TriageEngine.Dicom.dll); SEEDS="$HERE/seeds/stow" ;;
  *) echo "unknown target $TARGET" >&2; exit 2 ;;
esac
for a in "${ASSEMBLIES[@]}"; do sharpfuzz "$BIN/$a" >> "$OUT/instrument.log"; done
export AFL_SKIP_BIN_CHECK=1 AFL_NO_AFFINITY=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_SKIP_CPUFREQ=1 AFL_NO_UI=1
# -t: per-input time limit in ms (the .NET process is reused by SharpFuzz's fork server; a hang is > 5 s)
# -m none: the CLR reserves far more virtual memory than it uses
afl-fuzz -i "$SEEDS" -o "$OUT/findings" -t 5000 -m none -V "$SECONDS_TO_RUN" -- \
  "$BIN/TriageEngine.Fuzz.Dicom" afl "$TARGET" > "$OUT/afl.log" 2>&1 || true
STATS="$OUT/findings/default/fuzzer_stats"
grep -E '^(run_time|execs_done|execs_per_sec|corpus_count|saved_crashes|saved_hangs|bitmap_cvg|stability)' "$STATS" || tail -20 "$OUT/afl.log"
# replay findings with the uninstrumented build (a finding that does not reproduce is reported as ok)
dotnet publish "$HERE/TriageEngine.Fuzz.Dicom" -c Release -o "$OUT/plain" -v q -nologo > /dev/null
found=$(find "$OUT/findings/default/crashes" "$OUT/findings/default/hangs" -type f -name 'id:*' 2>/dev/null | wc -l)
echo "findings to replay: $found"
if [ "$found" -gt 0 ]; then
  "$OUT/plain/TriageEngine.Fuzz.Dicom" replay "$TARGET" "$OUT/findings/default/crashes" "$OUT/findings/default/hangs" || true
fi
