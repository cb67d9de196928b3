"""An uploaded file read once, within the configured cap (413 past it), and, for importers
that read paths, put on disk under its own base name in a directory removed afterwards."""
from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from fastapi import UploadFile

from api.errors import ApiError


def base_name(file: UploadFile) -> str:
    """The file's name without any directory a browser or client sent with it."""
    return Path(file.filename or "").name


def read_upload(file: UploadFile, limit: int) -> bytes:
    data = file.file.read(limit + 1)
    if len(data) > limit:
        raise ApiError(413, "body_too_large", f"文件过大（上限{limit // 1024} KB）。 / File too "
                                              f"large (at most {limit // 1024} KB).")
    return data


@contextmanager
def upload_on_disk(file: UploadFile, limit: int) -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / base_name(file)
        path.write_bytes(read_upload(file, limit))
        yield path
