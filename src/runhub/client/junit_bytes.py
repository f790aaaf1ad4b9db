"""The byte filter in front of expat for runhub.client.junit: a report's bytes rewritten
so that expat reads what the official CLI's fast-xml-parser reads (see KeepNumericRefs),
with long attribute values and comments handed over so that expat scans them once."""

from __future__ import annotations

import re
from typing import BinaryIO
from xml.parsers import expat

CDATA_TAG = "runhub-cdata-section"  # the filter wraps each CDATA section in this element
SNIFF = 1 << 16  # bytes read at a time

# What the byte filter looks at, per state: text, inside a start tag, inside "/' values.
_TOKEN = re.compile(rb"<!\[CDATA\[|<!--|<[A-Za-z_:\x80-\xff]|&#(x[0-9a-fA-F]+|[0-9]+);")
_IN_TAG = re.compile(rb"[\"'>]")
_NUMERIC_REF = re.compile(rb"&#(x[0-9a-fA-F]+|[0-9]+);")
_KEPT_REFS = frozenset({b"38", b"x26", b"39", b"x27", b"62", b"x3E", b"60", b"x3C", b"34", b"x22"})
_TAIL = 32  # longest partial token carried between chunks
# A region of text and tags needs no rewriting when it holds no character reference, no
# `<!` (CDATA, comment, DOCTYPE) and no attribute value with a newline or tab. Every
# attribute value follows `=` and cannot hold `<`, so this pattern never misses one.
_WS_IN_VALUE = re.compile(rb"=[ \t\r\n]*+(?:\"[^\"<\r\n\t]*+[\r\n\t]|'[^'<\r\n\t]*+[\r\n\t])")
_VALUE_KEEP = 1 << 18  # bytes kept at either end of a long attribute value
_BOM = b"\xef\xbb\xbf"
_ENCODING = re.compile(rb"<\?xml[^>]*?encoding[ \t\r\n]*=[ \t\r\n]*[\"']([A-Za-z0-9._-]+)[\"']")


class KeepNumericRefs:
    """A read-only byte stream rewritten so expat reads what fast-xml-parser reads:
    * numeric character references (outside CDATA and comments) other than those for
      ' " < > & are escaped, so they stay literal text;
    * literal newlines and tabs inside attribute values become references (CRLF and CR one
      `&#10;`), so attribute-value normalisation does not turn them into spaces;
    * each CDATA section is wrapped in a `<runhub-cdata-section>` element, so `_text` can
      trim the text around it but not the section itself;
    * a comment that goes on past a chunk is split in two there (`--><!--`).
    An attribute value is one token for expat, which (2.5.0) scans an unfinished token
    again from its start on every chunk: so a value is held back until it ends, and one
    over 3 × _VALUE_KEEP bytes is cut to its first and last _VALUE_KEEP or so (between
    characters), the part left out only checked for well-formedness (`_check_value`)."""

    def __init__(self, raw: BinaryIO) -> None:
        self._raw = raw
        self._carry = b""
        self._until: bytes | None = None  # end marker of the CDATA/comment we are in
        self._quote: bytes | None = None  # quote of the attribute value we are in
        self._in_tag = False
        self._eof = False
        self._value: list[bytes] = []  # the attribute value held back (rewritten)
        self._value_size = 0
        self._value_cut = False  # its first _VALUE_KEEP bytes are out, its middle dropped
        self._encoding: str | None = None  # the declared one, for `_check_value`
        self._started = False

    def read(self, size: int = -1) -> bytes:
        while not self._eof:
            chunk = self._raw.read(max(size, SNIFF))
            if not chunk:
                self._eof = True
            if not self._started:
                self._started = True
                declared = _ENCODING.match(chunk[3:] if chunk.startswith(_BOM) else chunk)
                self._encoding = declared.group(1).decode("ascii") if declared else None
            out = self._filter(self._carry + chunk, final=not chunk)
            if out:
                return out
        out, self._carry = self._carry, b""
        return out

    def _filter(self, data: bytes, final: bool) -> bytes:
        if self._until is None and self._quote is None and not self._in_tag:
            # Fast path: up to the last `<` (outside CDATA and comments every `<` starts
            # markup, so the state there is plain text again) nothing may need rewriting.
            end = len(data) if final else data.rfind(b"<")
            if (
                end > 0
                and data.find(b"&#", 0, end) < 0
                and data.find(b"<!", 0, end) < 0
                and not _WS_IN_VALUE.search(data, 0, end)
            ):
                self._carry = data[end:]
                return data[:end]
        out: list[bytes] = []
        pos = 0
        limit = len(data) if final else len(data) - _TAIL  # later tokens may be partial
        while True:
            if self._until is not None:
                end = data.find(self._until, pos)
                if end < 0:
                    keep = len(data) if final else max(pos, len(data) - len(self._until) + 1)
                    if self._until == b"-->" and not final:
                        # expat would scan the unfinished comment again on every chunk:
                        # end it here and open another (no `--` is split, no character)
                        while keep > pos and (
                            b"-" in data[keep - 1 : keep + 1] or 0x80 <= data[keep] < 0xC0
                        ):
                            keep -= 1
                        if keep > pos:
                            out += (data[pos:keep], b"--><!--")
                            pos = keep
                        break
                    out.append(data[pos:keep])
                    pos = keep
                    break
                end += len(self._until)
                out.append(data[pos:end])
                if self._until == b"]]>":
                    out.append(b"</" + CDATA_TAG.encode() + b">")
                pos, self._until = end, None
                continue
            if self._quote is not None:  # in an attribute value: held back until it ends
                end = closing = data.find(self._quote, pos)
                if closing < 0:
                    end = len(data) if final else _value_end(data, pos, limit)
                if end > pos:
                    self._hold(out, _rewrite_value(data[pos:end]), self._quote)
                pos = end
                if closing < 0:
                    break
                out += self._value
                out.append(self._quote)
                self._quote, self._value, self._value_size = None, [], 0
                self._value_cut = False
                pos += 1
                continue
            match = (_IN_TAG if self._in_tag else _TOKEN).search(data, pos)
            if match is None or match.start() >= limit:
                keep = max(pos, limit)
                out.append(data[pos:keep])
                pos = keep
                break
            token = match.group(0)
            out.append(data[pos : match.start()])
            if token.startswith(b"&#"):
                if match.group(1) not in _KEPT_REFS:
                    token = b"&amp;" + token[1:]
            elif self._in_tag:
                if token == b">":
                    self._in_tag = False
                else:
                    self._quote = token
            elif token.startswith(b"<!["):
                self._until = b"]]>"
                token = b"<" + CDATA_TAG.encode() + b">" + token
            elif token.startswith(b"<!-"):
                self._until = b"-->"
            else:  # a start tag
                self._in_tag = True
            out.append(token)
            pos = match.end()
        if final:  # an unfinished value: expat says so
            out += self._value
            self._value, self._value_size = [], 0
        self._carry = data[pos:]
        return b"".join(out)

    def _hold(self, out: list[bytes], piece: bytes, quote: bytes) -> None:
        """Part of an attribute value, held back; past 3 × _VALUE_KEEP bytes its first
        _VALUE_KEEP go out and all but its last _VALUE_KEEP are dropped, again each time
        that much more has come."""
        self._value.append(piece)
        self._value_size += len(piece)
        if self._value_size <= 3 * _VALUE_KEEP:
            return
        value = b"".join(self._value)
        if not self._value_cut:
            cut = _char_boundary(value, _VALUE_KEEP)
            out.append(value[:cut])
            value, self._value_cut = value[cut:], True
        cut = _char_boundary(value, len(value) - _VALUE_KEEP)
        _check_value(value[:cut], quote, self._encoding)
        self._value, self._value_size = [value[cut:]], len(value) - cut


def _value_end(data: bytes, pos: int, limit: int) -> int:
    """Where to stop in an attribute value that goes on past `data`: at `limit`, or before a
    CR or numeric reference that may go on past it."""
    end = max(pos, limit)
    amp = data.rfind(b"&", max(pos, end - _TAIL), end)
    if amp >= 0 and data.find(b";", amp, end) < 0:
        end = amp
    if end > pos and data[end - 1] == 0x0D:  # CR, maybe of a CRLF
        end -= 1
    return end


def _keep_ref(match: re.Match[bytes]) -> bytes:
    ref = match.group(0)
    return ref if match.group(1) in _KEPT_REFS else b"&amp;" + ref[1:]


def _rewrite_value(part: bytes) -> bytes:
    """Part of an attribute value as the filter passes it on: numeric references escaped
    (but for ' " < > &), CRLF, CR, LF and tab as references."""
    if b"&#" in part:
        part = _NUMERIC_REF.sub(_keep_ref, part)
    if b"\r" in part:
        part = part.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    return part.replace(b"\n", b"&#10;").replace(b"\t", b"&#9;")


def _char_boundary(value: bytes, cut: int) -> int:
    """`cut` moved back, if need be, to the start of the character or reference of a
    (rewritten) attribute value that it falls in: UTF-8 continuation bytes are skipped, and
    a reference is at most 6 bytes (`&quot;`, `&#x3C;`; others are escaped)."""
    while cut > 0 and 0x80 <= value[cut] < 0xC0:
        cut -= 1
    amp = value.rfind(b"&", max(0, cut - 8), cut)
    if amp >= 0 and value.find(b";", amp, cut) < 0:
        cut = amp
    return cut


def _check_value(part: bytes, quote: bytes, encoding: str | None) -> None:
    """Raise as expat would if `part`, left out of a long attribute value, is not
    well-formed there (a `<`, a bad reference, a character not allowed or not encoded)."""
    checker = expat.ParserCreate(encoding)
    try:
        checker.Parse(b"<v a=" + quote + part + quote + b"/>", True)
    except expat.ExpatError as exc:
        raise expat.ExpatError(
            f"{expat.ErrorString(exc.code)} in an attribute value over "
            f"{3 * _VALUE_KEEP >> 10} KiB, after its first {_VALUE_KEEP >> 10} KiB"
        ) from None
