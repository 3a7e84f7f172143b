#!/usr/bin/env python3
"""Answer a question about an image with an exported VQA model on ONNX Runtime (Python).

The Python equivalent of examples/serving/serve-vqa.mjs (docs/SERVING.md):

    pip install onnxruntime numpy pillow
    python3 examples/serving/serve_vqa.py <model.onnx> <image.jpg|png> "<question>" [--threads N]

Prints the answer and its probability (stdout) and the runner-up answers (stderr). Everything
it needs comes from the model's sidecar, model.onnx.json:
  image  centre square crop -> PIL bilinear resize to image.size -> RGB/255 -> (x - mean) / std
         -> NHWC (or NCHW when the sidecar says so)
  text   the project's word tokenizer (tokenizer.json kind "word"): lower-case, split into
         letter/digit runs (inner apostrophes kept) and single symbols, unknown -> [UNK] (1),
         padded with padId to text.maxLength; attention_mask = 1 for real tokens.
"""
import argparse
import json
import os
import re
import sys

import numpy as np
import onnxruntime as ort
from PIL import Image

UNK = 1
# Letter/digit runs with inner apostrophes, or one symbol: [^\W_] is a letter or digit.
WORD_OR_SYMBOL = re.compile(r"[^\W_]+(?:['\u2019][^\W_]+)*|[^\s\w]|_")


def pixel_values(path, image):
    size, mean, std = image["size"], image["mean"], image["std"]
    img = Image.open(path).convert("RGB")
    side = min(img.width, img.height)
    x0, y0 = (img.width - side) // 2, (img.height - side) // 2
    img = img.crop((x0, y0, x0 + side, y0 + side)).resize((size, size), Image.BILINEAR)
    rgb = np.asarray(img, dtype=np.float64)  # [S, S, 3]
    # (p / 255 - mean) / std, written p * scale + shift as the training data reader computes it.
    scale = 1.0 / (255.0 * np.asarray(std, dtype=np.float64))
    shift = -np.asarray(mean, dtype=np.float64) / np.asarray(std, dtype=np.float64)
    x = (rgb * scale + shift).astype(np.float32)[None]  # [1, S, S, 3]
    return np.ascontiguousarray(x.transpose(0, 3, 1, 2)) if image["layout"] == "NCHW" else x


def text_inputs(question, text, tokenizer_file):
    with open(tokenizer_file, encoding="utf-8") as f:
        tok = json.load(f)
    if tok["kind"] != "word":
        sys.exit(f'{tokenizer_file} is a "{tok["kind"]}" tokenizer: this example implements the word tokenizer only')
    index = {}
    for i, t in enumerate(tok["vocab"]):
        index.setdefault(t, i)
    words = WORD_OR_SYMBOL.findall(question.lower() if tok["lowercase"] else question)
    pad = text.get("padId", 0)
    ids = [pad] * text["maxLength"]
    for i, w in enumerate(words[: text["maxLength"]]):
        ids[i] = index.get(w, UNK)
    dtype = np.int32 if text.get("idType") == "int32" else np.int64
    unknown = [w for w in words if w not in index]
    return np.asarray([ids], dtype=dtype), np.asarray([[0 if i == pad else 1 for i in ids]], dtype=dtype), unknown


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("model")
    p.add_argument("image")
    p.add_argument("question")
    p.add_argument("--threads", type=int, default=1)
    a = p.parse_args()
    with open(a.model + ".json", encoding="utf-8") as f:
        sidecar = json.load(f)
    if sidecar["task"] != "vqa":
        sys.exit(f'{a.model} is a {sidecar["task"]} model: this example answers questions (task "vqa")')
    text = sidecar["text"]
    ids, mask, unknown = text_inputs(a.question, text, os.path.join(os.path.dirname(a.model), sidecar["tokenizer"]["file"]))
    if unknown:
        print("note: not in the vocabulary (fed as [UNK]): " + " ".join(unknown), file=sys.stderr)
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = a.threads
    opts.inter_op_num_threads = 1
    session = ort.InferenceSession(a.model, opts, providers=["CPUExecutionProvider"])
    feeds = {
        sidecar["image"].get("input", "pixel_values"): pixel_values(a.image, sidecar["image"]),
        text.get("ids", "input_ids"): ids,
        text.get("mask", "attention_mask"): mask,
    }
    # Fetch only the logits: the attention outputs (for distillation) are not needed to answer.
    (logits,) = session.run([sidecar.get("logits", "logits")], feeds)
    z = logits[0].astype(np.float64)
    probs = np.exp(z - z.max())
    probs /= probs.sum()
    order = np.argsort(-probs, kind="stable")
    # answerForms: each class as the official VQA scorer rewards it ("t-shirt", not "t shirt"), when exported.
    answers = sidecar.get("answerForms") or sidecar["answers"]
    print(f"{answers[order[0]]}\t{probs[order[0]]:.4f}")
    print("runners-up: " + ", ".join(f"{answers[i]} {probs[i]:.4f}" for i in order[1:4]), file=sys.stderr)


if __name__ == "__main__":
    main()
