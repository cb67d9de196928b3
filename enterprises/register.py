"""The register's facts: stored without ever overwriting, read as one profile or as every
enterprise's record, with the value that counts for each field and where it came from.

For each field the current value is the newest (by as-of date, then by when it was loaded)
from an authoritative source; only when no authority gave one, the newest the enterprise
declared. The enterprise's own word stays visible beside an authority's (``declared_value``).
:func:`records` and :func:`profile` share :func:`current_values`, so the batch evaluator and
the single-profile check read the same thing.
"""
from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import chain, groupby
from operator import itemgetter
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from enterprises import audit, sources
from enterprises.models import Enterprise, EnterpriseFact
from enterprises.uscc import normalise_uscc, uscc_problem
from policies.facts import Facts, fact_json, parse_facts, parse_value
from policies.fields import Dictionary, default_dictionary
from xiaobao.clock import today, utcnow
from xiaobao.errors import XiaobaoError
from xiaobao.settings import Settings, get_settings

_CHUNK = 500


class RegisterError(XiaobaoError, ValueError):
    """Refused: a status, a code and a sentence in Chinese, then English."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message, status=status, code=code)


@dataclass(frozen=True)
class FieldValue:
    """The value that counts for one field, where it came from, and what the enterprise said
    when that differs (``declared_value`` None: it said nothing else)."""

    field: str
    value: Any
    source: str
    as_of: dt.date
    authoritative: bool
    fresh: bool
    declared_value: Any = None
    declared_source: str = ""
    declared_as_of: dt.date | None = None

    def to_dict(self) -> dict[str, Any]:
        out = {"field": self.field, "value": fact_json(self.value), "source": self.source,
               "as_of": self.as_of.isoformat(), "authoritative": self.authoritative,
               "fresh": self.fresh}
        if self.declared_as_of is not None:
            out["declared"] = {"value": fact_json(self.declared_value),
                               "source": self.declared_source,
                               "as_of": self.declared_as_of.isoformat()}
        return out


@dataclass(frozen=True)
class Profile:
    """One enterprise on ``day``: ``facts`` for policies.evaluator.check, ``fields`` with each
    value's provenance, and the fields an authority gave within their freshness."""

    uscc: str
    name: str
    day: dt.date
    facts: Facts
    fields: dict[str, FieldValue] = field(default_factory=dict)
    authoritative_fresh: frozenset[str] = frozenset()

    def to_dict(self) -> dict[str, Any]:
        return {"uscc": self.uscc, "name": self.name, "day": self.day.isoformat(),
                "fields": [v.to_dict() for v in self.fields.values()],
                "authoritative_fresh": sorted(self.authoritative_fresh)}


# A stored fact as ranked() reads it: (id, field, value JSON text, source, as_of, …).
FactRow = Sequence[Any]


def value_text(value: Any) -> str:
    """The stored form of a typed value: canonical JSON, so equal values compare equal."""
    return json.dumps(fact_json(value), ensure_ascii=False, sort_keys=True)


class _Reader:
    """What ranking needs, read once per call: the dictionary (each distinct stored value
    parsed once), the authoritative sources and each field's freshness window."""

    def __init__(self, dictionary: Dictionary, settings: Settings) -> None:
        self.dictionary = dictionary
        self.cache: dict[tuple[str, str], Any] = {}
        self.authoritative = frozenset(
            s for s in sources.known_sources(settings) if sources.is_authoritative(s, settings))
        self.window = {n: sources.freshness_days(n, settings) for n in dictionary.fields}

    def decode(self, name: str, text: str) -> Any:
        key = (name, text)
        if key not in self.cache:
            self.cache[key] = parse_value(self.dictionary[name], json.loads(text))
        return self.cache[key]

    def fresh(self, name: str, as_of: dt.date, day: dt.date) -> bool:
        """sources.is_fresh, with the window read once."""
        return sources.within(as_of, day, self.window[name])

    def ranked(self, rows: Iterable[FactRow], day: dt.date) -> dict[str, list[FactRow | None]]:
        """Per field known on ``day`` (facts as of a later day ignored, fields the dictionary
        no longer has skipped): [the newest authoritative fact, the newest declared one],
        newest by as-of date, then by when it was loaded."""
        best: dict[str, list[FactRow | None]] = {}
        for row in rows:
            as_of = row[4]
            if as_of is None or as_of > day or row[1] not in self.window:
                continue  # (None: an enterprise without facts, from records' outer join)
            pair = best.setdefault(row[1], [None, None])
            slot = 0 if row[3] in self.authoritative else 1
            held = pair[slot]
            if held is None or (as_of, row[0]) > (held[4], held[0]):
                pair[slot] = row
        return best


def current_values(rows: Iterable[FactRow], day: dt.date,
                   reader: _Reader) -> dict[str, FieldValue]:
    """The value that counts for each field on ``day``, with its provenance."""
    out = {}
    for name, (authority, declared) in reader.ranked(rows, day).items():
        chosen = authority or declared
        assert chosen is not None
        extra: dict[str, Any] = {}
        if authority is not None and declared is not None and declared[2] != authority[2]:
            extra = {"declared_value": reader.decode(name, declared[2]),
                     "declared_source": declared[3], "declared_as_of": declared[4]}
        out[name] = FieldValue(name, reader.decode(name, chosen[2]), chosen[3], chosen[4],
                               authority is not None, reader.fresh(name, chosen[4], day),
                               **extra)
    return out


def _fresh_fields(values: dict[str, FieldValue]) -> frozenset[str]:
    return frozenset(n for n, v in values.items() if v.authoritative and v.fresh)


def checked_uscc(code: object) -> str:
    """``code`` normalised; RegisterError (422) saying why when it is no valid USCC."""
    uscc = normalise_uscc(code)
    problem = uscc_problem(uscc)
    if problem:
        raise RegisterError(422, "invalid_uscc", problem)
    return uscc


def get_enterprise(session: Session, uscc: str) -> Enterprise:
    found = session.get(Enterprise, checked_uscc(uscc))
    if found is None:
        raise RegisterError(404, "unknown_enterprise",
                            "登记簿中没有该企业。 / The enterprise is not in the register.")
    return found


def _fact_rows(session: Session, uscc: str) -> list[FactRow]:
    q = (select(EnterpriseFact.id, EnterpriseFact.field, EnterpriseFact.value,
                EnterpriseFact.source, EnterpriseFact.as_of)
         .where(EnterpriseFact.uscc == uscc).order_by(EnterpriseFact.id))
    return [tuple(r) for r in session.execute(q)]


def profile(session: Session, uscc: str, day: dt.date | None = None, *,
            dictionary: Dictionary | None = None) -> Profile:
    """One enterprise as of ``day`` (default today); RegisterError 404 when it is unknown.
    Not logged: a person's read goes through :func:`read_profile`."""
    day = day or today()
    enterprise = get_enterprise(session, uscc)
    reader = _Reader(dictionary or default_dictionary(), get_settings())
    values = current_values(_fact_rows(session, enterprise.uscc), day, reader)
    return Profile(enterprise.uscc, enterprise.name, day, {n: v.value for n, v in values.items()},
                   values, _fresh_fields(values))


def read_profile(session: Session, uscc: str, *, actor: str, reason: str,
                 day: dt.date | None = None) -> Profile:
    """A person's read of one enterprise's record: refused without a reason, logged with who,
    when and why (xiaobao.policy decides whether ``actor`` may read at all)."""
    if not reason.strip():
        raise RegisterError(422, "reason_required", "查阅企业档案须说明理由。 / A read of an "
                                                    "enterprise's record needs a reason.")
    found = profile(session, uscc, day)
    audit.record(session, actor, "read", uscc=found.uscc, reason=reason.strip())
    return found


def records(session: Session, day: dt.date | None = None, *,
            dictionary: Dictionary | None = None,
            usccs: Iterable[str] | None = None) -> Iterator[dict[str, Any]]:
    """Every enterprise (or those of ``usccs``: the ones whose facts just changed) as
    ``{"uscc", "name", "facts", "authoritative_fresh"}`` in USCC order, from one query
    (streamed): the input of the batch evaluator (policies/batch.py)."""
    day = day or today()
    reader = _Reader(dictionary or default_dictionary(), get_settings())
    # (id, field, value, source, as_of) first: the shape ranked() reads, without a copy per row
    q = (select(EnterpriseFact.id, EnterpriseFact.field, EnterpriseFact.value,
                EnterpriseFact.source, EnterpriseFact.as_of, Enterprise.uscc, Enterprise.name)
         .select_from(Enterprise)
         .outerjoin(EnterpriseFact, EnterpriseFact.uscc == Enterprise.uscc)
         .order_by(Enterprise.uscc))  # ranked() orders facts itself: no sort by id
    if usccs is not None:
        q = q.where(Enterprise.uscc.in_(sorted({normalise_uscc(u) for u in usccs})))
    # Core rows, streamed: the ORM's per-row bookkeeping was a third of the time
    result = session.connection().execute(q.execution_options(yield_per=5000))
    for (uscc, name), rows in groupby(chain.from_iterable(result.partitions()),
                                      key=itemgetter(5, 6)):
        facts: Facts = {}
        fresh = set()
        for field_name, (authority, declared) in reader.ranked(rows, day).items():
            chosen = authority or declared
            assert chosen is not None
            facts[field_name] = reader.decode(field_name, chosen[2])
            if authority is not None and reader.fresh(field_name, authority[4], day):
                fresh.add(field_name)
        yield {"uscc": uscc, "name": name, "facts": facts, "authoritative_fresh": fresh}


def history(session: Session, uscc: str, field: str | None = None) -> list[dict[str, Any]]:
    """Every fact ever stored for the enterprise (or one field), in the order loaded."""
    enterprise = get_enterprise(session, uscc)
    q = select(EnterpriseFact).where(EnterpriseFact.uscc == enterprise.uscc)
    if field is not None:
        q = q.where(EnterpriseFact.field == field)
    return [{"field": f.field, "value": json.loads(f.value), "source": f.source,
             "as_of": f.as_of.isoformat(), "authoritative": sources.is_authoritative(f.source),
             "loaded_by": f.loaded_by, "loaded_at": f.loaded_at.isoformat(), "batch": f.batch}
            for f in session.scalars(q.order_by(EnterpriseFact.id))]


# --- writing ---------------------------------------------------------------------------------

FactKey = tuple[str, str, str, str, dt.date]  # uscc, field, value text, source, as_of


def existing_keys(session: Session, usccs: Iterable[str]) -> set[FactKey]:
    """The facts already stored for these enterprises, as keys (what makes a load a no-op)."""
    out: set[FactKey] = set()
    codes = sorted(set(usccs))
    for i in range(0, len(codes), _CHUNK):
        q = select(EnterpriseFact.uscc, EnterpriseFact.field, EnterpriseFact.value,
                   EnterpriseFact.source, EnterpriseFact.as_of).where(
            EnterpriseFact.uscc.in_(codes[i:i + _CHUNK]))
        out |= {tuple(r) for r in session.execute(q)}  # type: ignore[misc]
    return out


def existing_names(session: Session, usccs: Iterable[str]) -> dict[str, str]:
    codes = sorted(set(usccs))
    out: dict[str, str] = {}
    for i in range(0, len(codes), _CHUNK):
        q = select(Enterprise.uscc, Enterprise.name).where(
            Enterprise.uscc.in_(codes[i:i + _CHUNK]))
        out.update({u: n for u, n in session.execute(q)})
    return out


def new_facts(uscc: str, facts: Facts, source: str, as_of: dt.date,
              known: set[FactKey]) -> list[FactKey]:
    """The keys of ``facts`` not stored yet (and added to ``known``)."""
    out = []
    for name, value in facts.items():
        key = (uscc, name, value_text(value), source, as_of)
        if key not in known:
            known.add(key)
            out.append(key)
    return out


def write_facts(session: Session, keys: list[FactKey], *, by: str, batch: str) -> None:
    now = utcnow()
    session.add_all([EnterpriseFact(uscc=u, field=f, value=v, source=s, as_of=a,
                                    loaded_by=by[:64], loaded_at=now, batch=batch)
                     for u, f, v, s, a in keys])
    session.flush()


def ensure_enterprise(session: Session, uscc: str, name: str = "") -> bool:
    """The enterprise exists afterwards (its name updated when one is given); whether it was
    created."""
    found = session.get(Enterprise, uscc)
    if found is None:
        session.add(Enterprise(uscc=uscc, name=name, created_at=utcnow()))
        session.flush()
        return True
    if name and name != found.name:
        found.name = name
    return False


def add_declared(session: Session, uscc: str, facts: dict[str, Any], *,
                 source: str = sources.CONVERSATION, by: str, as_of: dt.date | None = None,
                 dictionary: Dictionary | None = None) -> int:
    """Facts the enterprise itself gave (in a conversation, or 企业自报), stored beside any
    authority's, never over it; how many were new. Only a non-authoritative source may be
    named here, and bad values are refused (FactError) before anything is stored."""
    if source not in sources.DECLARED or sources.is_authoritative(source):
        raise RegisterError(422, "not_a_declared_source",
                            f"“{source[:20]}”不是企业自述的来源。 / {source[:20]!r} is not a "
                            "source of the enterprise's own word.")
    code = checked_uscc(uscc)
    dictionary = dictionary or default_dictionary()
    derived = sorted(n for n in facts if n in dictionary and dictionary[n].derived)
    if derived:
        raise RegisterError(422, "derived_field", f"{derived[0]} 由其他字段计算，不能填报。 / "
                                                  f"{derived[0]} is computed from other fields.")
    typed = parse_facts(facts, dictionary)
    day = as_of or today()
    ensure_enterprise(session, code)
    keys = new_facts(code, typed, source, day, existing_keys(session, [code]))
    write_facts(session, keys, by=by, batch="")
    return len(keys)


def fact_count(session: Session, *, source: str | None = None) -> int:
    q = select(func.count()).select_from(EnterpriseFact)
    if source is not None:
        q = q.where(EnterpriseFact.source == source)
    return int(session.scalar(q) or 0)
