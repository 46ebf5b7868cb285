#!/usr/bin/env bash
# Seeds of the pixels target (fuzz/seeds/pixels): small native images written by the harness, each encoded with
# dcmtk's encoders (Debian package dcmtk): RLE, JPEG lossless SV1, JPEG baseline, JPEG-LS lossless and near-lossless.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"; OUT="$HERE/seeds/pixels"; TMP="$(mktemp -d)"
dotnet run --project "$HERE/TriageEngine.Fuzz.Dicom" -c Release -v q -- pixel-seeds "$TMP" > /dev/null
rm -rf "$OUT"; mkdir -p "$OUT"
for f in "$TMP"/*.dcm; do
  n=$(basename "$f" .dcm)
  cp "$f" "$OUT/$n-native.dcm"
  dcmcrle "$f" "$OUT/$n-rle.dcm"
  dcmcjpeg +e1 "$f" "$OUT/$n-jpll.dcm"
  dcmcjpls "$f" "$OUT/$n-jpls.dcm"
  dcmcjpls +en +md 2 "$f" "$OUT/$n-jpls-near.dcm" 2>/dev/null || true   # not every sample layout
  case "$n" in *16) ;; *) dcmcjpeg +eb "$f" "$OUT/$n-jpeg.dcm" ;; esac    # baseline is 8-bit
done
rm -rf "$TMP"; ls -la "$OUT"
