#!/usr/bin/env python3
"""Study-level AUC per model from `triage run --json` output and the phantoms' labels.csv.

usage: study_auc.py RUN.json LABELS.csv [--min-auc 0.97]
Prints, per finding: studies, positives, AUC, and whether every positive scores above every negative
and is flagged at the model's default (high-specificity) operating point while no negative is.
Exits 1 when an AUC is below --min-auc or a check fails.
"""
import csv, json, sys


def auc(pos, neg):
    if not pos or not neg:
        return float("nan")
    wins = sum(1.0 if p > n else 0.5 if p == n else 0.0 for p in pos for n in neg)
    return wins / (len(pos) * len(neg))


def main(argv):
    if len(argv) < 3:
        print(__doc__)
        return 2
    min_auc = float(argv[argv.index("--min-auc") + 1]) if "--min-auc" in argv else 0.97
    items = json.load(open(argv[1]))
    labels = {r["StudyInstanceUID"]: (r["finding"], r["present"] == "1") for r in csv.DictReader(open(argv[2]))}
    per_model = {}
    for item in items:
        finding, present = labels[item["studyInstanceUid"]]
        for f in item.get("findings", []):
            per_model.setdefault(f["model"], []).append((f["score"], f["flagged"], present, f["threshold"]))
    ok = True
    for model, rows in sorted(per_model.items()):
        pos = [r[0] for r in rows if r[2]]
        neg = [r[0] for r in rows if not r[2]]
        a = auc(pos, neg)
        separated = bool(pos and neg and min(pos) > max(neg))
        flags_right = all(r[1] == r[2] for r in rows)
        good = a >= min_auc and flags_right
        ok &= good
        print(f"{model}: studies {len(rows)}, positives {len(pos)}, AUC {a:.4f}, "
              f"min positive {min(pos):.4f} vs max negative {max(neg):.4f} ({'separated' if separated else 'OVERLAP'}), "
              f"flags at default operating point {'all correct' if flags_right else 'WRONG'} (threshold {rows[0][3]}) "
              f"{'PASS' if good else 'FAIL'}")
    return 0 if ok and per_model else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
