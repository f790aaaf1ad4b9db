"""Reading request bodies: size limit, decompression, JSON decoding into Structs."""

from __future__ import annotations

import re
import zlib
from typing import TypeVar

import msgspec
from starlette.requests import Request

from runhub.errors import BadRequest, PayloadTooLarge, UnsupportedMediaType, invalid

T = TypeVar("T")

_PATH_RE = re.compile(r" - at `\$(?P<path>[^`]*)`$")
_MISSING_RE = re.compile(r"^Object missing required field `(?P<field>[^`]+)`")
_INDEX_RE = re.compile(r"\[(\d+)\]")

_NUL_ESCAPE_RE = re.compile(rb"(\\+)u0000")

_decoders: dict[type, msgspec.json.Decoder] = {}


def _replace_nul_escapes(raw: bytes) -> bytes:
    """A NUL escape (backslash u0000) in a JSON string becomes U+FFFD: PostgreSQL text
    cannot hold NUL, and captured console output sometimes has it (docs/decisions.md)."""

    def swap(match: re.Match[bytes]) -> bytes:
        slashes = match.group(1)
        if len(slashes) % 2 == 0:  # an escaped backslash followed by plain "u0000"
            return match.group(0)
        return slashes[:-1] + b"\\ufffd"

    return _NUL_ESCAPE_RE.sub(swap, raw)


def _decoder(struct_type: type[T]) -> msgspec.json.Decoder:
    decoder = _decoders.get(struct_type)
    if decoder is None:
        decoder = _decoders[struct_type] = msgspec.json.Decoder(struct_type)
    return decoder


async def read_body(request: Request, max_bytes: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise PayloadTooLarge(f"The request body is larger than {max_bytes} bytes.")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise PayloadTooLarge(f"The request body is larger than {max_bytes} bytes.")
        chunks.append(chunk)
    raw = b"".join(chunks)
    encoding = request.headers.get("content-encoding", "identity").strip().lower()
    if encoding in ("", "identity"):
        return raw
    if encoding in ("gzip", "x-gzip", "deflate"):
        return _inflate(raw, encoding, max_bytes)
    raise UnsupportedMediaType(f"Content-Encoding {encoding!r} is not supported.")


def _inflate(raw: bytes, encoding: str, max_bytes: int) -> bytes:
    wbits = 16 + zlib.MAX_WBITS if encoding != "deflate" else zlib.MAX_WBITS
    inflater = zlib.decompressobj(wbits)
    try:
        out = inflater.decompress(raw, max_bytes + 1)
    except zlib.error as exc:
        raise BadRequest("The request body could not be decompressed.") from exc
    if len(out) > max_bytes or inflater.unconsumed_tail:
        raise PayloadTooLarge(f"The request body is larger than {max_bytes} bytes.")
    return out


def _is_json_content_type(value: str | None) -> bool:
    if value is None:
        return True  # tolerated: the body must still parse as JSON
    media = value.split(";", 1)[0].strip().lower()
    return media == "application/json" or media.endswith("+json")


def field_path(message: str) -> tuple[str, str]:
    """Turn msgspec's ``... - at `$.tests[3].key``` into (``tests.3.key``, message)."""
    path = ""
    match = _PATH_RE.search(message)
    if match:
        # `$.fields[0].meta[...]` (a value of a mapping) becomes `fields.0.meta`.
        path = _INDEX_RE.sub(r".\1", match.group("path").replace("[...]", "")).lstrip(".")
        message = message[: match.start()]
    missing = _MISSING_RE.match(message)
    if missing:
        path = f"{path}.{missing.group('field')}".lstrip(".")
        return path, f"The {path} field is required."
    detail = message.replace("`", "").rstrip(".")
    return path, f"The {path} field is invalid: {detail[:1].lower()}{detail[1:]}."


def decode(raw: bytes, struct_type: type[T], content_type: str | None) -> T:
    if not _is_json_content_type(content_type):
        raise UnsupportedMediaType()
    if not raw.strip():
        raw = b"{}"
    try:
        # msgspec checks the strings it decodes but skips ignored properties unchecked.
        raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadRequest("The request body is not valid UTF-8.") from exc
    if b"u0000" in raw:
        raw = _replace_nul_escapes(raw)
    try:
        return _decoder(struct_type).decode(raw)
    except msgspec.ValidationError as exc:
        path, message = field_path(str(exc))
        if not path:
            raise BadRequest("The request body must be a JSON object.") from exc
        raise invalid(path, message) from exc
    except msgspec.DecodeError as exc:
        raise BadRequest(f"The request body is not valid JSON: {exc}.") from exc


async def parse(request: Request, struct_type: type[T]) -> T:
    raw = await read_body(request, request.app.state.settings.max_body_bytes)
    return decode(raw, struct_type, request.headers.get("content-type"))
