"""The local resources file (`testmo-resources.json`) the automation:resources:* commands
write and `--resources` reads: the same JSON format and checks as the official CLI 1.4.5,
so files made by either tool work with both (reference §8.4)."""

from __future__ import annotations

import json
import mimetypes
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

DEFAULT_FILE = "testmo-resources.json"
FIELD_TYPES = {"string": 1, "text": 2, "html": 3, "console": 4, "url": 5}
_MIME = re.compile(r"^[a-zA-Z0-9]+/[-+.a-zA-Z0-9]+$")


class ResourceError(ValueError):
    """A resources file or option the CLI refuses; the message is the CLI's."""


def is_url(value: object) -> bool:
    """A URL with a scheme and a host (a TLD is not required, localhost is fine)."""
    if not isinstance(value, str) or not value:
        return False
    parts = urlsplit(value)
    return parts.scheme in ("http", "https", "ftp") and bool(parts.hostname)


@dataclass
class Resources:
    fields: list[dict[str, Any]] = field(default_factory=list)
    links: list[dict[str, Any]] = field(default_factory=list)
    artifacts: list[dict[str, Any]] = field(default_factory=list)

    def has_any(self) -> bool:
        return bool(self.fields or self.links or self.artifacts)

    @classmethod
    def read(cls, path: str | Path) -> Resources:
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ResourceError(f"Resources file does not exist: {path}") from None
        except (OSError, ValueError) as exc:
            raise ResourceError(f"Resources file is not valid JSON: {path} ({exc})") from None
        out = cls()
        if not isinstance(data, dict):
            return out
        for item in data.get("fields") or []:
            out.fields.append(_checked_field(item))
        for item in data.get("links") or []:
            out.links.append(_checked_link(item))
        for item in data.get("artifacts") or []:
            out.artifacts.append(_checked_artifact(item))
        return out

    @classmethod
    def read_or_empty(cls, path: str | Path) -> Resources:
        return cls.read(path) if Path(path).exists() else cls()

    def write(self, path: str | Path) -> None:
        content: dict[str, Any] = {}
        for name in ("fields", "links", "artifacts"):
            if getattr(self, name):
                content[name] = getattr(self, name)
        Path(path).write_text(json.dumps(content, separators=(",", ":")), encoding="utf-8")

    def api_fields(self) -> list[dict[str, Any]]:
        return [
            {"type": FIELD_TYPES.get(f["type"], 1), "name": f["name"], "value": f["value"]}
            for f in self.fields
        ]

    def api_links(self) -> list[dict[str, Any]]:
        return [{k: v for k, v in link.items() if v is not None} for link in self.links]

    def api_artifacts(self) -> list[dict[str, Any]]:
        out = []
        for a in self.artifacts:
            item = {"name": a["name"], "url": a["url"]}
            for source, target in (("note", "note"), ("mimeType", "mime_type"), ("size", "size")):
                if a.get(source) is not None:
                    item[target] = a[source]
            out.append(item)
        return out


def _nonempty(item: dict[str, Any], key: str) -> bool:
    return isinstance(item.get(key), str) and item[key] != ""


def _checked_field(item: Any) -> dict[str, Any]:
    if not isinstance(item, dict) or not _nonempty(item, "type"):
        raise ResourceError("Missing field type or type empty")
    if not _nonempty(item, "name"):
        raise ResourceError("Missing field name or empty name")
    if "value" not in item:
        raise ResourceError("Missing field value")
    if item["type"] not in FIELD_TYPES:
        raise ResourceError("Field type is not a valid type")
    if item["type"] == "url" and not is_url(item["value"]):
        raise ResourceError("Field value is not a valid URL")
    return {"type": item["type"], "name": item["name"], "value": item["value"]}


def _checked_link(item: Any) -> dict[str, Any]:
    if not isinstance(item, dict) or not _nonempty(item, "name"):
        raise ResourceError("Missing link name or empty name")
    if not _nonempty(item, "url"):
        raise ResourceError("Missing link URL or empty URL")
    if not is_url(item["url"]):
        raise ResourceError("Link URL is not a valid URL")
    link = {"name": item["name"], "url": item["url"]}
    if _nonempty(item, "note"):
        link["note"] = item["note"]
    return link


def _checked_artifact(item: Any) -> dict[str, Any]:
    if not isinstance(item, dict) or not _nonempty(item, "name"):
        raise ResourceError("Missing artifact name or empty name")
    if not _nonempty(item, "url"):
        raise ResourceError("Missing artifact URL or empty URL")
    if not is_url(item["url"]):
        raise ResourceError("Artifact URL is not a valid URL")
    artifact: dict[str, Any] = {"name": item["name"], "url": item["url"]}
    if _nonempty(item, "note"):
        artifact["note"] = item["note"]
    if _nonempty(item, "mimeType"):
        if not _MIME.match(item["mimeType"]):
            raise ResourceError("Artifact mime type is not a valid mime type")
        artifact["mimeType"] = item["mimeType"]
    if "size" in item and item["size"] is not None:
        if not isinstance(item["size"], int) or isinstance(item["size"], bool):
            raise ResourceError("Artifact size is not a valid number")
        artifact["size"] = item["size"]
    return artifact


def add_field(path: str | Path, type_: str, name: str, value: str) -> None:
    if name == "":
        raise ResourceError("Name cannot be empty")
    if type_ not in FIELD_TYPES:
        raise ResourceError("Type must be either: string, url, text, console, html")
    if type_ == "url" and value and not is_url(value):
        raise ResourceError("URL is not a valid link")
    resources = Resources.read_or_empty(path)
    resources.fields.append({"type": type_, "name": name, "value": value})
    resources.write(path)


def add_link(path: str | Path, name: str, url: str, note: str | None = None) -> None:
    if name == "":
        raise ResourceError("Name cannot be empty")
    if not is_url(url):
        raise ResourceError("URL is not a valid link")
    resources = Resources.read_or_empty(path)
    resources.links.append({"name": name, "url": url, **({"note": note} if note else {})})
    resources.write(path)


def add_artifact(
    path: str | Path, name: str, url: str, note: str | None = None, file: str | None = None
) -> None:
    if name == "":
        raise ResourceError("Name cannot be empty")
    if not is_url(url):
        raise ResourceError("URL is not a valid link")
    artifact: dict[str, Any] = {"name": name, "url": url}
    if note:
        artifact["note"] = note
    if file is not None:
        local = Path(file)
        if not local.exists():
            raise ResourceError(f"Artifact file does not exist: {file}")
        mime_type, _ = mimetypes.guess_type(local.name)
        if mime_type:
            artifact["mimeType"] = mime_type
        artifact["size"] = local.stat().st_size
    resources = Resources.read_or_empty(path)
    resources.artifacts.append(artifact)
    resources.write(path)
