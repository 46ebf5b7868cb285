#!/usr/bin/env python3
"""Exports the bring-your-own-model examples with RANDOM weights (weights=None; nothing is downloaded).

    /usr/bin/python3 models/examples/export.py [--out models/examples/_out] [--only ID]

For each example folder beside this script (model.json + MODEL.md) it builds the public architecture,
seeds torch, exports ONNX (opset 17, input `input` with a dynamic batch axis, output `logit` [N, 1]) to
OUT/<id>/model.onnx, and writes OUT/<id>/model.json with that file's SHA-256, so `triage run --models OUT`
and `triage models verify --models OUT` can use them. OUT is git-ignored: DenseNet-121 alone is ~28 MB.

Needs Debian's python3-torch and python3-torchvision (apt-get install -y python3-torchvision).
These weights are random: the exports show how a user's own trained model is deployed (shape, preprocessing,
speed), never a finding.
"""
import argparse, hashlib, json, os, shutil, sys

HERE = os.path.dirname(os.path.abspath(__file__))


def build(arch, channels):
    import torch.nn as nn
    import torchvision
    if arch == "densenet121":
        # torchxrayvision's DenseNet: one input channel, the classifier replaced by the findings (here one)
        net = torchvision.models.densenet121(weights=None, num_classes=1)
        net.features.conv0 = nn.Conv2d(channels, 64, kernel_size=7, stride=2, padding=3, bias=False)
        return net
    if arch == "resnet18":
        net = torchvision.models.resnet18(weights=None, num_classes=1)
        if channels != 3:
            net.conv1 = nn.Conv2d(channels, 64, kernel_size=7, stride=2, padding=3, bias=False)
        return net
    raise SystemExit(f"unknown architecture {arch}")


def export(example_dir, out_root):
    import torch
    manifest = json.load(open(os.path.join(example_dir, "model.json")))
    arch = json.load(open(os.path.join(example_dir, "export.json")))["architecture"]
    _, c, h, w = manifest["input"]["shape"]
    torch.manual_seed(0)
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    net = build(arch, c).eval()
    out = os.path.join(out_root, manifest["id"])
    os.makedirs(out, exist_ok=True)
    onnx_path = os.path.join(out, manifest["file"])
    dummy = torch.rand(2, c, h, w)
    torch.onnx.export(net, dummy, onnx_path, opset_version=17, input_names=[manifest["input"]["name"]],
                      output_names=[manifest["output"]["name"]],
                      dynamic_axes={manifest["input"]["name"]: {0: "batch"}, manifest["output"]["name"]: {0: "batch"}})
    digest = hashlib.sha256(open(onnx_path, "rb").read()).hexdigest()
    manifest["sha256"] = digest
    with open(os.path.join(out, "model.json"), "w") as f:
        json.dump(manifest, f, indent=2)
        f.write("\n")
    shutil.copy(os.path.join(example_dir, "MODEL.md"), os.path.join(out, "MODEL.md"))
    print(f"{manifest['id']}: {arch} {c}x{h}x{w} -> {onnx_path} ({os.path.getsize(onnx_path):,} bytes, sha256 {digest})")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(HERE, "_out"))
    ap.add_argument("--only")
    a = ap.parse_args()
    ids = sorted(d for d in os.listdir(HERE) if os.path.isfile(os.path.join(HERE, d, "model.json")))
    for d in ids:
        if a.only and d != a.only:
            continue
        export(os.path.join(HERE, d), a.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
