"""The rules of failure signatures (services.failure_signature): each kind of variable part
is normalised, what tells causes apart is kept, and properties (hypothesis) show that
normalising is idempotent and never merges two different quoted identifiers."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runhub.services.failure_signature import is_variable, normalise, signature


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("count was 3", "count was 12"),
        ("value -4.5e3 rejected", "value 17 rejected"),
        ("object at 0x7f3a2b1c9d80", "object at 0x55d0c0ffee00"),
        ("id 123e4567-e89b-12d3-a456-426614174000", "id 9f1c2d3e-0000-4a5b-8c9d-0123456789ab"),
        ("commit 3f2a9c1d7e", "commit a1b2c3d4e5f60718"),
        ("sha256 9b74c9897bac770ffc029102a200c5de", "sha256 0cc175b9c0f1b6a831c399e269772661"),
        ("at 2024-05-01T10:00:00Z", "at 2026-12-02T23:59:59.123+01:00"),
        ("on 2024-05-01 at 10:00:00", "on 2025-01-31 at 23:59:59.999"),
        ("took 1.234s", "took 30000ms"),
        ("Timeout 30000ms exceeded", "Timeout 5000ms exceeded"),
        ("connect to 127.0.0.1:5432 refused", "connect to 10.1.2.3:6543 refused"),
        ("connect to [::1]:5432 refused", "connect to 127.0.0.1:5432 refused"),
        ("listen on fe80::1ff:fe23:4567:890a failed", "listen on 2001:db8::1 failed"),
        (
            "open /tmp/pytest-of-ci/pytest-12/test_a0/f.txt",
            "open /tmp/pytest-of-x/pytest-7/test_b1/f.txt",
        ),
        ("in /private/var/folders/xy/T/tmp9/out", "in /tmp/tmpabc123/out"),
        (
            r"C:\Users\ci\AppData\Local\Temp\xunit-1\a.txt",
            r"C:\Users\bob\AppData\Local\Temp\q\a.txt",
        ),
        ("file.py line 42, column 7", "file.py line 1300, column 12"),
        ("at x.ts:10:5", "at x.ts:212:17"),
        ("KeyError: '42'", "KeyError: '7'"),  # a quoted number is a value, not a name
        ("\x1b[31mexpected 1\x1b[0m", "expected 2"),
    ],
)
def test_variable_parts_are_normalised_alike(a: str, b: str) -> None:
    assert normalise(a) == normalise(b), (normalise(a), normalise(b))


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("KeyError: 'user_id'", "KeyError: 'order_id'"),
        ("waiting for locator('#login')", "waiting for locator('#checkout')"),
        ('locator("[data-testid=submit]")', 'locator("[data-testid=cancel]")'),
        ("undefined method `name' for nil", "undefined method `email' for nil"),
        ("Cannot read properties of undefined (reading 'id')", "... (reading 'name')"),
        ("UserService.describe failed", "OrderService.total failed"),
        ("user42 missing", "user43 missing"),  # digits inside a name are part of it
    ],
)
def test_names_tell_causes_apart(a: str, b: str) -> None:
    assert normalise(a) != normalise(b)


JAVA_NPE = """java.lang.NullPointerException: Cannot invoke "String.length()" because "name" is null
\tat com.acme.users.UserService.describe(UserService.java:{line})
\tat com.acme.users.UserServiceTest.{test}(UserServiceTest.java:{test_line})
\tat java.base/jdk.internal.reflect.DirectMethodHandleAccessor.invoke(DirectMethodHandleAccessor.java:103)
\tat org.junit.platform.commons.util.ReflectionUtils.invokeMethod(ReflectionUtils.java:728)"""


def test_one_exception_from_five_test_methods_is_one_signature() -> None:
    tests = ["describesAdmin", "describesGuest", "describesEmpty", "describesLocked", "rendersCard"]
    signatures = {
        signature(None, JAVA_NPE.format(line=42, test=t, test_line=10 + i), test_name=t).key
        for i, t in enumerate(tests)
    }
    assert signatures == {
        'NullPointerException|Cannot invoke "String.length()" because "name" is null'
        "|com.acme.users.UserService.describe"
    }
    other = JAVA_NPE.replace("UserService.describe", "OrderService.total")
    assert signature(None, other.format(line=42, test="t", test_line=1)).frame == (
        "com.acme.users.OrderService.total"
    )


PY_CONNECTION = """Traceback (most recent call last):
  File "/home/runner/work/app/tests/{test_file}", line {line}, in {test}
    rows = app.db.query("select 1")
  File "/home/runner/work/app/app/db.py", line 8, in connect
    return psycopg.connect(DSN)
  File "/opt/venv/lib/python3.12/site-packages/psycopg/connection.py", line 119, in connect
    raise last_ex.with_traceback(None)
psycopg.OperationalError: connection failed: connection to server at "{host}", port {port} failed: Connection refused
\tIs the server running on that host and accepting TCP/IP connections?"""


def test_an_error_reached_from_many_tests_is_one_signature() -> None:
    variants = [
        ("test_users.py", 12, "test_list", "127.0.0.1", 5432),
        ("test_orders.py", 99, "test_total", "10.0.0.7", 6432),
        ("api/test_health.py", 3, "test_ready", "::1", 5433),
    ]
    keys = {
        signature(None, PY_CONNECTION.format(test_file=f, line=n, test=t, host=h, port=p)).key
        for f, n, t, h, p in variants
    }
    assert len(keys) == 1
    (key,) = keys
    assert key.startswith("OperationalError|connection failed: connection to server at")
    assert key.endswith("|db.py:connect")


@pytest.mark.parametrize(
    ("message", "text", "expected"),
    [
        # pytest: the E lines, a bare assert is an AssertionError, no frame of the test's own.
        (
            "assert 3 == 4",
            "    def test_sum():\n>       assert add(1, 2) == 4\nE       assert 3 == 4\nE        +  where 3 = add(1, 2)\n\ntests/test_math.py:5: AssertionError",
            "AssertionError|assert <n> == <n> ⏎ + where <n> = add(<n>, <n>)|",
        ),
        # JavaScript: a jest expectation; source excerpt lines are left out.
        (
            None,
            "Error: expect(received).toBe(expected) // Object.is equality\n\nExpected: 3\nReceived: 4\n\n  10 |   it('adds', () => {\n> 11 |     expect(add(1, 2)).toBe(4);\n     |                       ^\n\n    at Object.<anonymous> (src/math.test.ts:11:23)",
            "Error|expect(received).toBe(expected) // Object.is equality ⏎ Expected: <n> ⏎ Received: <n>|",
        ),
        # Playwright: the locator in the call log tells the causes apart.
        (
            None,
            "Error: locator.click: Timeout 30000ms exceeded.\nCall log:\n  - waiting for locator('#login')\n\n    at /home/runner/work/app/tests/login.spec.ts:12:18",
            "Error|locator.click: Timeout <duration> exceeded. ⏎ - waiting for locator('#login')|",
        ),
        # Go: the message without the test file's prefix; "Failed" says nothing.
        (
            "Failed",
            "=== RUN   TestAdd\n    calc_test.go:12: expected 3, got 4\n--- FAIL: TestAdd (0.00s)",
            "|expected <n>, got <n>|",
        ),
        (
            None,
            "panic: runtime error: invalid memory address or nil pointer dereference [recovered]\n[signal SIGSEGV: segmentation violation code=0x1 addr=0x18 pc=0x4f6a1b]\n\ngoroutine 7 [running]:\ngithub.com/acme/shop/users.(*Service).Describe(0x0)\n\t/home/runner/work/shop/users/service.go:42 +0x1b\ngithub.com/acme/shop/users.TestDescribe(0xc000102340)\n\t/home/runner/work/shop/users/service_test.go:17 +0x3a",
            "panic|runtime error: invalid memory address or nil pointer dereference|github.com/acme/shop/users.(*Service).Describe",
        ),
        # .NET: NUnit's "Type : message" and `in file:line N` frames.
        (
            None,
            "System.NullReferenceException : Object reference not set to an instance of an object.\n   at Shop.Orders.OrderService.Total(Order o) in /src/Shop/Orders/OrderService.cs:line 42\n   at Shop.Tests.OrderServiceTests.TotalsEmpty() in /src/Shop.Tests/OrderServiceTests.cs:line 17",
            "NullReferenceException|Object reference not set to an instance of an object.|Shop.Orders.OrderService.Total",
        ),
        # Ruby: RSpec's Failure/Error line is the test's source, left out.
        (
            None,
            "Failure/Error: user.describe\n\nNoMethodError:\n  undefined method 'name' for nil\n# ./app/models/user.rb:12:in 'describe'\n# ./spec/models/user_spec.rb:8:in 'block (2 levels) in <top (required)>'",
            "NoMethodError|undefined method 'name' for nil|user.rb:describe",
        ),
        # Java: the root cause of a chain.
        (
            None,
            "java.lang.IllegalStateException: Failed to load ApplicationContext\n\tat org.springframework.test.context.X.load(X.java:1)\nCaused by: java.net.ConnectException: Connection refused (127.0.0.1:5432)\n\tat com.acme.db.Pool.open(Pool.java:77)\n\t... 23 more",
            "ConnectException|Connection refused (<ip>)|com.acme.db.Pool.open",
        ),
        (None, None, "||"),
    ],
)
def test_signature_per_language(message: str | None, text: str | None, expected: str) -> None:
    assert signature(message, text).key == expected


def test_titles_name_the_cause() -> None:
    assert signature("KeyError: 'user_id'", None).title == "KeyError: 'user_id'"
    assert signature(None, None).title == "Failed without a failure text"
    npe = signature(None, JAVA_NPE.format(line=1, test="t", test_line=2))
    assert npe.title.endswith("(in com.acme.users.UserService.describe)")
    assert len(signature("x" * 5000, None).title) <= 300


# --- properties ------------------------------------------------------------------------------

FRAGMENTS = st.sampled_from(
    [
        "42", "-3.5", "1e9", "0x7fff", "deadbeef12", "2024-05-01", "2024-05-01T10:00:00Z",
        "10:00:00", "1.5s", "300ms", "127.0.0.1", "127.0.0.1:80", "[::1]:5432", "fe80::1",
        "/tmp/pytest-of-x/pytest-1/t0/", "123e4567-e89b-12d3-a456-426614174000", "'a'",
        "'user_id'", '"#login"', "`x'", "<n>", "<<n>>", "user42", "a.b.c", "::", ":", ".",
        " ", "\t", "\n", "(", ")", "[", "]", "'", '"', "\x1b[31m", "line 7", ":12:5", "é",
    ]
)  # fmt: skip
TEXTS = st.one_of(st.text(max_size=80), st.lists(FRAGMENTS, max_size=20).map("".join))


@settings(max_examples=400, deadline=None)
@given(TEXTS)
def test_normalise_is_idempotent(text: str) -> None:
    once = normalise(text)
    assert normalise(once) == once


IDENTIFIERS = st.from_regex(r"[A-Za-z_][A-Za-z0-9_.$#-]{0,24}", fullmatch=True).filter(
    lambda s: not is_variable(s)
)
CONTEXT = st.text(
    alphabet=st.characters(blacklist_characters="'\"`", blacklist_categories=("Cs",)), max_size=40
)


@settings(max_examples=400, deadline=None)
@given(IDENTIFIERS, IDENTIFIERS, CONTEXT, CONTEXT, st.sampled_from("'\"`"))
def test_different_quoted_identifiers_never_merge(
    a: str, b: str, before: str, after: str, quote: str
) -> None:
    if a == b:
        return
    left = normalise(f"{before}{quote}{a}{quote}{after}")
    right = normalise(f"{before}{quote}{b}{quote}{after}")
    assert left != right


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=0, max_value=10**12), st.integers(min_value=0, max_value=10**12))
def test_numbers_never_split_a_message(a: int, b: int) -> None:
    assert normalise(f"expected {a} rows, got {b}") == normalise("expected 1 rows, got 2")
