"""The layout's saved retrieval index, kept between runs (under the system's temp folder) so
that a layout on a loaded machine does not embed the seed's answers anew each time (over five
minutes on two busy cores). Keyed by the seed files' bytes and the model: the retriever loads
a copied index only when its fingerprint matches the database (retrieval.service,
``load_or_build``), and builds otherwise, so a stale copy can cost time, never answers."""
from __future__ import annotations

import hashlib
import shutil
import tempfile
import uuid
from pathlib import Path

from knowledge_base.cli import SEED_DIR

ROOT = Path(tempfile.gettempdir()) / "xiaobao-layout-index"


def _key(model_dir: str) -> str:
    digest = hashlib.sha256(model_dir.encode())
    for path in sorted(SEED_DIR.glob("*.yaml")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:20]


def restore(index_dir: Path, model_dir: str) -> bool:
    """Copy the kept index into ``index_dir`` (absent); whether there was one."""
    kept = ROOT / _key(model_dir)
    if not (kept / "meta.json").exists() or index_dir.exists():
        return False
    shutil.copytree(kept, index_dir)
    return True


def keep(index_dir: Path, model_dir: str) -> None:
    """Keep ``index_dir`` for the next run (replacing what was kept under that key)."""
    if not (index_dir / "meta.json").exists():
        return
    kept = ROOT / _key(model_dir)
    tmp = ROOT / f".{kept.name}.{uuid.uuid4().hex}"
    shutil.copytree(index_dir, tmp)
    shutil.rmtree(kept, ignore_errors=True)
    tmp.replace(kept)
