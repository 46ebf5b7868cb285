#!/usr/bin/env bash
# The whole test suite: installs what the tests need, builds with warnings as errors, runs every test project,
# and ends with one summary line "tests: N passed, N failed, N skipped".
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"
ensure_dotnet
# dcmtk: an independent DICOM implementation our files are checked against (dcmdump)
# dicom3tools: dciodvfy checks the files our writer produces against the IODs
# python3-torch, python3-torchvision: export the bring-your-own-model examples (models/examples/export.py) their tests load
# grokj2k-tools: grk_compress writes JPEG 2000 in every progression order and with quality layers for the code-block check
ensure_packages libgomp1 libgtk-3-0 ca-certificates python3 dcmtk dicom3tools python3-hl7 orthanc orthanc-dicomweb chromium \
  python3-torch python3-torchvision grokj2k-tools

echo "== PostgreSQL on loopback (repository contract tests run against it and SQLite)"
eval "$("$REPO_ROOT/scripts/postgres.sh" start)"
trap '"$REPO_ROOT/scripts/postgres.sh" stop' EXIT

echo "== build (warnings are errors)"
dotnet build TriageEngine.sln -c Release -warnaserror --nologo -v quiet -clp:ErrorsOnly

echo "== test"
RESULTS="$REPO_ROOT/artifacts/test-results"
rm -rf "$RESULTS"; mkdir -p "$RESULTS"
set +e
dotnet test TriageEngine.sln -c Release --no-build --nologo -v quiet \
  --logger "console;verbosity=minimal" --logger "trx" --results-directory "$RESULTS" 2>&1 | tee "$RESULTS/console.log"
status=${PIPESTATUS[0]}
set -e

# one summary over every test assembly (dotnet test prints one line per assembly)
python3 - "$RESULTS" <<'PY' || true
import glob, sys, xml.etree.ElementTree as ET
ns = {"t": "http://microsoft.com/schemas/VisualStudio/TeamTest/2010"}
p = f = s = 0
for trx in glob.glob(sys.argv[1] + "/*.trx"):
    c = ET.parse(trx).getroot().find("t:ResultSummary/t:Counters", ns)
    if c is None:
        continue
    p += int(c.get("passed", 0)); f += int(c.get("failed", 0)) + int(c.get("error", 0)) + int(c.get("timeout", 0))
    s += int(c.get("total", 0)) - int(c.get("executed", 0))
print(f"tests: {p} passed, {f} failed, {s} skipped")
PY
exit "$status"
