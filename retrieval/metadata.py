"""Document metadata: YAML front matter, the admin's sidecar file, and the checks on both.

Front matter may come from an upload, so it is parsed safely: capped, shallow, no aliases.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from pathlib import Path

import yaml

from retrieval.errors import DocumentError, printable
from retrieval.files import decode, read_path

_MAX_FRONT_MATTER_CHARS = 64 * 1024  # 50x the largest in the corpus; PyYAML parses in Python
_MAX_FRONT_MATTER_DEPTH = 4  # key: value, a list or small mapping as value; deeper is not metadata
_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?\n)?---[ \t]*(?:\n|\Z)", re.S)


def parse_text(data: bytes, name: str) -> tuple[str, dict[str, str]]:
    """Markdown or text with optional YAML front matter; the body is kept verbatim."""
    text = decode(data, name).replace("\r\n", "\n").replace("\r", "\n")
    match = _FRONT_MATTER.match(text)
    if not match:
        return text, {}
    raw = _load_front_matter(match.group(1) or "", name)
    return text[match.end() :], checked_metadata(raw, name)


METADATA_SUFFIX = ".meta.yaml"  # "report.pdf.meta.yaml" sets the metadata of "report.pdf"
OVERRIDABLE_KEYS = ("title", "publisher", "jurisdiction", "date", "url", "status", "license")


def metadata_file(path: Path) -> Path:
    """The sidecar that holds metadata an admin gave for ``path`` (PDF metadata is often wrong)."""
    return path.with_name(path.name + METADATA_SUFFIX)


def read_metadata(path: Path) -> dict[str, str]:
    """The metadata ``path``'s sidecar sets, read like front matter; {} without a sidecar."""
    sidecar = metadata_file(path)
    if not sidecar.is_file():
        return {}
    source = decode(read_path(sidecar, _MAX_FRONT_MATTER_CHARS), sidecar.name)
    framed = _FRONT_MATTER.match(source)  # written between --- lines, like front matter
    inner = (framed.group(1) or "") if framed else source
    return checked_metadata(_load_front_matter(inner, sidecar.name), sidecar.name)


def checked_metadata(raw: Mapping, name: str) -> dict[str, str]:
    """Metadata values as text, with a date that must read YYYY-MM-DD."""
    meta = {str(key): meta_value(value) for key, value in raw.items()}
    if meta.get("date"):
        meta["date"] = _iso_date(raw["date"], name)
    return meta


def _load_front_matter(source: str, name: str) -> dict:
    if len(source) > _MAX_FRONT_MATTER_CHARS:
        raise DocumentError(
            f"{name}: front matter is {len(source):,} characters, over the limit of "
            f"{_MAX_FRONT_MATTER_CHARS:,}"
        )
    loader = _FrontMatterLoader(source)
    try:
        raw = loader.get_single_data() or {}
    except _Refused as err:
        raise DocumentError(f"{name}: front matter (line {err.line + 2}) {err.problem}") from None
    except yaml.YAMLError as err:
        where = getattr(err, "problem_mark", None)
        line = f" (line {where.line + 2})" if where else ""
        problem = getattr(err, "problem", None) or "invalid syntax"
        raise DocumentError(f"{name}: front matter is not valid YAML{line}: {problem}") from err
    finally:
        loader.dispose()
    if not isinstance(raw, dict):
        raise DocumentError(f"{name}: front matter must be 'key: value' lines")
    return raw


class _Refused(Exception):
    """YAML that is valid but not accepted as metadata, with the line it starts on."""

    def __init__(self, problem: str, event: yaml.Event) -> None:
        super().__init__(problem)
        self.problem = problem
        self.line = event.start_mark.line if event.start_mark else 0


class _FrontMatterLoader(yaml.SafeLoader):
    """Safe YAML for metadata: no anchors or aliases (a 1 KB alias bomb expands to gigabytes) and
    shallow nesting. Without aliases the parsed values are no larger than the capped source."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: yaml.Node | None, index: object) -> yaml.Node | None:
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
            raise _Refused("uses a YAML anchor or alias (& or *); write each value out", event)
        if self._depth >= _MAX_FRONT_MATTER_DEPTH:
            raise _Refused(f"nests deeper than {_MAX_FRONT_MATTER_DEPTH} levels", event)
        self._depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def _as_written(construct):
    """A constructor that keeps the scalar as written when Python refuses its value."""

    def tolerant(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> object:
        try:
            return construct(loader, node)
        except ValueError:  # date 2024-13-45, a 5,000-digit number
            return loader.construct_scalar(node)

    return tolerant


_SAFE = yaml.constructor.SafeConstructor
_FrontMatterLoader.add_constructor("tag:yaml.org,2002:int", _as_written(_SAFE.construct_yaml_int))
_FrontMatterLoader.add_constructor(
    "tag:yaml.org,2002:timestamp", _as_written(_SAFE.construct_yaml_timestamp)
)


def meta_value(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return ", ".join(meta_value(item) for item in value)
    return str(value).strip()


def _iso_date(value: object, name: str) -> str:
    """YAML reads an unquoted date as a date; a quoted one must still be YYYY-MM-DD."""
    if isinstance(value, dt.date):
        return value.isoformat()[:10]
    try:
        return dt.date.fromisoformat(str(value).strip()).isoformat()
    except ValueError:
        raise DocumentError(
            f"{name}: date must be YYYY-MM-DD, not '{printable(str(value))}'"
        ) from None
