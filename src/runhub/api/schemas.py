"""Request bodies as typed msgspec Structs: decoding and validation in one pass.

Unknown properties are ignored; wrong types, missing required properties, out-of-range
values and pattern violations fail decoding and become a 422 with a dotted field path.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta, Struct

MIB = 1024 * 1024

Name = Annotated[str, Meta(min_length=1, max_length=750)]
OptionalText750 = Annotated[str, Meta(max_length=750)]
Url = Annotated[str, Meta(min_length=1, max_length=2048, pattern=r"(?i)^https?://")]
Note = Annotated[str, Meta(max_length=80)]
FieldValue = Annotated[str, Meta(max_length=MIB)]
# Upper bounds keep every number inside its column (and sums inside 64 bits): larger
# values are a 422, not a database overflow. Elapsed stops at 2**53 - 1, the largest
# integer the official (JavaScript) clients can send exactly.
Count = Annotated[int, Meta(ge=0, le=2**31 - 1)]
Size = Annotated[int, Meta(ge=0, le=2**63 - 1)]
Id = Annotated[int, Meta(ge=1, le=2**63 - 1)]
Key = Annotated[str, Meta(pattern=r"^[a-z0-9_]{1,64}$")]
StatusAlias = Annotated[str, Meta(max_length=64, pattern=r"^[a-z0-9_]+$")]
Tag = Annotated[str, Meta(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
ElapsedUs = Annotated[int, Meta(ge=0, le=2**53 - 1)]

MAX_TESTS_PER_APPEND = 5000
MAX_TAGS_PER_RUN = 100
# Caps on how much one request may carry (docs/decisions.md "Requests"). The official CLI
# sends at most 24 fields and 24 attachments per test (plus a few derived fields) and
# 250 tests per append, far below them.
MAX_ITEMS_PER_TEST = 100  # fields; artifacts
MAX_META_ENTRIES = 100  # per field
MAX_ITEMS_PER_OBJECT = 1000  # fields; artifacts; links of a run or thread
MAX_ITEMS_PER_REQUEST = 50_000  # fields, artifacts and links, with every test's
# Every item with a meta object, every test, and the body itself: what a valid body can
# hold, checked before decoding so that no body costs more than its share of memory.
MAX_OBJECTS_PER_REQUEST = 2 * MAX_ITEMS_PER_REQUEST + MAX_TESTS_PER_APPEND + 1


class FieldIn(Struct, omit_defaults=True):
    type: Annotated[int, Meta(ge=1, le=5)]
    name: Name
    value: FieldValue | None = None
    meta: Annotated[dict[str, str], Meta(max_length=MAX_META_ENTRIES)] | None = None
    is_highlight: bool = False


class ArtifactIn(Struct, omit_defaults=True):
    name: Name
    url: Url
    note: Note | None = None
    mime_type: OptionalText750 | None = None
    size: Size | None = None


class LinkIn(Struct, omit_defaults=True):
    name: Name
    url: Url
    note: Note | None = None


class TestIn(Struct, omit_defaults=True):
    key: Key
    name: Name
    status: StatusAlias
    folder: Name
    elapsed: ElapsedUs | None = None
    file: OptionalText750 | None = None
    line: Count | None = None
    assertions: Count | None = None
    artifacts: Annotated[list[ArtifactIn], Meta(max_length=MAX_ITEMS_PER_TEST)] | None = None
    fields: Annotated[list[FieldIn], Meta(max_length=MAX_ITEMS_PER_TEST)] | None = None


Artifacts = Annotated[list[ArtifactIn], Meta(max_length=MAX_ITEMS_PER_OBJECT)]
Fields = Annotated[list[FieldIn], Meta(max_length=MAX_ITEMS_PER_OBJECT)]
Links = Annotated[list[LinkIn], Meta(max_length=MAX_ITEMS_PER_OBJECT)]


class Resources(Struct, omit_defaults=True):
    artifacts: Artifacts | None = None
    fields: Fields | None = None
    links: Links | None = None


class RunCreate(Struct, omit_defaults=True):
    name: Name
    source: Name
    config: Name | None = None
    config_id: Id | None = None
    milestone: Name | None = None
    milestone_id: Id | None = None
    tags: Annotated[list[Tag], Meta(max_length=MAX_TAGS_PER_RUN)] | None = None
    artifacts: Artifacts | None = None
    fields: Fields | None = None
    links: Links | None = None


class RunComplete(Struct, omit_defaults=True):
    measure_elapsed: bool = False


class ThreadCreate(Struct, omit_defaults=True):
    elapsed_observed: ElapsedUs | None = None
    elapsed_computed: ElapsedUs | None = None
    artifacts: Artifacts | None = None
    fields: Fields | None = None


class ThreadAppend(Struct, omit_defaults=True):
    elapsed_observed: ElapsedUs | None = None
    elapsed_computed: ElapsedUs | None = None
    artifacts: Artifacts | None = None
    fields: Fields | None = None
    tests: Annotated[list[TestIn], Meta(max_length=MAX_TESTS_PER_APPEND)] | None = None


class ThreadComplete(Struct, omit_defaults=True):
    elapsed_observed: ElapsedUs | None = None
    elapsed_computed: ElapsedUs | None = None


class QuarantineCreate(Struct, omit_defaults=True):
    """runhub's own: a quarantine entry (README "Quarantine")."""

    mode: Literal["mute", "skip"]
    reason: Annotated[str, Meta(min_length=1, max_length=1000)]
    case_id: Id | None = None
    key: Key | None = None
    source_id: Id | None = None
    owner: Annotated[str, Meta(max_length=200)] | None = None
    expires_at: Annotated[str, Meta(max_length=64)] | None = None


class FailureCategory(Struct, omit_defaults=True, rename={
    "message_regex": "messageRegex", "trace_regex": "traceRegex",
    "matched_statuses": "matchedStatuses", "description_html": "descriptionHtml",
}):  # fmt: skip
    """runhub's own: one rule of Allure's categories.json (README "Failure groups"); the
    body of PUT .../failure-categories is an array of them, the file unchanged."""

    name: Annotated[str, Meta(min_length=1, max_length=200)]
    message_regex: str | None = None
    trace_regex: str | None = None
    matched_statuses: list[Literal["failed", "broken", "passed", "skipped", "unknown"]] | None = (
        None
    )
    description: str | None = None
    description_html: str | None = None
    flaky: bool | None = None


WebhookEvent = Literal["run.created", "run.completed", "quarantine.changed", "case.state_changed"]
WebhookUrl = Annotated[str, Meta(min_length=1, max_length=2048)]
WebhookSecret = Annotated[str, Meta(min_length=1, max_length=200)]
WebhookEvents = Annotated[list[WebhookEvent], Meta(min_length=1, max_length=4)]


class WebhookCreate(Struct, omit_defaults=True):
    """runhub's own: a project's webhook endpoint (README "Webhooks")."""

    url: WebhookUrl
    events: WebhookEvents
    format: Literal["plain", "slack"] = "plain"
    secret: WebhookSecret | None = None
    is_active: bool = True


class WebhookUpdate(Struct, omit_defaults=True):
    """runhub's own: the properties of a webhook endpoint to change (`secret: null`
    removes the secret)."""

    url: WebhookUrl | msgspec.UnsetType = msgspec.UNSET
    events: WebhookEvents | msgspec.UnsetType = msgspec.UNSET
    format: Literal["plain", "slack"] | msgspec.UnsetType = msgspec.UNSET
    secret: WebhookSecret | None | msgspec.UnsetType = msgspec.UNSET
    is_active: bool | msgspec.UnsetType = msgspec.UNSET


RetentionDays = Annotated[int, Meta(ge=1, le=36500)]


class RetentionUpdate(Struct):
    """runhub's own: a project's retention (README "Retention"); null or omitted keeps
    forever. `passed_detail_days` must not exceed `run_days` when both are set."""

    run_days: RetentionDays | None = None
    passed_detail_days: RetentionDays | None = None


def json_schema_components() -> tuple[tuple[dict[str, Any], ...], dict[str, Any]]:
    """JSON Schema for every request body, for the OpenAPI document."""
    bodies = (
        RunCreate, Resources, RunComplete, ThreadCreate, ThreadAppend, ThreadComplete,
        QuarantineCreate, FailureCategory, WebhookCreate, WebhookUpdate, RetentionUpdate,
    )  # fmt: skip
    return msgspec.json.schema_components(bodies, ref_template="#/components/schemas/{name}")
