"""Reading request bodies: size limit, decompression, JSON decoding into Structs."""

from __future__ import annotations

import re
import zlib
from typing import Any, TypeVar

import msgspec
from starlette.requests import Request

from runhub.api.schemas import MAX_ITEMS_PER_REQUEST, MAX_OBJECTS_PER_REQUEST
from runhub.errors import (
    BadRequest,
    PayloadTooLarge,
    Unprocessable,
    UnsupportedMediaType,
    invalid,
)

T = TypeVar("T")

_PATH_RE = re.compile(r" - at `\$(?P<path>[^`]*)`$")
_MISSING_RE = re.compile(r"^Object missing required field `(?P<field>[^`]+)`")
_INDEX_RE = re.compile(r"\[(\d+)\]")

_NUL_ESCAPE_RE = re.compile(rb"(\\+)u0000")
_INT_GOT_FLOAT_RE = re.compile(r"Expected `int[^`]*`, got `float`")
_STRING_RE = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')  # a JSON string, escapes included

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
    request.state.body_bytes = size  # as sent: the ingest metrics count it
    encoding = request.headers.get("content-encoding", "identity").strip().lower()
    if encoding in ("", "identity"):
        return raw
    if encoding in ("gzip", "x-gzip", "deflate"):
        return _inflate(raw, encoding, max_bytes)
    raise UnsupportedMediaType(f"Content-Encoding {encoding!r} is not supported.")


def _inflate(raw: bytes, encoding: str, max_bytes: int) -> bytes:
    """Every gzip member of the body, concatenated (RFC 1952 allows several, as gzip(1)
    writes for `cat a.gz b.gz`). A body cut short, or with bytes after its last member
    (or after a deflate stream), is refused whole: part of a body is never stored."""
    gzip = encoding != "deflate"
    wbits = 16 + zlib.MAX_WBITS if gzip else zlib.MAX_WBITS
    out: list[bytes] = []
    size = 0
    rest = raw
    while True:
        inflater = zlib.decompressobj(wbits)
        try:
            chunk = inflater.decompress(rest, max_bytes + 1 - size)
        except zlib.error as exc:
            raise BadRequest("The request body could not be decompressed.") from exc
        size += len(chunk)
        if size > max_bytes or inflater.unconsumed_tail:
            raise PayloadTooLarge(f"The request body is larger than {max_bytes} bytes.")
        out.append(chunk)
        if not inflater.eof:
            raise BadRequest("The request body could not be decompressed: it is cut short.")
        rest = inflater.unused_data
        if not rest:
            return b"".join(out)
        if not gzip:
            raise BadRequest("The request body has data after its deflate stream.")


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
    _check_object_count(raw)
    try:
        body = _decode_integral(raw, struct_type)
    except msgspec.ValidationError as exc:
        path, message = field_path(str(exc))
        if not path:
            raise BadRequest("The request body must be a JSON object.") from exc
        raise invalid(path, message) from exc
    except msgspec.DecodeError as exc:
        raise BadRequest(f"The request body is not valid JSON: {exc}.") from exc
    except RecursionError:
        raise BadRequest("The request body is nested too deeply.") from None
    _check_item_count(body)
    return body


def _decode_integral(raw: bytes, struct_type: type[T]) -> T:
    """Strict decoding, except that an integral number such as 5.0 or 5e0 counts as an
    integer, as in JSON Schema (5.5 stays a 422). Only a body that needs it pays for the
    second pass."""
    try:
        return _decoder(struct_type).decode(raw)
    except msgspec.ValidationError as exc:
        if not _INT_GOT_FLOAT_RE.match(str(exc)):
            raise
    document = _integral_floats_as_ints(msgspec.json.decode(raw))
    return msgspec.convert(document, struct_type)


def _integral_floats_as_ints(value: Any) -> Any:
    if isinstance(value, float):
        return int(value) if value.is_integer() else value
    if isinstance(value, list):
        return [_integral_floats_as_ints(item) for item in value]
    if isinstance(value, dict):
        return {key: _integral_floats_as_ints(item) for key, item in value.items()}
    return value


def _check_object_count(raw: bytes) -> None:
    """Refuse, before decoding, a body with more JSON objects than any valid one can hold:
    a few MiB of tiny fields must not cost gigabytes of decoded objects. Counting `{` is an
    upper bound; only when that is over the limit are the strings removed for an exact
    count."""
    if raw.count(b"{") <= MAX_OBJECTS_PER_REQUEST:
        return
    if _STRING_RE.sub(b"", raw).count(b"{") > MAX_OBJECTS_PER_REQUEST:
        raise Unprocessable(
            f"The request body holds more than {MAX_OBJECTS_PER_REQUEST} JSON objects.",
            errors={"body": [f"At most {MAX_OBJECTS_PER_REQUEST} JSON objects per request."]},
        )


def _check_item_count(body: object) -> None:
    """At most MAX_ITEMS_PER_REQUEST fields, artifacts and links in one request, counting
    those of every test."""
    items = sum(len(getattr(body, name, None) or ()) for name in ("fields", "artifacts", "links"))
    for test in getattr(body, "tests", None) or ():
        items += len(test.fields or ()) + len(test.artifacts or ())
    if items > MAX_ITEMS_PER_REQUEST:
        message = (
            f"The request holds {items} fields, artifacts and links; "
            f"at most {MAX_ITEMS_PER_REQUEST} are accepted per request."
        )
        raise Unprocessable(message, errors={"tests": [message]})


def decode_list(raw: bytes, struct_type: type[T], content_type: str | None) -> tuple[Any, list[T]]:
    """A body that is a JSON array of `struct_type` objects: (the document as sent, the
    decoded items). A 422 names the item and property (`2.name`)."""
    if not _is_json_content_type(content_type):
        raise UnsupportedMediaType()
    _check_object_count(raw)
    try:
        document = msgspec.json.decode(raw)
    except msgspec.DecodeError as exc:
        raise BadRequest(f"The request body is not valid JSON: {exc}.") from exc
    except RecursionError:
        raise BadRequest("The request body is nested too deeply.") from None
    if not isinstance(document, list):
        raise BadRequest("The request body must be a JSON array.")
    try:
        items = msgspec.convert(document, list[struct_type])  # type: ignore[valid-type]
    except msgspec.ValidationError as exc:
        path, message = field_path(str(exc))
        raise invalid(path or "body", message) from exc
    return document, items


async def parse(request: Request, struct_type: type[T]) -> T:
    raw = await read_body(request, request.app.state.settings.max_body_bytes)
    return decode(raw, struct_type, request.headers.get("content-type"))
