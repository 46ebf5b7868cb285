#!/usr/bin/env bash
# Latency at rising load: benchmarks/e2e/run.sh at each rate (a fresh server per rate), then one table of the
# per-modality latency (last instance acknowledged -> triaged, and -> HL7 update received for the studies the server raised) and the rate the node kept up with.
#
#   benchmarks/e2e/rising.sh [--studies N] [--rates "10 20 40 80"] [--kind Mix] OUT_DIR
#
# Writes OUT_DIR/<rate>pm.{csv,md,png} per rate and OUT_DIR/summary.md.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
STUDIES=40; RATES="10 20 40 80"; KIND=Mix
while [ $# -gt 1 ]; do case "$1" in
  --studies) STUDIES=$2; shift 2;; --rates) RATES=$2; shift 2;; --kind) KIND=$2; shift 2;;
  *) echo "unknown option $1" >&2; exit 2;; esac; done
OUT="${1:?usage: rising.sh [options] OUT_DIR}"; mkdir -p "$OUT"
for r in $RATES; do
  echo "== $r studies/min" >&2
  "$HERE/run.sh" --kind "$KIND" --studies "$STUDIES" --per-minute "$r" "$OUT/${r}pm" > /dev/null || echo "  (rate $r: some study was not triaged or not delivered)" >&2
done
python3 - "$OUT" $RATES <<'EOF'
import csv, math, re, sys
out, rates = sys.argv[1], sys.argv[2:]
def p(v, q):
    v = sorted(x for x in v if not math.isnan(x))
    return v[max(0, math.ceil(q * len(v)) - 1)] if v else float('nan')
lines = ['| offered (studies/h) | kept up with (studies/h) | modality | studies | to triaged p50 / p95 (s) | raised | to HL7 update (raised) p50 / p95 / max (s) | server CPU |',
         '|---:|---:|---|---:|---|---:|---|---:|']
def q(v):
    v = [x for x in v if not math.isnan(x)]
    return f"{p(v, .5):.2f} / {p(v, .95):.2f} / {max(v):.2f}" if v else '-'
for r in rates:
    md = open(f'{out}/{r}pm.md').read()
    kept = re.search(r'\((\d+) studies/h end to end\)', md).group(1)
    cpu = re.search(r'Server process: (\d+) %', md)
    rows = list(csv.DictReader(open(f'{out}/{r}pm.csv')))
    for mod in sorted({x['modality'] for x in rows}):
        m = [x for x in rows if x['modality'] == mod]
        t = [float(x['last_ack_to_triaged_s']) for x in m]
        raised = [x for x in m if x.get('raised', '1') == '1']
        h = [float(x['last_ack_to_hl7_s']) for x in raised]
        lines.append(f"| {float(r) * 60:.0f} | {kept} | {mod} | {len(m)} | {p(t, .5):.2f} / {p(t, .95):.2f} | {len(raised)} | {q(h)} | {cpu.group(1) + ' %' if cpu else '-'} |")
open(f'{out}/summary.md', 'w').write('\n'.join(lines) + '\n')
print('\n'.join(lines))
EOF
