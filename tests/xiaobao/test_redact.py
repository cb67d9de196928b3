"""Logs never carry a phone number or a 统一社会信用代码, whatever way either was written."""
from __future__ import annotations

import copy
import logging
import pickle

import pytest

from xiaobao import redact
from xiaobao.redact import install_log_redaction

CODE = "91310115MA1K4ABC1X"  # 统一社会信用代码 shape: 2 + 6 digits + 10
PHONES = [
    ("13912345678", "13912345678"),
    ("139 1234 5678", "13912345678"),
    ("139-1234-5678", "13912345678"),
    ("+86 139 1234 5678", "13912345678"),
    ("+8613912345678", "13912345678"),
    ("008613912345678", "13912345678"),
    ("１３９１２３４５６７８", "13912345678"),
    ("＋８６ １３９ １２３４ ５６７８", "13912345678"),
    ("021-62345678", "62345678"),
    ("021 6234 5678", "62345678"),
    ("62345678", "62345678"),
]


@pytest.fixture
def redacting():
    """The factory installed for this test only (the previous one restored afterwards)."""
    before = logging.getLogRecordFactory()
    install_log_redaction()
    yield
    logging.setLogRecordFactory(before)


def _digits(text: str) -> str:
    import unicodedata

    return "".join(ch for ch in unicodedata.normalize("NFKC", text) if ch.isdigit())


def _clean(text: str, number: str) -> bool:
    return number not in _digits(text) and CODE not in text.upper()


@pytest.mark.parametrize("written,number", PHONES)
def test_a_phone_in_the_message_or_in_its_arguments_never_reaches_a_record(
        redacting, caplog, written, number):
    log = logging.getLogger("tests.redact")
    with caplog.at_level(logging.INFO, logger="tests.redact"):
        log.info(f"用户留下电话{written}，请回电")
        log.warning("ticket %s: phone %s, company code %s", "t-1", written, CODE)
        log.warning("mapping %(phone)s", {"phone": written})
    assert len(caplog.records) == 3
    for record in caplog.records:
        assert record.args == ()
        assert _clean(record.msg, number) and _clean(record.getMessage(), number)
        assert "****" in record.getMessage()
    assert _clean(caplog.text, number)
    assert "t-1" in caplog.records[1].getMessage()  # the rest of the message stays


def test_the_credit_code_keeps_its_first_two_and_last_two_characters(redacting, caplog):
    log = logging.getLogger("tests.redact")
    with caplog.at_level(logging.INFO):
        log.info("企业 %s 申请", CODE)
        log.info("企业 %s 申请", "９１３１０１１５ＭＡ１Ｋ４ＡＢＣ１Ｘ")
        log.info("企业 %s 申请", CODE.lower())
    assert [r.getMessage() for r in caplog.records] == [
        "企业 91**************1X 申请", "企业 ９１**************１Ｘ 申请",
        "企业 91**************1x 申请"]


def test_a_traceback_is_redacted_when_formatted(redacting, caplog):
    log = logging.getLogger("tests.redact")
    with caplog.at_level(logging.INFO):
        try:
            raise ValueError(f"bad number 13912345678 for {CODE}")
        except ValueError:
            log.exception("handoff failed for +86 139 1234 5678")
    record = caplog.records[0]
    assert record.exc_info is not None and record.exc_info[0] is ValueError  # kept as it was
    text = logging.Formatter().format(record)
    assert "ValueError: bad number 139****5678 for 91**************1X" in text
    assert _clean(text, "13912345678") and _clean(caplog.text, "13912345678")
    assert _clean(record.exc_text or "", "13912345678")
    sent = copy.copy(record)  # what a QueueHandler sends to another process
    sent.exc_info = None
    received = pickle.loads(pickle.dumps(sent))
    assert (received.getMessage(), received.exc_text) == (record.getMessage(), record.exc_text)


def test_stack_info_is_redacted(redacting, caplog):
    with caplog.at_level(logging.INFO):
        logging.getLogger("tests.redact").info("where 13912345678", stack_info=True)
    assert "13912345678" not in (caplog.records[0].stack_info or "x")


def test_access_log_arguments_stay_a_tuple_for_uvicorns_formatter(redacting, caplog):
    """uvicorn's access formatter unpacks ``record.args``: they are redacted in place."""
    with caplog.at_level(logging.INFO, logger="uvicorn.access"):
        logging.getLogger("uvicorn.access").info(
            '%s - "%s %s HTTP/%s" %d', "127.0.0.1:5000", "GET",
            "/api/kb/search?q=13912345678", "1.1", 200)
    record = caplog.records[0]
    assert isinstance(record.args, tuple) and len(record.args) == 5
    assert record.args[2] == "/api/kb/search?q=139****5678" and record.args[4] == 200
    assert "13912345678" not in record.getMessage()


def test_a_token_in_a_logged_url_is_dropped(redacting, caplog):
    """Rasa's HTTP API takes its auth token in the query string; httpx and uvicorn log URLs."""
    with caplog.at_level(logging.INFO):
        logging.getLogger("httpx").info(
            'HTTP Request: %s %s "%s"', "POST",
            "http://127.0.0.1:5005/conversations/c1/tracker/events?token=s3cret-Rasa&x=1",
            "HTTP/1.1 200 OK")
        logging.getLogger("uvicorn.access").info(
            '%s - "%s %s HTTP/%s" %d', "127.0.0.1:5000", "POST", "/webhook?TOKEN=abc123", "1.1",
            404)
    first, second = (r.getMessage() for r in caplog.records)
    assert "s3cret-Rasa" not in first and "?token=[redacted]&x=1" in first
    assert "abc123" not in second and "/webhook?TOKEN=[redacted]" in second


def test_installing_twice_wraps_once(redacting):
    factory = logging.getLogRecordFactory()
    install_log_redaction()
    assert logging.getLogRecordFactory() is factory and redact.installed()


def test_text_without_personal_data_is_unchanged(redacting, caplog):
    with caplog.at_level(logging.INFO):
        logging.getLogger("tests.redact").info("ticket %s took %d ms; 100%% done", "abc", 12)
        logging.getLogger("tests.redact").info("订单号 2026112800001, request 0f3a9c2e")
    assert [r.getMessage() for r in caplog.records] == [
        "ticket abc took 12 ms; 100% done", "订单号 2026112800001, request 0f3a9c2e"]


def test_the_gateway_and_the_command_line_install_it():
    import subprocess
    import sys

    from xiaobao.settings import REPO_ROOT

    code = ("import logging\n"
            "before = logging.getLogRecordFactory()\n"
            "import cli.main\n"
            "from xiaobao.redact import installed\n"
            "assert installed(), 'cli'\n"
            "logging.setLogRecordFactory(before)\n"
            "from api.main import create_app\n"
            "from api.services import build_services\n"
            "from xiaobao.settings import Settings\n"
            "import tempfile, pathlib\n"
            "home = pathlib.Path(tempfile.mkdtemp())\n"
            "s = Settings(home=home, warm_retriever=False, background_jobs=False)\n"
            "create_app(s)\n"
            "assert installed(), 'gateway'\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True,
                         text=True, timeout=120, check=False)
    assert out.returncode == 0, out.stderr


@pytest.mark.parametrize("text", [
    "request c7d739c0ed9d4bc7abfbd3f8442120343d done",
    "trace 0f3a9c2e13912345678ab", "批次 20261207 已导出", "截止 2026-12-07",
    "file report_a91310113MA1GL1234X.csv", "hash 9a110101199003074578"])
def test_hex_ids_dates_and_longer_tokens_are_not_masked(text):
    assert redact.redact(text) == text


def test_phones_id_numbers_and_credit_codes_on_their_own_are_masked():
    from xiaobao.redact import mask_personal_text
    assert mask_personal_text("电话13812345678，身份证110101199003074578，代码91310113MA1GL1234X"
                              "，座机 62345678") == \
        "电话138****5678，身份证11**************78，代码91**************4X，座机 623****5678"
