"""小宝 beside Rasa's own FAQ approach: the time from a knowledge-base edit to the bot answering
with it, on the same entries (issue 12), and, since the peer is running anyway, its top-1 on
the held-out evaluation questions beside 小宝's.

The peer is what a Rasa user would build from the same seed knowledge base: one retrieval
intent ``faq/<entry id>`` whose examples are each entry's question and similar questions,
responses ``utter_faq/<entry id>`` holding the answers, the NLU pipeline of ``config.yml``
(JiebaTokenizer on ``models/jieba_dict``, the same featurizers) with a DIETClassifier and a
``ResponseSelector`` (``retrieval_intent: faq``), and a RulePolicy with the one rule
``faq → utter_faq``. Two small intents (greet, goodbye) sit beside ``faq`` because the
DIETClassifier refuses to train on a single intent. An edit means: change the data files,
``rasa train`` again (Rasa's training cache in the project is used, as a user's would be),
and load the new model into the running server (``PUT /model``).

小宝's edit goes through the editor API (``PUT /api/kb/entries/{id}``) of a real stack
(tests/bot/stack.py: gateway, `rasa run` on 小宝's model, Redis); the clock stops at the first
chat reply carrying the new text.

For `make bench` only, never a `make test` gate: it trains Rasa twice (about a quarter of an
hour on 2 cores). ``python -m tests.bench.bench_faq_peer`` runs it (``--quick``: 30 entries,
5 epochs, a smoke run whose figures mean nothing).
"""
from __future__ import annotations

import json
import os
import statistics
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import httpx
import yaml

from tests.bench.bench_retrieval import EVAL_FILES, SEED_FILES
from tests.bot.stack import XIAOBAO, free_port, start_stack, wait_until

REPO = Path(__file__).resolve().parents[2]
RASA = REPO / ".venv-rasa" / "bin" / "rasa"
JIEBA_DICT = REPO / "models" / "jieba_dict"
TOKEN = "faq-peer-token"
EPOCHS = {"DIETClassifier": 100, "ResponseSelector": 100}  # quick: 5 each (a smoke run)
EDITED = "kb-startup-001"  # 在宝山新开一家公司，怎么申请营业执照？
NEW_PHRASING = "想在宝山开个新公司，营业执照要到哪个平台去申请"
XIAOBAO_EDITS = 3
GIVE_UP_S = 120.0
EDITOR, EDITOR_PASSWORD = "bench-editor", "bench-editor-pass-1"
OTHER_INTENTS = {
    "greet": ["你好", "您好", "在吗", "早上好", "下午好", "哈喽", "你好小宝", "有人吗"],
    "goodbye": ["再见", "拜拜", "谢谢，再见", "好的谢谢", "没有其他问题了", "先这样吧",
                "下次再聊", "谢谢你的帮助"],
}


# --- the peer: a Rasa FAQ project from the seed ------------------------------------------------

def seed_entries(limit: int | None = None) -> list:
    from knowledge_base import io

    entries = [e for f in SEED_FILES for e in io.parse_entries(f)]
    if limit is None:
        return entries
    return sorted(entries, key=lambda e: e.id != EDITED)[:limit]  # the edited one is kept


def write_peer_project(root: Path, entries: list, epochs: dict[str, int]) -> None:
    """The data, domain, config and credentials a Rasa user would write for these entries."""
    (root / "data").mkdir(parents=True, exist_ok=True)
    nlu = [{"intent": f"faq/{e.id}",
            "examples": "".join(f"- {q}\n" for q in [e.question, *e.similar_questions])}
           for e in entries]
    nlu += [{"intent": name, "examples": "".join(f"- {q}\n" for q in examples)}
            for name, examples in OTHER_INTENTS.items()]
    _dump(root / "data" / "nlu.yml", {"version": "3.1", "nlu": nlu})
    _dump(root / "data" / "rules.yml", {"version": "3.1", "rules": [
        {"rule": "answer a FAQ", "steps": [{"intent": "faq"}, {"action": "utter_faq"}]},
        {"rule": "greet", "steps": [{"intent": "greet"}, {"action": "utter_greet"}]},
        {"rule": "goodbye", "steps": [{"intent": "goodbye"}, {"action": "utter_goodbye"}]}]})
    responses = {f"utter_faq/{e.id}": [{"text": e.answer}] for e in entries}
    responses |= {"utter_greet": [{"text": "您好，请问有什么可以帮您？"}],
                  "utter_goodbye": [{"text": "再见，欢迎再来。"}]}
    _dump(root / "domain.yml", {"version": "3.1", "intents": ["faq", *OTHER_INTENTS],
                                "responses": responses,
                                "session_config": {"session_expiration_time": 60,
                                                   "carry_over_slots_to_new_session": True}})
    _dump(root / "config.yml", {
        "recipe": "default.v1", "language": "zh", "assistant_id": "faq_peer",
        "pipeline": [  # config.yml's tokenizer and featurizers
            {"name": "JiebaTokenizer", "dictionary_path": str(JIEBA_DICT)},
            {"name": "RegexFeaturizer", "use_word_boundaries": False, "case_sensitive": False},
            {"name": "LexicalSyntacticFeaturizer"},
            {"name": "CountVectorsFeaturizer", "analyzer": "word", "min_ngram": 1,
             "max_ngram": 1},
            {"name": "CountVectorsFeaturizer", "analyzer": "char_wb", "min_ngram": 1,
             "max_ngram": 3},
            {"name": "DIETClassifier", "epochs": epochs["DIETClassifier"],
             "number_of_transformer_layers": 1, "transformer_size": 128,
             "constrain_similarities": True, "random_seed": 42},
            {"name": "ResponseSelector", "retrieval_intent": "faq",
             "epochs": epochs["ResponseSelector"], "constrain_similarities": True,
             "random_seed": 42}],
        "policies": [{"name": "RulePolicy"}]})
    _dump(root / "credentials.yml", {"rest": None})


def _dump(path: Path, data: dict) -> None:
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=10_000),
                    encoding="utf-8")


def rasa_env() -> dict[str, str]:
    return {**os.environ, "RASA_TELEMETRY_ENABLED": "false", "TF_CPP_MIN_LOG_LEVEL": "3",
            "SQLALCHEMY_SILENCE_UBER_WARNING": "1"}


def train_peer(root: Path, name: str) -> tuple[float, Path]:
    """``rasa train`` in the project (its cache under ``root/.rasa``); (seconds, model)."""
    log = root / f"train-{name}.log"
    t0 = time.monotonic()
    with log.open("wb") as out:
        done = subprocess.run(
            [str(RASA), "train", "--config", "config.yml", "--domain", "domain.yml", "--data",
             "data", "--out", "models", "--fixed-model-name", name],
            cwd=root, env=rasa_env(), stdout=out, stderr=subprocess.STDOUT, timeout=3600)
    seconds = time.monotonic() - t0
    model = root / "models" / f"{name}.tar.gz"
    if done.returncode != 0 or not model.exists():
        raise RuntimeError(f"rasa train failed ({done.returncode}):\n"
                           + log.read_text(errors="replace")[-3000:])
    return seconds, model


class PeerServer:
    """``rasa run --enable-api`` on the peer's model."""

    def __init__(self, root: Path, model: Path):
        self.root, self.port = root, free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        t0 = time.monotonic()
        self.proc = subprocess.Popen(
            [str(RASA), "run", "--model", str(model), "--enable-api", "--auth-token", TOKEN,
             "--credentials", "credentials.yml", "--port", str(self.port), "-i", "127.0.0.1"],
            cwd=root, env=rasa_env(), stdout=(root / "rasa-run.log").open("wb"),
            stderr=subprocess.STDOUT)
        try:
            wait_until(lambda: httpx.get(f"{self.url}/status", params={"token": TOKEN},
                                         timeout=2).json().get("model_file"), 400,
                       "peer rasa run", self.proc)
        except BaseException:
            self.stop()
            raise
        self.start_s = time.monotonic() - t0

    def say(self, text: str) -> list[str]:
        response = httpx.post(f"{self.url}/webhooks/rest/webhook", timeout=60,
                              json={"sender": f"bench-{uuid.uuid4().hex[:8]}", "message": text})
        response.raise_for_status()
        return [m.get("text", "") for m in response.json()]

    def parse(self, text: str) -> dict:
        response = httpx.post(f"{self.url}/model/parse", params={"token": TOKEN},
                              json={"text": text}, timeout=60)
        response.raise_for_status()
        return response.json()

    def replace_model(self, model: Path) -> float:
        """``PUT /model``: Rasa answers once the new model is loaded; seconds it took."""
        t0 = time.monotonic()
        response = httpx.put(f"{self.url}/model", params={"token": TOKEN},
                             json={"model_file": str(model)}, timeout=600)
        response.raise_for_status()
        return time.monotonic() - t0

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def heldout_examples(entry_ids: set[str]) -> list:
    """The evaluation questions neither system was tuned on: split ``test`` and the frozen
    files (in-scope ones only for entries the peer knows)."""
    from retrieval.evaluate import load_examples

    return [e for e in load_examples(EVAL_FILES)
            if (e.frozen or e.split == "test") and (e.expected is None or e.expected in entry_ids)]


def peer_accuracy(server: PeerServer, examples: list) -> dict:
    """top-1 of the ResponseSelector on in-scope questions; the peer has no abstention, so every
    question classified ``faq`` is answered."""
    right = answered = answered_right = 0
    by_kind: dict[str, list[bool]] = {}
    for e in examples:
        parsed = server.parse(e.query)
        is_faq = (parsed.get("intent") or {}).get("name") == "faq"
        key = (((parsed.get("response_selector") or {}).get("faq") or {}).get("response") or {}
               ).get("intent_response_key", "")
        top = key.partition("/")[2]
        by_kind.setdefault(e.kind, []).append(is_faq)
        if e.expected:
            right += top == e.expected
        if is_faq:
            answered += 1
            answered_right += bool(e.expected) and top == e.expected
    ins = [e for e in examples if e.expected]

    def share(kind: str) -> float | None:
        flags = by_kind.get(kind, [])
        return round(sum(flags) / len(flags), 3) if flags else None

    return {"queries": len(examples), "in_scope": len(ins),
            "top1": round(right / len(ins), 3) if ins else None,
            "answer_precision": round(answered_right / answered, 3) if answered else None,
            "near_domain_answered": share("near_domain"),
            "out_of_scope_answered": share("out_of_scope")}


def peer_edit_to_answer(root: Path, entries: list, epochs: dict[str, int], marker: str,
                        examples: list) -> dict:
    report: dict = {"epochs": epochs, "entries": len(entries)}
    write_peer_project(root, entries, epochs)
    report["train_s"], model = train_peer(root, "peer-1")
    server = PeerServer(root, model)
    try:
        report["start_s"] = round(server.start_s, 1)
        entry = next(e for e in entries if e.id == EDITED)
        report["answers_question_before"] = entry.answer.strip() in \
            [t.strip() for t in server.say(entry.question)]
        if examples:
            report["heldout"] = peer_accuracy(server, examples)

        # The edit: a new answer text and one more way of asking.
        t0 = time.monotonic()
        changed = [_edited(e, marker) if e.id == EDITED else e for e in entries]
        write_peer_project(root, changed, epochs)
        report["retrain_s"], model = train_peer(root, "peer-2")
        report["model_swap_s"] = round(server.replace_model(model), 1)
        served = _poll(lambda: any(marker in t for t in server.say(NEW_PHRASING)), t0)
        report["edit_to_answer_s"] = round(served, 1) if served is not None else None
        report["new_answer_for_question"] = any(marker in t for t in server.say(entry.question))
    finally:
        server.stop()
    report["train_s"], report["retrain_s"] = round(report["train_s"], 1), \
        round(report["retrain_s"], 1)
    return report


def _edited(entry, marker: str):
    return entry.model_copy(update={
        "answer": f"{marker}{entry.answer}",
        "similar_questions": [*entry.similar_questions, NEW_PHRASING]})


def _poll(check, t0: float) -> float | None:
    """Seconds from ``t0`` until ``check()`` holds (None: not within GIVE_UP_S of polling)."""
    deadline = time.monotonic() + GIVE_UP_S
    while time.monotonic() < deadline:
        if check():
            return time.monotonic() - t0
        time.sleep(0.05)
    return None


# --- 小宝: the editor API of a running stack ------------------------------------------------

def xiaobao_edit_to_answer(home: Path, edits: int, examples: list) -> dict:
    stack = start_stack(home)
    try:
        base = f"http://127.0.0.1:{stack.actions_port}"
        subprocess.run([str(XIAOBAO), "users", "add", EDITOR, "--role", "editor",
                        "--password", EDITOR_PASSWORD], cwd=REPO, env=stack.env, check=True,
                       capture_output=True, timeout=120)
        editor = httpx.Client(base_url=base, headers={"Origin": base}, timeout=60)
        login = editor.post("/api/auth/login", json={"username": EDITOR,
                                                     "password": EDITOR_PASSWORD})
        login.raise_for_status()

        def ask(text: str) -> tuple[str, float]:
            """A new visitor's question; (the bot's words, seconds the turn took)."""
            with httpx.Client(base_url=base, headers={"Origin": base}, timeout=60) as user:
                user.get("/").raise_for_status()
                t0 = time.monotonic()
                reply = user.post("/api/chat/messages", json={"text": text})
                reply.raise_for_status()
                return ("\n".join(m.get("text", "") for m in reply.json()["messages"]),
                        time.monotonic() - t0)

        original = editor.get(f"/api/kb/entries/{EDITED}").json()["entry"]
        turn_s = [ask(original["question"])[1] for _ in range(3)]
        report: dict = {"entries": stack_entries(editor), "chat_turn_s_before": round(
            statistics.median(turn_s), 2), "edits": []}
        for _ in range(edits):
            marker = f"【更新{uuid.uuid4().hex[:6]}】"
            current = editor.get(f"/api/kb/entries/{EDITED}").json()["entry"]
            similar = current["similar_questions"]
            t0 = time.monotonic()
            saved = editor.put(f"/api/kb/entries/{EDITED}", json={
                "version": current["version"], "answer": marker + original["answer"],
                "similar_questions": similar if NEW_PHRASING in similar
                else [*similar, NEW_PHRASING]})
            saved.raise_for_status()
            save_s = time.monotonic() - t0
            served = _poll(lambda m=marker: m in ask(NEW_PHRASING)[0], t0)
            report["edits"].append({
                "save_s": round(save_s, 3),
                "edit_to_answer_s": round(served, 2) if served is not None else None,
                "question_answered_new": marker in ask(original["question"])[0]})
        if examples:
            report["heldout"] = xiaobao_accuracy(stack, home, examples)
        editor.close()
        return report
    finally:
        stack.stop()


def stack_entries(editor: httpx.Client) -> int | None:
    response = editor.get("/api/kb/entries", params={"page_size": 1})
    body = response.json() if response.status_code == 200 else {}
    return body.get("total")


def xiaobao_accuracy(stack, home: Path, examples: list) -> dict:
    """`xiaobao eval` (the live index and decision) on the same held-out questions."""
    path = home / "heldout.jsonl"
    path.write_text("".join(json.dumps({"query": e.query, "expected": e.expected,
                                        "kind": e.kind}, ensure_ascii=False) + "\n"
                            for e in examples), encoding="utf-8")
    done = subprocess.run([str(XIAOBAO), "eval", str(path), "--json"], cwd=REPO, env=stack.env,
                          check=True, capture_output=True, text=True, timeout=900)
    full = json.loads(done.stdout.strip().splitlines()[-1])
    keys = ("queries", "in_scope", "top1", "answer_precision", "in_scope_served",
            "near_domain_answered", "out_of_scope_answered")
    return {k: full.get(k) for k in keys}


def run(quick: bool = False) -> dict:
    epochs = {k: 5 for k in EPOCHS} if quick else dict(EPOCHS)
    entries = seed_entries(30 if quick else None)
    examples = heldout_examples({e.id for e in entries})
    if quick:
        examples = examples[::12]  # every kind, a few of each
    marker = f"【更新{uuid.uuid4().hex[:6]}】"
    with tempfile.TemporaryDirectory() as tmp:
        peer = peer_edit_to_answer(Path(tmp) / "peer", entries, epochs, marker, examples)
    with tempfile.TemporaryDirectory() as tmp:
        xiaobao = xiaobao_edit_to_answer(Path(tmp), 1 if quick else XIAOBAO_EDITS, examples)
    report = {"edited_entry": EDITED, "new_phrasing": NEW_PHRASING, "rasa_faq_peer": peer,
              "xiaobao": xiaobao}
    times = [e["edit_to_answer_s"] for e in xiaobao["edits"] if e["edit_to_answer_s"]]
    print(f"[bench_faq_peer] edit → answer: Rasa FAQ peer {peer['edit_to_answer_s']} s "
          f"(retrain {peer['retrain_s']} s + model swap {peer['model_swap_s']} s; first train "
          f"{peer['train_s']} s, epochs {epochs}); 小宝 "
          f"{statistics.median(times) if times else None} s (median of {len(times)}, chat turn "
          f"{xiaobao['chat_turn_s_before']} s)")
    if examples:
        print(f"[bench_faq_peer] held-out top-1: peer {peer['heldout']['top1']}, 小宝 "
              f"{xiaobao['heldout']['top1']} on {peer['heldout']['in_scope']} in-scope questions;"
              f" off-topic answered: peer {peer['heldout']['out_of_scope_answered']}, 小宝 "
              f"{xiaobao['heldout']['out_of_scope_answered']}")
    return report


if __name__ == "__main__":
    import sys

    print(json.dumps(run(quick="--quick" in sys.argv), ensure_ascii=False, indent=1))
