"""The encoder as an ONNX graph, for ONNX Runtime: the same numbers at half the time per query.

A user's question is one short sequence; PyTorch spends as much time dispatching its
operators as computing them there. ONNX Runtime runs the same weights through a fused graph
(attention, layer norm and GELU fused) and answers a single query in about half the time
(`make bench`: "encoder backends"). The graph is the transformer, e5's mean pooling over the
attention mask and the L2 normalisation, so a session's output is the embedding itself; it
agrees with sentence-transformers to ~1e-7 (tests/retrieval/test_embedder.py).

The graph is written once beside the weights it was made from, as
``<model folder>/onnx/encoder-<fingerprint>.onnx`` with its weights in ``….onnx.data`` (mapped,
not copied, by ONNX Runtime); the fingerprint changes when the weights
or the export change, so an adapted model gets its own graph and a stale one is never used.
Exporting takes ~15 s and needs torch; running it does not.

>>> path = onnx_graph(model_dir)      # exports on first use, then reuses
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import time
import warnings
from pathlib import Path

log = logging.getLogger(__name__)
EXPORT_VERSION = 2  # bump when the exported graph changes
WEIGHTS = "model.safetensors"
_SAMPLE = 1 << 20  # bytes read from each end of the weights for the fingerprint


class NotExportable(ValueError):
    """The folder's sentence-transformers pipeline is not transformer + mean pooling + normalise."""


def fingerprint(model_dir: Path) -> str:
    """Identity of the weights and configuration, cheap to compute at every start: the size
    and both ends of the weights file, and the configuration files (a copy of the folder keeps
    its graph; retrained weights get a new one)."""
    model_dir = Path(model_dir)
    digest = hashlib.sha256(f"v{EXPORT_VERSION}".encode())
    weights = model_dir / WEIGHTS
    size = weights.stat().st_size
    digest.update(str(size).encode())
    with weights.open("rb") as f:
        digest.update(f.read(_SAMPLE))
        f.seek(max(size - _SAMPLE, 0))
        digest.update(f.read(_SAMPLE))
    for name in ("config.json", "modules.json", "1_Pooling/config.json",
                 "sentence_bert_config.json"):
        path = model_dir / name
        if path.is_file():
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def check_pipeline(model_dir: Path) -> None:
    """Refuse a folder whose pipeline the graph would not reproduce."""
    model_dir = Path(model_dir)
    modules = json.loads((model_dir / "modules.json").read_text("utf-8"))
    kinds = [m["type"].rsplit(".", 1)[-1] for m in modules]
    if kinds != ["Transformer", "Pooling", "Normalize"]:
        raise NotExportable(f"{model_dir}: pipeline {kinds}, expected Transformer, Pooling, "
                            "Normalize")
    pooling = json.loads((model_dir / modules[1]["path"] / "config.json").read_text("utf-8"))
    # sentence-transformers 5 writes one flag per mode; 6 writes "pooling_mode": "mean".
    modes = [k.removeprefix("pooling_mode_") for k, v in pooling.items()
             if k.startswith("pooling_mode_") and v is True]
    if isinstance(pooling.get("pooling_mode"), str):
        modes.append(pooling["pooling_mode"])
    if modes not in (["mean_tokens"], ["mean"]):
        raise NotExportable(f"{model_dir}: pooling {modes}, expected mean tokens")
    if not (model_dir / WEIGHTS).is_file():
        raise NotExportable(f"{model_dir}: no {WEIGHTS}")


def graph_path(model_dir: Path) -> Path:
    return Path(model_dir) / "onnx" / f"encoder-{fingerprint(model_dir)}.onnx"


def export(model_dir: Path, out: Path) -> Path:
    """Write the folder's encoder (transformer, mean pooling, normalisation) to ``out``."""
    import onnx
    import torch
    from transformers import AutoModel, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    model = AutoModel.from_pretrained(str(model_dir), local_files_only=True).eval()
    tokenizer = AutoTokenizer.from_pretrained(str(model_dir), local_files_only=True)

    class Encoder(torch.nn.Module):
        def __init__(self, bert) -> None:
            super().__init__()
            self.bert = bert

        def forward(self, input_ids, attention_mask):
            hidden = self.bert(input_ids=input_ids, attention_mask=attention_mask)[0]
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            mean = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(mean, p=2, dim=1)

    sample = tokenizer(["query: 怎么办理营业执照", "passage: 示例"], return_tensors="pt",
                       padding=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out.parent) as tmp:
        inline = Path(tmp) / "inline.onnx"
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notices
            torch.onnx.export(
                Encoder(model), (sample["input_ids"], sample["attention_mask"]), str(inline),
                input_names=["input_ids", "attention_mask"], output_names=["embedding"],
                dynamic_axes={"input_ids": {0: "batch", 1: "tokens"},
                              "attention_mask": {0: "batch", 1: "tokens"},
                              "embedding": {0: "batch"}},
                opset_version=17, dynamo=False)
        # Weights in a file of their own, which ONNX Runtime maps instead of copying: a
        # session costs ~100 MB of resident memory instead of ~520 (most of the 250,000-word
        # embedding table is never read), and gateways on one machine share the pages.
        graph = onnx.load(str(inline))
        onnx.save_model(graph, str(Path(tmp) / out.name), save_as_external_data=True,
                        all_tensors_to_one_file=True, location=data_path(out).name,
                        size_threshold=1024)
        # The weights first, the graph last: a graph that exists is a complete export (two
        # processes exporting at once each move whole files).
        os.replace(Path(tmp) / data_path(out).name, data_path(out))
        os.replace(Path(tmp) / out.name, out)
    return out


def data_path(graph: Path) -> Path:
    """The graph's weights file, beside it."""
    return graph.with_name(graph.name + ".data")


def onnx_graph(model_dir: Path) -> Path:
    """The folder's ONNX graph, exported now if missing; older graphs of the folder removed."""
    model_dir = Path(model_dir)
    check_pipeline(model_dir)
    path = graph_path(model_dir)
    if path.is_file():
        return path
    t0 = time.perf_counter()
    export(model_dir, path)
    for old in path.parent.glob("encoder-*"):
        if old not in (path, data_path(path)):
            old.unlink(missing_ok=True)
    log.info("encoder exported to ONNX in %.0f s: %s", time.perf_counter() - t0, path)
    return path
