#!/usr/bin/env bash
# Ingest benchmark: dcmtk storescu pushes the peer workload's 200-slice CT series (512x512, 16 bit) into
# `triage serve` over 1 and 8 concurrent associations. Our writes are durable: each instance is fsync'd and its
# row committed (SQLite, synchronous=FULL) before its C-STORE-RSP. The node runs ingest-only (triage disabled) so
# inference does not share the CPU with the push. With --peers it also runs the peers' dimse-bench.sh (dcmtk
# storescp, Orthanc) on the same files, so the figures come from one run on one machine.
#
#   benchmarks/ingest/run.sh [--peers] [--warm] [--reps N] DATA_DIR     # DATA_DIR: a folder of .dcm files (e.g. ct-native)
#
# --warm adds the running-server case: one server per association count, WARMUPS (default 20) untimed pushes first
# (the JIT's tier-up of a fresh process is then behind it, as in a server that has been up for a while: after four
# pushes the JIT still took a quarter of the server's CPU during the next ones, after twenty it was done), then N
# timed pushes into the same store, each a copy of the series with new Study, Series and SOP Instance UIDs (dcmodify,
# made beforehand, once for both association counts: each count has its own server and store).
#
# Stores are deleted only when the script ends: on a file system without a journal (this machine's ext4), creating
# a file right after thousands were deleted scans past every inode freed in the last 30 s, which tripled the cost
# of each new file; deleting between repetitions measured that, not the receivers (ours and the peers' alike).
#
# Then, per repetition, the triage-ready latency with the default rules: a node with triage enabled and default
# pipeline options receives the series over 8 associations, and the time from storescu's exit (just after the last
# C-STORE-RSP) to the server's "triage-ready" log line (the study claimed and its triage job enqueued) is taken;
# the server's own figure (claim time - last instance's received time, an upper bound) is printed beside it.
# The load average is printed before and after, since the machine is shared.
#
# Then dcmtk storescp --fork (no fsync) receives the same 8-association push, so the peer is also measured under
# the same senders as ours (8 storescu processes on the same 2 cores: each starts and loads its data dictionary);
# so does storescp --fork --ignore (received, answered, not stored: the bound these senders set for any receiver),
# and, when Orthanc is installed, Orthanc (the peers' configuration, fsync per instance).
#
# Prints RESULT lines in the peers' format. Needs dcmtk (storescu).
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"; ROOT="$(cd "$HERE/../.." && pwd)"
PEERS=0; REPS=3; WARM=0; WARMUPS=${WARMUPS:-20}
while [ $# -gt 0 ]; do case "$1" in --peers) PEERS=1; shift;; --warm) WARM=1; shift;; --reps) REPS=$2; shift 2;; *) break;; esac; done
DIR="$(cd "${1:?usage: run.sh [--peers] [--reps N] DATA_DIR}" && pwd)"
FILES=("$DIR"/*.dcm); N=${#FILES[@]}; BYTES=$(cat "${FILES[@]}" | wc -c)
export TCP_NODELAY=1   # dcmtk leaves Nagle on otherwise (40 ms per C-STORE-RSP)
"$ROOT/triage" --help > /dev/null   # build once
DLL="$ROOT/artifacts/triage/triage.dll"

TRASH="$(mktemp -d)"; trap 'rm -rf "$TRASH"' EXIT
discard() { mv "$@" "$TRASH"/; }   # deleted when the script ends, see above

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

run_ours() {  # $1 = associations; prints elapsed seconds
  local assoc=$1 work port pid t0 t1
  work="$(mktemp -d)"; port="$(free_port)"
  TRIAGE_PIPELINE__TRIAGEENABLED=false dotnet "$DLL" serve --data "$work" --dicom-port "$port" --http-port 0 --hl7-port 0 > "$work/serve.log" 2>&1 &
  pid=$!
  for _ in $(seq 1 150); do echoscu -to 1 -aec TRIAGE 127.0.0.1 "$port" > /dev/null 2>&1 && break; sleep 0.2; done
  t0=$(date +%s.%N)
  local per=$(( (N + assoc - 1) / assoc )) i=0 pids=()
  while [ $i -lt "$assoc" ]; do
    local chunk=("${FILES[@]:$((i * per)):$per}")
    if [ ${#chunk[@]} -gt 0 ]; then
      storescu -aet BENCHSCU -aec TRIAGE -to 10 -ts 60 -td 60 127.0.0.1 "$port" "${chunk[@]}" > "$work/send.$i.log" 2>&1 &
      pids+=($!)
    fi
    i=$((i + 1))
  done
  local rc=0; for p in "${pids[@]}"; do wait "$p" || rc=1; done
  t1=$(date +%s.%N)
  local stored; stored=$(find "$work/instances" -name '*.dcm' | wc -l)
  kill "$pid"; wait "$pid" 2>/dev/null || true
  discard "$work"
  [ "$rc" -eq 0 ] && [ "$stored" -eq "$N" ] || { echo "push failed: $stored of $N stored" >&2; return 1; }
  echo "$t1 - $t0" | bc -l
}

push() {  # $1 = port, $2 = associations, $3 = log prefix, then the files; waits for every storescu
  local port=$1 assoc=$2 log=$3; shift 3
  local files=("$@") per=$(( ($# + assoc - 1) / assoc )) i=0 pids=() rc=0
  while [ $i -lt "$assoc" ]; do
    local chunk=("${files[@]:$((i * per)):$per}")
    if [ ${#chunk[@]} -gt 0 ]; then
      storescu -aet BENCHSCU -aec TRIAGE -to 10 -ts 60 -td 60 127.0.0.1 "$port" "${chunk[@]}" > "$log.$i.log" 2>&1 &
      pids+=($!)
    fi
    i=$((i + 1))
  done
  for p in "${pids[@]}"; do wait "$p" || rc=1; done
  return $rc
}

run_warm() {  # $1 = associations; prints the elapsed seconds of each timed push, space-separated
  local assoc=$1 work port pid r t0 t1 out=()
  work="$(mktemp -d)"; port="$(free_port)"
  cat "$copies"/*/*.dcm > /dev/null   # page cache, as for the other rows
  TRIAGE_PIPELINE__TRIAGEENABLED=false dotnet "$DLL" serve --data "$work" --dicom-port "$port" --http-port 0 --hl7-port 0 > "$work/serve.log" 2>&1 &
  pid=$!
  for _ in $(seq 1 150); do echoscu -to 1 -aec TRIAGE 127.0.0.1 "$port" > /dev/null 2>&1 && break; sleep 0.2; done
  for r in $(seq $(( 1 - WARMUPS )) 0); do
    push "$port" "$assoc" "$work/warmup" "$copies/$r"/*.dcm || { echo "warm-up push failed" >&2; kill "$pid"; return 1; }
  done
  for r in $(seq 1 "$REPS"); do
    t0=$(date +%s.%N)
    push "$port" "$assoc" "$work/send$r" "$copies/$r"/*.dcm || { echo "push $r failed" >&2; kill "$pid"; return 1; }
    t1=$(date +%s.%N)
    out+=("$(echo "$t1 - $t0" | bc -l)")
  done
  local stored; stored=$(find "$work/instances" -name '*.dcm' | wc -l)
  kill "$pid"; wait "$pid" 2>/dev/null || true
  discard "$work"
  [ "$stored" -eq $(( N * (REPS + WARMUPS) )) ] || { echo "warm pushes: $stored of $(( N * (REPS + WARMUPS) )) stored" >&2; return 1; }
  echo "${out[@]}"
}

run_storescp_fork() {  # dcmtk storescp --fork (one child per association, no fsync) receiving the same 8-association push;
  # $1 = --ignore: the children receive each dataset and answer success but store nothing (a bound for any receiver)
  local work port pid t0 t1 stored want=$N
  work="$(mktemp -d)"; port="$(free_port)"
  [ "${1:-}" = --ignore ] && want=0
  storescp --fork ${1:-} -aet TRIAGE +xa -od "$work" "$port" > "$work.log" 2>&1 &
  pid=$!
  for _ in $(seq 1 150); do echoscu -to 1 -aec TRIAGE 127.0.0.1 "$port" > /dev/null 2>&1 && break; sleep 0.2; done
  t0=$(date +%s.%N)
  push "$port" 8 "$work.send" "${FILES[@]}" || { echo "storescp --fork push failed" >&2; kill "$pid"; return 1; }
  t1=$(date +%s.%N)
  stored=$(find "$work" -type f | wc -l)
  kill "$pid"; wait "$pid" 2>/dev/null || true
  discard "$work" "$work.log" "$work".send.*.log
  [ "$stored" -eq "$want" ] || { echo "storescp --fork ${1:-}: $stored files stored, $want expected" >&2; return 1; }
  echo "$t1 - $t0" | bc -l
}

run_orthanc8() {  # Orthanc (the peers' configuration: SQLite index, fsync per instance) receiving the same 8-association push
  local work port pid t0 t1 stored
  work="$(mktemp -d)"; port="$(free_port)"
  mkdir -p "$work/store" "$work/index"
  cat > "$work/orthanc.json" <<EOF
{ "Name": "ingest-bench", "StorageDirectory": "$work/store", "IndexDirectory": "$work/index",
  "StorageCompression": false, "Plugins": [], "HttpServerEnabled": false, "RemoteAccessAllowed": false,
  "DicomServerEnabled": true, "DicomAet": "TRIAGE", "DicomPort": $port, "DicomCheckCalledAet": false,
  "DicomAlwaysAllowStore": true, "SaveJobs": false, "SyncStorageArea": true }
EOF
  Orthanc "$work/orthanc.json" > "$work/recv.log" 2>&1 &
  pid=$!
  for _ in $(seq 1 150); do echoscu -to 1 -aec TRIAGE 127.0.0.1 "$port" > /dev/null 2>&1 && break; sleep 0.2; done
  t0=$(date +%s.%N)
  push "$port" 8 "$work/send" "${FILES[@]}" || { echo "Orthanc push failed" >&2; kill "$pid"; return 1; }
  t1=$(date +%s.%N)
  kill -TERM "$pid"
  for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
  wait "$pid" 2>/dev/null || true
  stored=$(find "$work/store" -type f -size +1k | wc -l)
  discard "$work"
  [ "$stored" -eq "$N" ] || { echo "Orthanc: $stored of $N stored" >&2; return 1; }
  echo "$t1 - $t0" | bc -l
}

uid() { python3 -c 'import uuid; print("2.25.%d" % uuid.uuid4().int)'; }

median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

run_latency() {  # default rules, 8 associations; prints "<client_ms> <server_ms>"
  local work port pid t1 line ts
  work="$(mktemp -d)"; port="$(free_port)"
  dotnet "$DLL" serve --data "$work" --dicom-port "$port" --http-port 0 --hl7-port 0 > "$work/serve.log" 2>&1 &
  pid=$!
  for _ in $(seq 1 150); do echoscu -to 1 -aec TRIAGE 127.0.0.1 "$port" > /dev/null 2>&1 && break; sleep 0.2; done
  local per=$(( (N + 7) / 8 )) i=0 pids=()
  while [ $i -lt 8 ]; do
    local chunk=("${FILES[@]:$((i * per)):$per}")
    if [ ${#chunk[@]} -gt 0 ]; then
      storescu -aet BENCHSCU -aec TRIAGE -to 10 -ts 60 -td 60 127.0.0.1 "$port" "${chunk[@]}" > "$work/send.$i.log" 2>&1 &
      pids+=($!)
    fi
    i=$((i + 1))
  done
  for p in "${pids[@]}"; do wait "$p"; done
  t1=$(date -u +%s.%N)
  line=""
  for _ in $(seq 1 100); do line=$(grep -m1 'triage-ready' "$work/serve.log" || true); [ -n "$line" ] && break; sleep 0.1; done
  kill "$pid"; wait "$pid" 2>/dev/null || true
  discard "$work"
  [ -n "$line" ] || { echo "no triage-ready line within 10 s" >&2; return 1; }
  ts=$(date -u -d "$(echo "$line" | awk '{print $1}')" +%s.%N)
  echo "$(echo "($ts - $t1) * 1000" | bc -l) $(echo "$line" | sed -E 's/.*triage-ready ([0-9]+) ms.*/\1/')"
}

echo "LOAD before $(cut -d' ' -f1-3 /proc/loadavg)"

for assoc in 1 8; do
  times=()
  for r in $(seq 1 "$REPS"); do times+=("$(run_ours "$assoc")"); done
  med=$(printf '%s\n' "${times[@]}" | median)
  printf 'RESULT peer=triage task=ingest-%dassoc set=%s files=%d bytes=%d reps=%d median_s=%.3f files_per_s=%.0f mb_per_s=%.1f passes=%s\n' \
    "$assoc" "$(basename "$DIR")" "$N" "$BYTES" "$REPS" "$med" "$(echo "$N / $med" | bc -l)" "$(echo "$BYTES / 1000000 / $med" | bc -l)" \
    "$(printf '%.3f,' "${times[@]}" | sed 's/,$//')"
done

if [ "$WARM" -eq 1 ]; then
  copies="$TRASH/copies"
  for r in $(seq $(( 1 - WARMUPS )) "$REPS"); do
    mkdir -p "$copies/$r"; cp "${FILES[@]}" "$copies/$r/"
    dcmodify -nb -q -m "(0020,000d)=$(uid)" -m "(0020,000e)=$(uid)" -gin "$copies/$r"/*.dcm
  done
  for assoc in 1 8; do
    read -r -a times < <(run_warm "$assoc")
    med=$(printf '%s\n' "${times[@]}" | median)
    printf 'RESULT peer=triage task=ingest-%dassoc-warm set=%s files=%d bytes=%d reps=%d median_s=%.3f files_per_s=%.0f mb_per_s=%.1f passes=%s\n' \
      "$assoc" "$(basename "$DIR")" "$N" "$BYTES" "$REPS" "$med" "$(echo "$N / $med" | bc -l)" "$(echo "$BYTES / 1000000 / $med" | bc -l)" \
      "$(printf '%.3f,' "${times[@]}" | sed 's/,$//')"
  done
fi

lat_client=(); lat_server=()
for r in $(seq 1 "$REPS"); do
  read -r c s < <(run_latency)
  lat_client+=("$c"); lat_server+=("$s")
done
printf 'RESULT peer=triage task=triage-ready-8assoc set=%s reps=%d median_ms=%.0f server_median_ms=%.0f passes_ms=%s server_passes_ms=%s\n' \
  "$(basename "$DIR")" "$REPS" "$(printf '%s\n' "${lat_client[@]}" | median)" "$(printf '%s\n' "${lat_server[@]}" | median)" \
  "$(printf '%.0f,' "${lat_client[@]}" | sed 's/,$//')" "$(printf '%s,' "${lat_server[@]}" | sed 's/,$//')"

# the same 8-association push into dcmtk storescp --fork: the peer under the sender's cost of ours (8 storescu
# processes starting and loading their dictionary on the same 2 cores), where the peers' row below has one sender
# Then the same push into `storescp --fork --ignore`, which receives every dataset and answers success without
# storing it: what these senders allow any receiver on this machine (their processes' CPU is most of the load).
for mode in store ignore; do
  times=()
  for r in $(seq 1 "$REPS"); do times+=("$(run_storescp_fork "$([ "$mode" = ignore ] && echo --ignore)")"); done
  med=$(printf '%s\n' "${times[@]}" | median)
  printf 'RESULT peer=storescp-fork%s task=ingest-8assoc set=%s files=%d bytes=%d reps=%d median_s=%.3f files_per_s=%.0f mb_per_s=%.1f passes=%s\n' \
    "$([ "$mode" = ignore ] && echo -ignore)" "$(basename "$DIR")" "$N" "$BYTES" "$REPS" "$med" "$(echo "$N / $med" | bc -l)" \
    "$(echo "$BYTES / 1000000 / $med" | bc -l)" "$(printf '%.3f,' "${times[@]}" | sed 's/,$//')"
done

if command -v Orthanc > /dev/null; then
  times=()
  for r in $(seq 1 "$REPS"); do times+=("$(run_orthanc8)"); done
  med=$(printf '%s\n' "${times[@]}" | median)
  printf 'RESULT peer=orthanc task=ingest-8assoc set=%s files=%d bytes=%d reps=%d median_s=%.3f files_per_s=%.0f mb_per_s=%.1f passes=%s\n' \
    "$(basename "$DIR")" "$N" "$BYTES" "$REPS" "$med" "$(echo "$N / $med" | bc -l)" "$(echo "$BYTES / 1000000 / $med" | bc -l)" \
    "$(printf '%.3f,' "${times[@]}" | sed 's/,$//')"
fi

if [ "$PEERS" -eq 1 ] && [ -x "$ROOT/../shared/peers/bench/dimse-bench.sh" ]; then
  for recv in storescp orthanc; do
    bash "$ROOT/../shared/peers/bench/dimse-bench.sh" "$recv" "$(basename "$DIR")" "$DIR" "$REPS" | grep RESULT || true
  done
fi
echo "LOAD after $(cut -d' ' -f1-3 /proc/loadavg)"
