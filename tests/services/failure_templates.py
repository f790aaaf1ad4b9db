"""A labelled corpus of failures built from templates of what real tools print (pytest,
unittest, Surefire/JUnit 5, jest, Playwright, go test, NUnit/xUnit, RSpec, minitest): per
cause one template, filled in several times with what varies between occurrences (the
test, its file and line, numbers, ports, addresses, temp paths, ids, times, durations).
Near-misses are causes of their own: the same exception with another quoted key, locator
or method name, or thrown from another class."""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class CorpusFailure:
    cause: str
    language: str
    status: str
    test: str
    folder: str
    message: str | None
    text: str


@dataclass(frozen=True)
class Occurrence:
    """What varies from one occurrence of a cause to the next."""

    test: str
    n: int  # a line number
    m: int  # another number
    port: int
    host: str
    tmp: str
    uuid: str
    ms: int


Template = Callable[[Occurrence], tuple[str | None, str]]
TESTS = [
    "list", "detail", "create", "update", "delete", "export", "search", "login", "logout",
    "checkout", "refund", "profile",
]  # fmt: skip


def _occurrences(seed: int, count: int) -> list[Occurrence]:
    rnd = random.Random(seed)
    hosts = ["127.0.0.1", "10.0.3.7", "::1", "192.168.1.20", "fe80::1ff:fe23:4567:890a"]
    out = []
    for i in range(count):
        out.append(
            Occurrence(
                test=f"{rnd.choice(TESTS)}_{i}",
                n=rnd.randint(10, 400),
                m=rnd.randint(0, 100_000),
                port=rnd.choice([5432, 5433, 6432, 6379, 3306, 8080]),
                host=rnd.choice(hosts),
                tmp=f"/tmp/pytest-of-runner/pytest-{rnd.randint(1, 99)}/test_{i}0",
                uuid=str(uuid.UUID(int=rnd.getrandbits(128), version=4)),
                ms=rnd.choice([5000, 10000, 30000, 60000]),
            )
        )
    return out


def _host(o: Occurrence) -> str:
    return f"[{o.host}]" if ":" in o.host else o.host


# --- Python ---------------------------------------------------------------------------------


def py_keyerror(key: str) -> Template:
    def make(o: Occurrence) -> tuple[str | None, str]:
        return f"KeyError: '{key}'", (
            f"    def test_{o.test}(client, tmp_path):\n"
            f">       client.get('/profile', cache={o.tmp!r})\n\n"
            f"tests/test_views.py:{o.n}: \n_ _ _ _ _ _ _ _ _ _ _ _\n\n"
            "    def profile(request):\n"
            f">       uid = request.session['{key}']\nE       KeyError: '{key}'\n\n"
            f"app/views.py:{o.n + 3}: KeyError"
        )

    return make


def py_connection(o: Occurrence) -> tuple[str | None, str]:
    return "psycopg.OperationalError: connection failed", (
        "Traceback (most recent call last):\n"
        f'  File "/home/runner/work/app/tests/test_{o.test}.py", line {o.n}, in test_{o.test}\n'
        "    rows = db.query('select 1')\n"
        '  File "/home/runner/work/app/app/db.py", line 8, in connect\n'
        "    return psycopg.connect(DSN)\n"
        '  File "/opt/venv/lib/python3.12/site-packages/psycopg/connection.py", line 119, in connect\n'
        "    raise last_ex.with_traceback(None)\n"
        f'psycopg.OperationalError: connection failed: connection to server at "{o.host}", '
        f"port {o.port} failed: Connection refused\n"
        "\tIs the server running on that host and accepting TCP/IP connections?"
    )


def py_assert_total(o: Occurrence) -> tuple[str | None, str]:
    return f"AssertionError: assert {o.m} == {o.m + 1}", (
        f"    def test_{o.test}():\n"
        f"        order = make_order({o.m})\n"
        ">       assert order.total() == expected_total(order)\n"
        f"E       AssertionError: assert {o.m} == {o.m + 1}\n"
        f"E        +  where {o.m} = <bound method Order.total of <Order id={o.m}>>()\n\n"
        f"tests/test_orders.py:{o.n}: AssertionError"
    )


def py_timeout(o: Occurrence) -> tuple[str | None, str]:
    return None, (
        "Traceback (most recent call last):\n"
        f'  File "/src/tests/test_api.py", line {o.n}, in test_{o.test}\n'
        "    client.fetch_report()\n"
        '  File "/src/app/client.py", line 52, in fetch_report\n'
        f"    return self.session.get(url, timeout={o.ms / 1000})\n"
        '  File "/usr/lib/python3/dist-packages/requests/sessions.py", line 602, in get\n'
        "    return self.request('GET', url, **kwargs)\n"
        "requests.exceptions.ReadTimeout: HTTPConnectionPool(host='"
        f"{o.host}', port={o.port}): Read timed out. (read timeout={o.ms / 1000})"
    )


def py_file_missing(o: Occurrence) -> tuple[str | None, str]:
    return f"FileNotFoundError: [Errno 2] No such file or directory: '{o.tmp}/report.csv'", (
        "Traceback (most recent call last):\n"
        f'  File "/src/tests/test_export.py", line {o.n}, in test_{o.test}\n'
        "    export.write(tmp_path)\n"
        '  File "/src/app/export.py", line 31, in write\n'
        "    with open(path / 'report.csv') as handle:\n"
        "FileNotFoundError: [Errno 2] No such file or directory: "
        f"'{o.tmp}/report.csv'"
    )


# --- Java -----------------------------------------------------------------------------------


def java_npe(klass: str, method: str) -> Template:
    def make(o: Occurrence) -> tuple[str | None, str]:
        message = f'Cannot invoke "String.length()" because "{method}Name" is null'
        return message, (
            f"java.lang.NullPointerException: {message}\n"
            f"\tat com.acme.shop.{klass}.{method}({klass}.java:{o.n})\n"
            f"\tat com.acme.shop.{klass}Test.{o.test}({klass}Test.java:{o.n + 20})\n"
            "\tat java.base/jdk.internal.reflect.DirectMethodHandleAccessor.invoke(DirectMethodHandleAccessor.java:103)\n"
            "\tat org.junit.platform.commons.util.ReflectionUtils.invokeMethod(ReflectionUtils.java:728)"
        )

    return make


def java_assert(o: Occurrence) -> tuple[str | None, str]:
    message = f"expected: <{o.m}> but was: <{o.m + 2}>"
    return message, (
        f"org.opentest4j.AssertionFailedError: {message}\n"
        "\tat org.junit.jupiter.api.AssertionFailureBuilder.build(AssertionFailureBuilder.java:151)\n"
        "\tat org.junit.jupiter.api.AssertEquals.assertEquals(AssertEquals.java:150)\n"
        f"\tat com.acme.shop.CartTest.{o.test}(CartTest.java:{o.n})"
    )


def java_connect(o: Occurrence) -> tuple[str | None, str]:
    return "Failed to load ApplicationContext", (
        "java.lang.IllegalStateException: Failed to load ApplicationContext\n"
        "\tat org.springframework.test.context.cache.DefaultCacheAwareContextLoaderDelegate.loadContext(DefaultCacheAwareContextLoaderDelegate.java:180)\n"
        f"\tat com.acme.shop.OrderApiIT.{o.test}(OrderApiIT.java:{o.n})\n"
        "Caused by: org.postgresql.util.PSQLException: Connection to "
        f"{_host(o)}:{o.port} refused. Check that the hostname and port are correct.\n"
        "\tat org.postgresql.core.v3.ConnectionFactoryImpl.openConnectionImpl(ConnectionFactoryImpl.java:342)\n"
        "\tat com.acme.shop.db.PoolFactory.open(PoolFactory.java:44)\n"
        f"\t... {o.n} more"
    )


def java_illegal_arg(field: str) -> Template:
    def make(o: Occurrence) -> tuple[str | None, str]:
        message = f"Invalid value for '{field}': {o.m}"
        return message, (
            f"java.lang.IllegalArgumentException: {message}\n"
            f"\tat com.acme.shop.Validator.check(Validator.java:{o.n})\n"
            f"\tat com.acme.shop.ValidatorTest.{o.test}(ValidatorTest.java:{o.n + 5})"
        )

    return make


# --- JavaScript / TypeScript ----------------------------------------------------------------


def js_undefined(prop: str) -> Template:
    def make(o: Occurrence) -> tuple[str | None, str]:
        return None, (
            f"TypeError: Cannot read properties of undefined (reading '{prop}')\n"
            f"    at renderUser (/home/runner/work/web/src/user/render.ts:{o.n}:{o.m % 40})\n"
            f"    at Object.<anonymous> (/home/runner/work/web/src/user/{o.test}.test.ts:{o.n + 9}:5)\n"
            "    at Promise.then.completed (/home/runner/work/web/node_modules/jest-circus/build/utils.js:298:28)"
        )

    return make


def js_playwright(locator: str) -> Template:
    def make(o: Occurrence) -> tuple[str | None, str]:
        return None, (
            f"Error: locator.click: Timeout {o.ms}ms exceeded.\n"
            "Call log:\n"
            f"  - waiting for locator('{locator}')\n\n"
            f"    at /home/runner/work/web/tests/{o.test}.spec.ts:{o.n}:{o.m % 30}"
        )

    return make


def js_expect(o: Occurrence) -> tuple[str | None, str]:
    return None, (
        "Error: expect(received).toBe(expected) // Object.is equality\n\n"
        f"Expected: {o.m}\nReceived: {o.m - 1}\n\n"
        f"  {o.n} |   it('{o.test}', () => {{\n"
        f"> {o.n + 1} |     expect(cart.count()).toBe({o.m});\n"
        "     |                          ^\n\n"
        f"    at Object.<anonymous> (src/cart/{o.test}.test.ts:{o.n + 1}:26)"
    )


def js_fetch(o: Occurrence) -> tuple[str | None, str]:
    return "fetch failed", (
        "TypeError: fetch failed\n"
        f"    at apiGet (/app/src/api/client.ts:{o.n}:11)\n"
        f"    at /app/test/{o.test}.spec.js:{o.n}:3\n"
        "    at node:internal/process/task_queues:95:5\n"
        f"  [cause]: Error: connect ECONNREFUSED {o.host}:{o.port}"
    )


# --- Go -------------------------------------------------------------------------------------


def go_nil(o: Occurrence) -> tuple[str | None, str]:
    return "Failed", (
        f"=== RUN   Test{o.test.title()}\n"
        "--- FAIL: Test (0.00s)\n"
        "panic: runtime error: invalid memory address or nil pointer dereference [recovered]\n"
        f"[signal SIGSEGV: segmentation violation code=0x1 addr=0x{o.m:x} pc=0x4f6a1b]\n\n"
        f"goroutine {o.n} [running]:\n"
        "github.com/acme/shop/users.(*Service).Describe(0x0)\n"
        f"\t/home/runner/work/shop/users/service.go:{o.n} +0x1b\n"
        f"github.com/acme/shop/users.Test{o.test.title()}(0xc000102340)\n"
        f"\t/home/runner/work/shop/users/service_test.go:{o.n + 3} +0x3a"
    )


def go_expected(what: str) -> Template:
    def make(o: Occurrence) -> tuple[str | None, str]:
        return "Failed", (
            f"=== RUN   Test{o.test.title()}\n"
            f"    {what}_test.go:{o.n}: {what}: expected {o.m}, got {o.m + 3}\n"
            f"--- FAIL: Test{o.test.title()} ({o.ms / 10000:.2f}s)"
        )

    return make


def go_dial(o: Occurrence) -> tuple[str | None, str]:
    return "Failed", (
        f"=== RUN   Test{o.test.title()}\n"
        f"    db_test.go:{o.n}: dial tcp {_host(o)}:{o.port}: connect: connection refused\n"
        f"--- FAIL: Test{o.test.title()} (0.0{o.n % 10}s)"
    )


def go_index(o: Occurrence) -> tuple[str | None, str]:
    return "Failed", (
        f"panic: runtime error: index out of range [{o.n % 9 + 3}] with length {o.n % 3}\n\n"
        f"goroutine {o.m % 50} [running]:\n"
        "github.com/acme/shop/cart.(*Cart).Line(...)\n"
        f"\t/src/cart/cart.go:{o.n}\n"
        f"github.com/acme/shop/cart.Test{o.test.title()}(0xc0000a4b60)\n"
        f"\t/src/cart/cart_test.go:{o.n + 1} +0x45"
    )


# --- .NET -----------------------------------------------------------------------------------


def dotnet_nre(service: str, method: str) -> Template:
    def make(o: Occurrence) -> tuple[str | None, str]:
        return "Object reference not set to an instance of an object.", (
            "System.NullReferenceException : Object reference not set to an instance of an object.\n"
            f"   at Shop.{service}.{method}(Order o) in /src/Shop/{service}.cs:line {o.n}\n"
            f"   at Shop.Tests.{service}Tests.{o.test}() in /src/Shop.Tests/{service}Tests.cs:line {o.n + 7}"
        )

    return make


def dotnet_assert(o: Occurrence) -> tuple[str | None, str]:
    return f"  Expected: {o.m}\n  But was:  {o.m + 1}\n", (
        f"   at Shop.Tests.PricingTests.{o.test}() in /src/Shop.Tests/PricingTests.cs:line {o.n}\n"
        "   at NUnit.Framework.Internal.TaskAwaitAdapter.GenericAdapter`1.GetResult()"
    )


def dotnet_sql(o: Occurrence) -> tuple[str | None, str]:
    return None, (
        "Npgsql.NpgsqlException : Failed to connect to "
        f"{_host(o)}:{o.port}\n"
        "  ----> System.Net.Sockets.SocketException : Connection refused\n"
        "   at Npgsql.Internal.NpgsqlConnector.Connect(NpgsqlTimeout timeout)\n"
        f"   at Shop.Data.Db.Open() in /src/Shop/Data/Db.cs:line {o.n}\n"
        f"   at Shop.Tests.DbTests.{o.test}() in /src/Shop.Tests/DbTests.cs:line {o.n + 2}"
    )


def dotnet_timeout(o: Occurrence) -> tuple[str | None, str]:
    return None, (
        f"System.TimeoutException : The operation has timed out after {o.ms}ms "
        f"(request {o.uuid}).\n"
        f"   at Shop.Client.Api.Send() in /src/Shop/Client/Api.cs:line {o.n}\n"
        f"   at Shop.Tests.ApiTests.{o.test}() in /src/Shop.Tests/ApiTests.cs:line {o.n + 4}"
    )


# --- Ruby -----------------------------------------------------------------------------------


def ruby_nomethod(method: str) -> Template:
    def make(o: Occurrence) -> tuple[str | None, str]:
        return None, (
            "Failure/Error: user.describe\n\n"
            f"NoMethodError:\n  undefined method '{method}' for nil\n"
            f"# ./app/models/user.rb:{o.n}:in 'describe'\n"
            f"# ./spec/models/user_spec.rb:{o.n + 4}:in 'block (2 levels) in <top (required)>'"
        )

    return make


def ruby_expect(o: Occurrence) -> tuple[str | None, str]:
    return None, (
        f"Failure/Error: expect(cart.total).to eq({o.m})\n\n"
        f"  expected: {o.m}\n       got: {o.m - 5}\n\n  (compared using ==)\n"
        f"# ./spec/cart_spec.rb:{o.n}:in 'block (3 levels) in <top (required)>'"
    )


def ruby_record_missing(o: Occurrence) -> tuple[str | None, str]:
    return f"Couldn't find Order with 'id'={o.m}", (
        f"ActiveRecord::RecordNotFound: Couldn't find Order with 'id'={o.m}\n"
        "    /usr/local/bundle/gems/activerecord-7.1.3/lib/active_record/core.rb:253:in 'find'\n"
        f"    app/services/refund_service.rb:{o.n}:in 'call'\n"
        f"    test/services/refund_service_test.rb:{o.n + 2}:in 'test_{o.test}'"
    )


def ruby_redis(o: Occurrence) -> tuple[str | None, str]:
    return None, (
        f"Redis::CannotConnectError: Error connecting to Redis on {o.host}:{o.port} "
        "(Errno::ECONNREFUSED)\n"
        "    /usr/local/bundle/gems/redis-client-0.20.0/lib/redis_client/ruby_connection.rb:131:in 'connect'\n"
        f"    app/lib/cache.rb:{o.n}:in 'fetch'\n"
        f"    test/lib/cache_test.rb:{o.n}:in 'test_{o.test}'"
    )


CAUSES: dict[str, tuple[str, str, Template, int]] = {
    # name: (language, status, template, occurrences)
    "py-keyerror-user_id": ("python", "error", py_keyerror("user_id"), 7),
    "py-keyerror-order_id": ("python", "error", py_keyerror("order_id"), 4),
    "py-db-connection-refused": ("python", "error", py_connection, 8),
    "py-assert-order-total": ("python", "failed", py_assert_total, 5),
    "py-read-timeout": ("python", "error", py_timeout, 5),
    "py-report-file-missing": ("python", "error", py_file_missing, 5),
    "java-npe-userservice-describe": ("java", "error", java_npe("UserService", "describe"), 7),
    "java-npe-orderservice-total": ("java", "error", java_npe("OrderService", "total"), 5),
    "java-assert-cart": ("java", "failed", java_assert, 6),
    "java-db-refused": ("java", "error", java_connect, 6),
    "java-illegal-quantity": ("java", "error", java_illegal_arg("quantity"), 4),
    "java-illegal-price": ("java", "error", java_illegal_arg("price"), 4),
    "js-undefined-id": ("javascript", "failed", js_undefined("id"), 6),
    "js-undefined-name": ("javascript", "failed", js_undefined("name"), 5),
    "js-login-button": ("javascript", "failed", js_playwright("#login"), 6),
    "js-checkout-button": ("javascript", "failed", js_playwright("#checkout"), 5),
    "js-expect-cart-count": ("javascript", "failed", js_expect, 5),
    "js-fetch-refused": ("javascript", "failed", js_fetch, 5),
    "go-nil-service-describe": ("go", "failed", go_nil, 6),
    "go-expected-parse": ("go", "failed", go_expected("parse"), 5),
    "go-expected-render": ("go", "failed", go_expected("render"), 5),
    "go-dial-refused": ("go", "failed", go_dial, 6),
    "go-index-out-of-range": ("go", "failed", go_index, 5),
    "dotnet-nre-orders": ("dotnet", "error", dotnet_nre("Orders.OrderService", "Total"), 6),
    "dotnet-nre-users": ("dotnet", "error", dotnet_nre("Users.UserService", "Describe"), 5),
    "dotnet-assert-pricing": ("dotnet", "failed", dotnet_assert, 5),
    "dotnet-db-refused": ("dotnet", "error", dotnet_sql, 5),
    "dotnet-api-timeout": ("dotnet", "error", dotnet_timeout, 5),
    "ruby-nomethod-name": ("ruby", "error", ruby_nomethod("name"), 6),
    "ruby-nomethod-email": ("ruby", "error", ruby_nomethod("email"), 5),
    "ruby-expect-cart-total": ("ruby", "failed", ruby_expect, 5),
    "ruby-order-not-found": ("ruby", "error", ruby_record_missing, 5),
    "ruby-redis-refused": ("ruby", "error", ruby_redis, 5),
}


def load_corpus() -> list[CorpusFailure]:
    failures = []
    for seed, (cause, (language, status, template, count)) in enumerate(CAUSES.items()):
        for o in _occurrences(seed, count):
            message, text = template(o)
            failures.append(
                CorpusFailure(cause, language, status, o.test, f"{language}.suite", message, text)
            )
    return failures
