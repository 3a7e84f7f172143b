#!/usr/bin/env python3
"""
The PyTorch worked example of docs/TEACHERS.md: a teacher this project did not train.

Defines a small single-stream vision-language transformer in PyTorch (patch embedding, token
embedding, joint self-attention over [patches ; tokens], a VQA head), trains it briefly on a
split this project prepared and dumped (`amad dump-split`, format "amad-split-dump/1"), exports
it with torch.onnx.export — its attention maps as named outputs `[B, H, Q, K]`, batch dynamic —
and writes what the pipeline needs beside it:

    <out>/teacher.onnx          the model
    <out>/teacher.onnx.json     the "amad-onnx/1" sidecar (contract/onnx-model.ts)
    <out>/tokenizer.json        the prepared dataset's tokenizer (the sidecar points at it)
    <out>/reference.json        reference outputs PyTorch computed for a few fixed training
    <out>/reference.f32         examples (ids, inputs, logits and every attention map)
    <out>/train-report.json     what training reached (accuracy on the dumped test split, majority baseline)

Needs only PyTorch (Debian: apt-get install python3-torch; run with /usr/bin/python3); the
exporter does not need the `onnx` Python package. Deterministic on CPU for a given --seed.

Usage (what was run for test/fixtures/onnx-teacher, see docs/TEACHERS.md):
    npx amad prepare --source examples/teachers/pytorch/source.json --out /tmp/pt-teacher/data
    for s in train val test; do npx amad dump-split --data /tmp/pt-teacher/data --split $s --out /tmp/pt-teacher/dump; done
    /usr/bin/python3 examples/teachers/pytorch/train_and_export.py --dump /tmp/pt-teacher/dump --out test/fixtures/onnx-teacher
"""
import argparse
import json
import math
import os
import shutil
import struct
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F


def read_split(dump, split):
    """Reads one split written by `amad dump-split` (raw little-endian arrays + JSON)."""
    with open(os.path.join(dump, f"{split}.json")) as f:
        meta = json.load(f)
    if meta.get("format") != "amad-split-dump/1":
        sys.exit(f"{dump}/{split}.json: not an amad-split-dump/1 file")

    def load(name, dtype):
        with open(os.path.join(dump, meta["files"][name]), "rb") as f:
            buf = bytearray(f.read())
        return torch.frombuffer(buf, dtype=dtype).reshape(meta["shapes"][name]).clone()

    images = load("images", torch.float32)  # [N, S, S, 3], normalised with meta.pixelStats
    text = load("text", torch.int32).long()  # [N, L], 0 = padding
    labels = load("labels", torch.int32).long()  # [N], -1 = no answer class
    return meta, images.permute(0, 3, 1, 2).contiguous(), text, labels  # pixels NCHW: PyTorch's habit


class Block(nn.Module):
    """Pre-LayerNorm transformer block whose attention returns its probabilities."""

    def __init__(self, width, heads, mlp):
        super().__init__()
        self.heads = heads
        self.ln1 = nn.LayerNorm(width)
        self.qkv = nn.Linear(width, 3 * width)
        self.proj = nn.Linear(width, width)
        self.ln2 = nn.LayerNorm(width)
        self.mlp = nn.Sequential(nn.Linear(width, mlp), nn.GELU(), nn.Linear(mlp, width))

    def forward(self, x, key_bias):
        B, T, D = x.shape
        H = self.heads
        q, k, v = self.qkv(self.ln1(x)).reshape(B, T, 3, H, D // H).permute(2, 0, 3, 1, 4)  # each [B, H, T, dh]
        scores = q @ k.transpose(-1, -2) / math.sqrt(D // H) + key_bias  # [B, H, T, T]
        attn = torch.softmax(scores, dim=-1)  # rows sum to 1 over the real keys
        x = x + self.proj((attn @ v).transpose(1, 2).reshape(B, T, D))
        x = x + self.mlp(self.ln2(x))
        return x, attn


class SingleStreamVL(nn.Module):
    """[patches ; tokens] through joint self-attention blocks; VQA head on the mean of real positions."""

    def __init__(self, image_size, patch, vocab, text_len, answers, width, heads, layers, mlp):
        super().__init__()
        self.patches = (image_size // patch) ** 2
        self.patch_embed = nn.Conv2d(3, width, patch, stride=patch)
        self.tok_embed = nn.Embedding(vocab, width)
        self.pos = nn.Parameter(torch.randn(1, self.patches + text_len, width) * 0.02)
        self.type_embed = nn.Parameter(torch.randn(2, width) * 0.02)  # 0 = image, 1 = text
        self.blocks = nn.ModuleList([Block(width, heads, mlp) for _ in range(layers)])
        self.ln = nn.LayerNorm(width)
        self.head = nn.Linear(width, answers)

    def forward(self, pixel_values, input_ids, attention_mask):
        img = self.patch_embed(pixel_values).flatten(2).transpose(1, 2) + self.type_embed[0]  # [B, P, D]
        txt = self.tok_embed(input_ids) + self.type_embed[1]  # [B, L, D]
        x = torch.cat([img, txt], dim=1) + self.pos  # [B, P+L, D]
        real = torch.cat([torch.ones_like(attention_mask[:, :1]).expand(-1, self.patches), attention_mask], dim=1).float()  # [B, T]
        key_bias = (1.0 - real)[:, None, None, :] * -1e9  # padded keys get no attention
        maps = []
        for block in self.blocks:
            x, a = block(x, key_bias)
            maps.append(a)
        pooled = (self.ln(x) * real[:, :, None]).sum(1) / real.sum(1, keepdim=True)  # [B, D]
        return (self.head(pooled), *maps)


def accuracy(model, images, text, labels, batch=250):
    model.eval()
    hits = 0
    with torch.no_grad():
        for i in range(0, len(labels), batch):
            logits = model(images[i : i + batch], text[i : i + batch], (text[i : i + batch] != 0).long())[0]
            hits += (logits.argmax(-1) == labels[i : i + batch]).sum().item()
    return hits / len(labels)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dump", required=True, help="folder written by amad dump-split (train, val, test)")
    ap.add_argument("--out", required=True, help="output folder (teacher.onnx, sidecar, tokenizer, references)")
    ap.add_argument("--width", type=int, default=48)
    ap.add_argument("--heads", type=int, default=6)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--mlp", type=int, default=96)
    ap.add_argument("--patch", type=int, default=8)
    ap.add_argument("--steps", type=int, default=1500)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--references", type=int, default=2, help="training examples whose outputs are stored as references")
    a = ap.parse_args()

    torch.manual_seed(a.seed)
    torch.set_num_threads(1)  # deterministic and polite on a shared machine
    meta, images, text, labels = read_split(a.dump, "train")
    vmeta, vimages, vtext, vlabels = read_split(a.dump, "val")
    tmeta, timages, ttext, tlabels = read_split(a.dump, "test")
    S, L, A, V = images.shape[-1], text.shape[1], len(meta["answers"]), meta["vocabSize"]
    model = SingleStreamVL(S, a.patch, V, L, A, a.width, a.heads, a.layers, a.mlp)
    opt = torch.optim.AdamW(model.parameters(), lr=a.lr, weight_decay=0.01)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / 100) * max(0.0, 1 - s / a.steps))
    gen = torch.Generator().manual_seed(a.seed)
    N = len(labels)
    for step in range(a.steps):
        model.train()
        idx = torch.randint(0, N, (a.batch,), generator=gen)
        logits = model(images[idx], text[idx], (text[idx] != 0).long())[0]
        loss = F.cross_entropy(logits, labels[idx], ignore_index=-1)
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        if (step + 1) % 250 == 0:
            print(f"step {step + 1}: loss {loss.item():.3f}, val accuracy {accuracy(model, vimages, vtext, vlabels):.3f}", flush=True)
    test_acc = accuracy(model, timages, ttext, tlabels)
    majority = tmeta.get("majority") or {}
    majority_test = (tlabels == meta["answers"].index(majority["answer"])).float().mean().item() if majority else None
    print(f"test accuracy {test_acc:.4f} (majority answer '{majority.get('answer')}': {majority_test})", flush=True)

    os.makedirs(a.out, exist_ok=True)
    model.eval()
    names = [f"attn.fusionSelf.{i}" for i in range(a.layers)]
    dummy = (images[:2], text[:2], (text[:2] != 0).long())
    onnx_path = os.path.join(a.out, "teacher.onnx")
    torch.onnx.export(
        model,
        dummy,
        onnx_path,
        input_names=["pixel_values", "input_ids", "attention_mask"],
        output_names=["logits", *names],
        dynamic_axes={n: {0: "batch"} for n in ["pixel_values", "input_ids", "attention_mask", "logits", *names]},
        opset_version=14,
        do_constant_folding=True,
    )
    shutil.copyfile(os.path.join(a.dump, meta["tokenizer"]), os.path.join(a.out, "tokenizer.json"))
    sidecar = {
        "format": "amad-onnx/1",
        "task": "vqa",
        "image": {"input": "pixel_values", "layout": "NCHW", "size": S, "mean": meta["pixelStats"]["mean"], "std": meta["pixelStats"]["std"]},
        "text": {"ids": "input_ids", "mask": "attention_mask", "idType": "int64", "maxLength": L, "padId": 0},
        "logits": "logits",
        "attention": [{"output": n, "kind": "fusionSelf", "layer": i, "heads": a.heads} for i, n in enumerate(names)],
        "tokenizer": {"file": "tokenizer.json", "kind": "amad-json"},
        "answers": meta["answers"],
    }
    with open(onnx_path + ".json", "w") as f:
        json.dump(sidecar, f, indent=1)

    # Reference outputs for the first training examples (what the teacher cache must hold).
    k = a.references
    with torch.no_grad():
        outs = model(images[:k], text[:k], (text[:k] != 0).long())
    arrays = [("pixel_values", images[:k]), ("logits", outs[0])] + [(n, m) for n, m in zip(names, outs[1:])]
    blob, entries, offset = bytearray(), [], 0
    for name, t in arrays:
        flat = t.detach().float().contiguous().reshape(-1).tolist()
        blob += struct.pack(f"<{len(flat)}f", *flat)
        entries.append({"name": name, "shape": list(t.shape), "offset": offset})
        offset += len(flat)
    with open(os.path.join(a.out, "reference.f32"), "wb") as f:
        f.write(blob)
    reference = {
        "ids": meta["ids"][:k],
        "split": "train",
        "input_ids": text[:k].tolist(),
        "attention_mask": (text[:k] != 0).long().tolist(),
        "file": "reference.f32",
        "arrays": entries,
        "note": "float32 little-endian; offset and shape in elements; pixel_values NCHW as fed",
    }
    with open(os.path.join(a.out, "reference.json"), "w") as f:
        json.dump(reference, f)
    report = {
        "torch": torch.__version__,
        "params": sum(p.numel() for p in model.parameters()),
        "args": vars(a),
        "testAccuracy": test_acc,
        "testExamples": len(tlabels),
        "majorityAnswer": majority.get("answer"),
        "majorityTestAccuracy": majority_test,
    }
    with open(os.path.join(a.out, "train-report.json"), "w") as f:
        json.dump(report, f, indent=1)
    print(json.dumps(report))


if __name__ == "__main__":
    main()
