#!/usr/bin/python3
"""Reproducible training of the demonstration models on TriageEngine phantoms.

    /usr/bin/python3 models/train.py            # both models
    /usr/bin/python3 models/train.py --model ich-ct-demo

For each model: generates phantom studies with the engine's own `triage phantoms generate` verb (training,
validation and held-out test sets, each with its own seed), applies exactly the preprocessing of
docs/model-manifest.md, trains a small CNN on the CPU, measures study-level AUC on the held-out set, picks the
operating points on the validation set, exports ONNX and writes model.json and MODEL.md.
Needs Debian's python3-torch (1.13), python3-onnx, python3-pydicom, python3-numpy and the .NET SDK.
"""
import argparse
import csv
import hashlib
import json
import os
import subprocess
import sys
import time

import numpy as np
import pydicom
import torch
import torch.nn as nn

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODELS = os.path.join(ROOT, "models")
WORK = os.path.join(MODELS, "_work")

CONFIGS = {
    "ich-ct-demo": {
        "kind": "HeadCt",
        "finding": "ich",
        "seeds": {"train": 1001, "val": 1002, "test": 1003},
        "studies": {"train": 320, "val": 80, "test": 120},
        "epochs": 14,
        "threads": 2,
        "manifest": {
            "id": "ich-ct-demo",
            "version": "1.1.0",
            "name": "Intracranial haemorrhage detector (demonstration)",
            "file": "model.onnx",
            "task": "slice-classification",
            "input": {"name": "input", "shape": [-1, 2, 64, 64], "layout": "NCHW", "dtype": "float32"},
            "preprocessing": {
                "windows": [{"center": 40, "width": 80}, {"center": 80, "width": 200}],
                "windowSource": "manifest",
                "invertMonochrome1": True,
                "resize": {"width": 64, "height": 64, "method": "area"},
                "mean": [0.0, 0.0],
                "std": [1.0, 1.0],
            },
            "output": {"name": "logit", "labels": ["ich"], "activation": "sigmoid",
                       "heatmap": {"name": "heatmap", "activation": "sigmoid"}},
            "aggregation": {"method": "max", "k": 1},
            "finding": {"code": "RID4700", "codingScheme": "RadLex", "name": "Intracranial haemorrhage", "criticality": "critical"},
            "defaultOperatingPoint": "highSpecificity",
            "applicability": {
                "modalities": ["CT"],
                "bodyParts": ["HEAD", "BRAIN"],
                "descriptionPattern": "(?i)\\b(head|brain|cranial|cerebral)\\b",
                "minImages": 5,
            },
        },
    },
    "ptx-cxr-demo": {
        "kind": "ChestXr",
        "finding": "pneumothorax",
        "seeds": {"train": 2001, "val": 2002, "test": 2003},
        "studies": {"train": 480, "val": 100, "test": 200},
        "epochs": 10,
        "threads": 1,
        "manifest": {
            "id": "ptx-cxr-demo",
            "version": "1.1.0",
            "name": "Pneumothorax detector on frontal chest radiographs (demonstration)",
            "file": "model.onnx",
            "task": "image-classification",
            "input": {"name": "input", "shape": [-1, 1, 128, 128], "layout": "NCHW", "dtype": "float32"},
            "preprocessing": {
                "windows": [],
                "windowSource": "header",
                "invertMonochrome1": True,
                "resize": {"width": 128, "height": 128, "method": "area"},
                "mean": [0.0],
                "std": [1.0],
            },
            "output": {"name": "logit", "labels": ["pneumothorax"], "activation": "sigmoid",
                       "heatmap": {"name": "heatmap", "activation": "sigmoid"}},
            "aggregation": {"method": "max", "k": 1},
            "finding": {"code": "RID5352", "codingScheme": "RadLex", "name": "Pneumothorax", "criticality": "critical"},
            "defaultOperatingPoint": "highSpecificity",
            "applicability": {
                "modalities": ["DX", "CR"],
                "bodyParts": ["CHEST"],
                "descriptionPattern": "(?i)\\b(chest|thorax|cxr)\\b",
                "minImages": 1,
            },
        },
    },
}


# ---------------------------------------------------------------- data

def build_engine():
    subprocess.run(["dotnet", "build", os.path.join(ROOT, "src", "TriageEngine.Host"), "-c", "Release", "-nologo", "-v", "q"],
                   check=True, cwd=ROOT)


def generate(kind, seed, studies, out):
    """Phantom studies from the engine itself; skipped when the folder already holds that exact set."""
    stamp = os.path.join(out, ".generated")
    want = f"{kind} {seed} {studies}\n"
    if os.path.exists(stamp) and open(stamp).read() == want:
        return
    subprocess.run(["dotnet", "run", "--project", os.path.join(ROOT, "src", "TriageEngine.Host"), "-c", "Release", "--no-build", "--",
                    "phantoms", "generate", "--kind", kind, "--seed", str(seed), "--studies", str(studies), "--out", out],
                   check=True, cwd=ROOT)
    with open(stamp, "w") as f:
        f.write(want)


def first_value(v):
    if isinstance(v, pydicom.multival.MultiValue):
        return float(v[0])
    return float(v)


def preprocess(ds, prep):
    """docs/model-manifest.md, 'Preprocessing, exactly'."""
    slope = float(ds.get("RescaleSlope", 1.0))
    intercept = float(ds.get("RescaleIntercept", 0.0))
    x = ds.pixel_array.astype(np.float64) * slope + intercept
    if prep["windowSource"] == "header":
        if "WindowCenter" in ds and "WindowWidth" in ds:
            windows = [(first_value(ds.WindowCenter), first_value(ds.WindowWidth))]
        else:
            lo, hi = float(x.min()), float(x.max())
            windows = [((lo + hi) / 2, max(hi - lo, 1.0))]
    else:
        windows = [(w["center"], w["width"]) for w in prep["windows"]]
    invert = prep["invertMonochrome1"] and ds.PhotometricInterpretation == "MONOCHROME1"
    h, w = prep["resize"]["height"], prep["resize"]["width"]
    fy, fx = x.shape[0] // h, x.shape[1] // w
    assert fy * h == x.shape[0] and fx * w == x.shape[1], "training phantoms resize by integer factors"
    chans = []
    for ch, (c, wd) in enumerate(windows):
        v = np.clip((x - (c - wd / 2)) / wd, 0.0, 1.0)
        if invert:
            v = 1.0 - v
        v = v.reshape(h, fy, w, fx).mean(axis=(1, 3))  # area resize = block mean
        v = (v - prep["mean"][ch]) / prep["std"][ch]
        chans.append(v)
    return np.stack(chans).astype(np.float32)


def load_set(folder, prep):
    truth = {}
    with open(os.path.join(folder, "instances.csv")) as f:
        for row in csv.DictReader(f):
            truth[row["SOPInstanceUID"]] = int(row["present"])
    labels = {}
    with open(os.path.join(folder, "labels.csv")) as f:
        for row in csv.DictReader(f):
            labels[row["StudyInstanceUID"]] = int(row["present"])
    xs, ys, studies = [], [], []
    for dirpath, _, files in sorted(os.walk(folder)):
        for name in sorted(files):
            if not name.endswith(".dcm"):
                continue
            ds = pydicom.dcmread(os.path.join(dirpath, name))
            xs.append(preprocess(ds, prep))
            ys.append(truth[ds.SOPInstanceUID])
            studies.append(ds.StudyInstanceUID)
    return np.stack(xs), np.array(ys, np.float32), np.array(studies), labels


# ---------------------------------------------------------------- model

def make_net(channels):
    def block(i, o):
        return [nn.Conv2d(i, o, 3, padding=1, bias=False), nn.BatchNorm2d(o), nn.ReLU(inplace=True)]
    layers = block(channels, 16) + [nn.MaxPool2d(2)] + block(16, 32) + [nn.MaxPool2d(2)] + block(32, 48) + [nn.MaxPool2d(2)] \
        + block(48, 64) + block(64, 64) + [nn.AdaptiveMaxPool2d(1), nn.Flatten(), nn.Linear(64, 1)]
    return nn.Sequential(*layers)


def predict(net, x):
    net.eval()
    out = []
    with torch.no_grad():
        for i in range(0, len(x), 256):
            out.append(torch.sigmoid(net(torch.from_numpy(x[i:i + 256]))).numpy()[:, 0])
    return np.concatenate(out)


def study_scores(scores, studies, labels):
    agg = {}
    for s, uid in zip(scores, studies):
        agg[uid] = max(agg.get(uid, 0.0), float(s))  # aggregation: max
    uids = sorted(agg)
    return np.array([agg[u] for u in uids]), np.array([labels[u] for u in uids])


def auc(scores, y):
    pos, neg = scores[y == 1], scores[y == 0]
    if len(pos) == 0 or len(neg) == 0:
        return float("nan")
    greater = (pos[:, None] > neg[None, :]).sum()
    ties = (pos[:, None] == neg[None, :]).sum()
    return float((greater + 0.5 * ties) / (len(pos) * len(neg)))


def operating_points(scores, y):
    pos, neg = np.sort(scores[y == 1]), np.sort(scores[y == 0])
    if pos.min() > neg.max():
        gap = pos.min() - neg.max()
        return {"highSensitivity": float(neg.max() + 0.25 * gap), "highSpecificity": float(neg.max() + 0.75 * gap)}
    # not separable: sensitivity >= 0.95 / specificity >= 0.95 on validation
    hsens = float(pos[int(np.floor(0.05 * len(pos)))])
    hspec = float(neg[min(len(neg) - 1, int(np.ceil(0.95 * len(neg))))]) + 1e-6
    return {"highSensitivity": min(hsens, hspec), "highSpecificity": hspec}


def rates(scores, y, t):
    flagged = scores >= t
    sens = float(flagged[y == 1].mean())
    spec = float((~flagged[y == 0]).mean())
    return sens, spec


def train_one(model_id, cfg, threads):
    t0 = time.time()
    prep = cfg["manifest"]["preprocessing"]
    sets = {}
    for split in ("train", "val", "test"):
        folder = os.path.join(WORK, model_id, f"{split}-seed{cfg['seeds'][split]}")
        generate(cfg["kind"], cfg["seeds"][split], cfg["studies"][split], folder)
        sets[split] = load_set(folder, prep)
        print(f"[{model_id}] {split}: {len(sets[split][0])} images, {int(sets[split][1].sum())} positive", flush=True)

    torch.manual_seed(7)
    np.random.seed(7)
    torch.set_num_threads(threads or cfg["threads"])  # fixed per model: float sums depend on the thread count
    x, y, _, _ = sets["train"]
    channels = x.shape[1]
    net = make_net(channels)
    pos_weight = torch.tensor([(len(y) - y.sum()) / max(y.sum(), 1)], dtype=torch.float32)
    loss_fn = nn.BCEWithLogitsLoss(pos_weight=pos_weight)
    opt = torch.optim.AdamW(net.parameters(), lr=2e-3, weight_decay=1e-4)
    epochs = cfg["epochs"]
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=epochs * ((len(x) + 63) // 64))
    gen = torch.Generator().manual_seed(11)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    for epoch in range(epochs):
        net.train()
        order = torch.randperm(len(x), generator=gen)
        total = 0.0
        for i in range(0, len(x), 64):
            idx = order[i:i + 64]
            xb = xt[idx]
            # augmentation: small intensity jitter (same for all channels of an image)
            xb = xb * (1 + 0.05 * (torch.rand(len(idx), 1, 1, 1, generator=gen) - 0.5))
            logit = net(xb)[:, 0]
            loss = loss_fn(logit, yt[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += float(loss) * len(idx)
        vs, vy = study_scores(predict(net, sets["val"][0]), sets["val"][2], sets["val"][3])
        print(f"[{model_id}] epoch {epoch + 1}/{epochs} loss {total / len(x):.4f} val study AUC {auc(vs, vy):.4f}", flush=True)

    vs, vy = study_scores(predict(net, sets["val"][0]), sets["val"][2], sets["val"][3])
    ops = {k: round(v, 4) for k, v in operating_points(vs, vy).items()}
    ts, ty = study_scores(predict(net, sets["test"][0]), sets["test"][2], sets["test"][3])
    result = {
        "valAuc": auc(vs, vy),
        "testAuc": auc(ts, ty),
        "testStudies": int(len(ty)),
        "testPositives": int(ty.sum()),
        "separatedAtHighSpecificity": bool(ts[ty == 1].min() >= ops["highSpecificity"] > ts[ty == 0].max()),
        "testMinPositive": float(ts[ty == 1].min()),
        "testMaxNegative": float(ts[ty == 0].max()),
    }
    for name, t in ops.items():
        result[name] = rates(ts, ty, t)
    print(f"[{model_id}] operating points {ops}; held-out {json.dumps(result)}", flush=True)

    out_dir = os.path.join(MODELS, model_id)
    os.makedirs(out_dir, exist_ok=True)
    onnx_path = os.path.join(out_dir, "model.onnx")
    export(net, channels, cfg["manifest"]["input"]["shape"][2], onnx_path)
    sha = hashlib.sha256(open(onnx_path, "rb").read()).hexdigest()
    manifest = dict(cfg["manifest"])
    keys = list(manifest)
    manifest["sha256"] = sha
    manifest["operatingPoints"] = ops
    order = keys[:keys.index("file") + 1] + ["sha256"] + keys[keys.index("file") + 1:keys.index("defaultOperatingPoint")] \
        + ["operatingPoints"] + keys[keys.index("defaultOperatingPoint"):]
    manifest = {k: manifest[k] for k in order}
    with open(os.path.join(out_dir, "model.json"), "w") as f:
        json.dump(manifest, f, indent=2)
        f.write("\n")
    write_card(model_id, cfg, net, result, ops, os.path.getsize(onnx_path), time.time() - t0)
    return result


def export(net, channels, size, path):
    net.eval()
    dummy = torch.zeros(1, channels, size, size)
    torch.onnx.export(net, dummy, path, input_names=["input"], output_names=["logit"],
                      dynamic_axes={"input": {0: "N"}, "logit": {0: "N"}}, opset_version=17, do_constant_folding=True)
    import onnx
    m = onnx.load(path)
    onnx.checker.check_model(m)
    # the exported graph must match the trained network
    with torch.no_grad():
        probe = torch.rand(3, channels, size, size, generator=torch.Generator().manual_seed(3))
        ref = net(probe).numpy()
    try:
        from onnx.reference import ReferenceEvaluator  # onnx >= 1.13
        got = ReferenceEvaluator(m).run(None, {"input": probe.numpy()})[0]
        assert np.allclose(ref, got, atol=1e-4), (ref, got)
    except ImportError:
        pass
    # the heat map for the UI: the head applied at every position of the last feature map (models/heatmap.py)
    from heatmap import add_heatmap_output
    add_heatmap_output(path)


def write_card(model_id, cfg, net, r, ops, size, seconds):
    m = cfg["manifest"]
    params = sum(p.numel() for p in net.parameters())
    s, st = cfg["seeds"], cfg["studies"]
    if model_id == "ich-ct-demo":
        data = ("synthetic non-contrast head CT phantoms (`--kind HeadCt`, 256×256, 12 slices of 5 mm): skull, "
                "grey/white matter, CSF, noise; positives carry an intraparenchymal and/or subdural haemorrhage of 55–85 HU "
                "over several slices; any study may carry a tiny pineal calcification. Trained per slice on the per-slice "
                "truth of `instances.csv`; study score = max over slices.")
    else:
        data = ("synthetic frontal chest radiograph phantoms (`--kind ChestXr`, 512×512, DX and CR, MONOCHROME1 and "
                "MONOCHROME2): lungs with vessel markings, mediastinum, heart, ribs, diaphragm; positives carry an apical/"
                "lateral pneumothorax (lucent rim without lung markings, visceral pleural line). One image per study.")
    hs, hsp = r["highSensitivity"], r["highSpecificity"]
    text = f"""# {m['name']} — `{m['id']}` {m['version']}

**Demonstration only, not for clinical use.** Trained and tested on synthetic phantoms made by
`triage phantoms generate`; it has never seen a patient image and says nothing about real ones.

## Training data
{data}

| split | seed | studies |
|---|---|---|
| train | {s['train']} | {st['train']} |
| validation (operating points) | {s['val']} | {st['val']} |
| held-out test | {s['test']} | {st['test']} |

Preprocessing: exactly as in `docs/model-manifest.md` with this folder's `model.json`
(input `{m['input']['shape']}`, window source `{m['preprocessing']['windowSource']}`).

## Architecture
Small CNN, {params:,} parameters: four 3×3 conv–batchnorm–ReLU stages (16, 32, 48, 64 channels, max-pooling
between the first three), a fifth 64-channel conv stage, global max pooling, one linear unit → `logit` [N,1]
(sigmoid gives the probability). AdamW with one-cycle learning rate, {cfg['epochs']} epochs, batch 64,
class-balanced BCE, torch seed 7, CPU. ONNX opset 17, dynamic batch, {size:,} bytes.
Heat map for the UI: a second output `heatmap` [N,1,h,w] applies the linear unit at every position of the last
feature map (a class activation map, `models/heatmap.py`); the score output is unchanged by it.

## Measured (held-out test set, seed {s['test']}, {r['testStudies']} studies, {r['testPositives']} positive)
| metric | value |
|---|---|
| study-level AUC (aggregation `{m['aggregation']['method']}`) | {r['testAuc']:.4f} |
| validation study-level AUC (seed {s['val']}) | {r['valAuc']:.4f} |
| highSensitivity threshold {ops['highSensitivity']} | sensitivity {hs[0]:.3f}, specificity {hs[1]:.3f} |
| highSpecificity threshold {ops['highSpecificity']} (default) | sensitivity {hsp[0]:.3f}, specificity {hsp[1]:.3f} |
| lowest positive / highest negative study score | {r['testMinPositive']:.4f} / {r['testMaxNegative']:.4f} |

Thresholds were chosen on the validation set: when it separates the classes, a quarter (highSensitivity) and
three quarters (highSpecificity) of the way from the highest negative to the lowest positive score.

## Reproduce
`/usr/bin/python3 models/train.py --model {m['id']}` (see `models/README.md`); about {seconds / 60:.0f} min on 2 CPU cores.
"""
    with open(os.path.join(MODELS, model_id, "MODEL.md"), "w") as f:
        f.write(text)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", choices=sorted(CONFIGS) + ["all"], default="all")
    ap.add_argument("--threads", type=int, default=0, help="override the per-model torch thread count (results may differ slightly)")
    ap.add_argument("--no-build", action="store_true", help="use the already built Release engine")
    args = ap.parse_args()
    if not args.no_build:
        build_engine()
    ids = sorted(CONFIGS) if args.model == "all" else [args.model]
    failed = []
    for model_id in ids:
        r = train_one(model_id, CONFIGS[model_id], args.threads)
        if r["testAuc"] < 0.97:
            failed.append(f"{model_id}: held-out AUC {r['testAuc']:.4f} < 0.97")
    if failed:
        print("\n".join(failed), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
