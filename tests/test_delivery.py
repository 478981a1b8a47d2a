"""Delivery's failure paths, end to end on real nights: a webhook that fails every attempt, the next
(held) night that still retries it, no webhook at all, and the webhook taken from an Airflow connection."""
import hashlib
import hmac
import json
import shutil

import duckdb
import pytest
from werkzeug import Response

from poverty_warning import airflow_local, nightly
from poverty_warning.publish.delivery import Webhook
from poverty_warning.workspace import Workspace

NIGHT, HELD = "2024-03-30", "2024-03-31"
ATTEMPTS = 4


class Receiver:
    """A webhook receiver that answers 503 while `down`, else accepts, checks the signature and keeps each
    body under its idempotency key."""

    def __init__(self, secret: str):
        self.secret, self.down, self.calls, self.accepted = secret, True, 0, {}

    def __call__(self, request):
        self.calls += 1
        if self.down:
            return Response("busy", status=503)
        body = request.get_data()
        expected = "sha256=" + hmac.new(self.secret.encode(), body, hashlib.sha256).hexdigest()
        if request.headers.get("X-Signature") != expected:
            return Response("bad signature", status=401)
        self.accepted.setdefault(request.headers["Idempotency-Key"], []).append(json.loads(body))
        return Response("ok", status=200)


def _manifest_keys(outbox, night=None) -> set[str]:
    keys = set()
    for path in outbox.rglob("manifest.json"):
        m = json.loads(path.read_text(encoding="utf-8"))
        if night is None or m["night"] == night:
            keys.add(f"{m['recipient']}:{m['night']}:{m['version']}")
    return keys


def _deliveries(ws: Workspace) -> dict:
    con = duckdb.connect(str(ws.duckdb_path))  # dbt holds it open in this process: same configuration
    try:
        rows = con.execute("SELECT idempotency_key, channel, status, attempts, last_error, first_attempt_at, "
                           "delivered_at FROM meta.deliveries").fetchall()
    finally:
        con.close()
    return {r[0]: dict(zip(["channel", "status", "attempts", "last_error", "first_attempt_at", "delivered_at"], r[1:]))
            for r in rows}


@pytest.fixture(scope="module")
def two_nights(small_city, tmp_path_factory, make_httpserver):
    """Night 1 publishes while the receiver is down; night 2's claims never arrive (held) and the receiver is up."""
    root = tmp_path_factory.mktemp("delivery")
    feeds = root / "feeds"
    shutil.copytree(small_city, feeds)
    shutil.rmtree(feeds / "claims" / HELD)  # the held night: its claims delivery is missing
    receiver = Receiver("test-secret")
    make_httpserver.expect_request("/lists", method="POST").respond_with_handler(receiver)
    webhook = Webhook(make_httpserver.url_for("/lists"), "test-secret", attempts=ATTEMPTS, backoff_seconds=0.01)
    ws = Workspace(root / "data")

    first = nightly.run_night(ws, feeds, NIGHT, "shanghai-2022", webhook=webhook)
    after_first = {"calls": receiver.calls, "deliveries": _deliveries(ws), "keys": _manifest_keys(ws.outbox)}
    receiver.down = False
    with pytest.raises(nightly.PublishHeld, match="未送达"):
        nightly.run_night(ws, feeds, HELD, "shanghai-2022", webhook=webhook)
    after_held = {"calls": receiver.calls, "deliveries": _deliveries(ws)}
    again = nightly.deliver(ws, HELD, webhook)
    yield {"ws": ws, "receiver": receiver, "first": first, "after_first": after_first, "after_held": after_held,
           "again": again, "calls_after_again": receiver.calls}
    make_httpserver.clear()


def test_a_webhook_failing_every_attempt_is_recorded_as_failed(two_nights):
    first, after = two_nights["first"], two_nights["after_first"]
    keys = after["keys"]
    assert keys and keys == _manifest_keys(two_nights["ws"].outbox, NIGHT)
    assert first["delivery"] == {"delivered": 0, "failed": len(keys), "already": 0, "file_only": 0}
    assert after["calls"] == ATTEMPTS * len(keys)  # every attempt was made, none more
    assert set(after["deliveries"]) == keys
    for row in after["deliveries"].values():
        assert (row["channel"], row["status"], row["attempts"]) == ("webhook", "failed", ATTEMPTS)
        assert "503" in row["last_error"] and row["delivered_at"] is None and row["first_attempt_at"] is not None


def test_the_next_night_is_held_yet_retries_and_delivers_each_version_once(two_nights):
    ws, receiver = two_nights["ws"], two_nights["receiver"]
    keys = two_nights["after_first"]["keys"]
    assert not list(ws.outbox.glob(f"*/{HELD}")) and not ws.outputs(HELD).exists()  # nothing published
    assert set(receiver.accepted) == keys
    assert all(len(bodies) == 1 for bodies in receiver.accepted.values())
    assert two_nights["after_held"]["calls"] - two_nights["after_first"]["calls"] == len(keys)
    failed = two_nights["after_first"]["deliveries"]
    for key, row in two_nights["after_held"]["deliveries"].items():
        assert (row["status"], row["attempts"], row["last_error"]) == ("delivered", ATTEMPTS + 1, None)
        assert row["delivered_at"] is not None
        assert row["first_attempt_at"] == failed[key]["first_attempt_at"]  # when it was first tried, kept


def test_a_delivered_version_is_not_sent_again(two_nights):
    keys = two_nights["after_first"]["keys"]
    assert two_nights["again"] == {"delivered": 0, "failed": 0, "already": len(keys), "file_only": 0}
    assert two_nights["calls_after_again"] == two_nights["after_held"]["calls"]


@pytest.fixture()
def undelivered(two_nights, tmp_path):
    """Night 1's outbox in a fresh workspace: nothing delivered yet."""
    ws = Workspace(tmp_path / "data")
    shutil.copytree(two_nights["ws"].outbox, ws.outbox)
    return ws, two_nights["after_first"]["keys"]


def test_without_a_webhook_the_file_drop_is_recorded(undelivered, monkeypatch):
    ws, keys = undelivered
    monkeypatch.delenv("POVERTY_WARNING_WEBHOOK_URL", raising=False)
    assert nightly.deliver(ws, NIGHT) == {"delivered": 0, "failed": 0, "already": 0, "file_only": len(keys)}
    rows = _deliveries(ws)
    assert set(rows) == keys
    for row in rows.values():
        assert (row["channel"], row["status"], row["attempts"], row["last_error"]) == ("file", "dropped", 0, None)
        assert row["delivered_at"] is not None
    assert nightly.deliver(ws, NIGHT) == {"delivered": 0, "failed": 0, "already": len(keys), "file_only": 0}


def test_the_dag_takes_the_webhook_from_its_airflow_connection(undelivered, make_httpserver, monkeypatch, tmp_path):
    ws, keys = undelivered
    from_connection = Receiver("connection-secret")
    from_connection.down = False
    from_environment = Receiver("environment-secret")
    from_environment.down = False
    make_httpserver.expect_request("/connection", method="POST").respond_with_handler(from_connection)
    make_httpserver.expect_request("/environment", method="POST").respond_with_handler(from_environment)
    monkeypatch.setenv("POVERTY_WARNING_DATA", str(ws.root))
    monkeypatch.setenv("POVERTY_WARNING_WEBHOOK_URL", make_httpserver.url_for("/environment"))
    monkeypatch.setenv("POVERTY_WARNING_WEBHOOK_SECRET", "environment-secret")
    monkeypatch.setenv("AIRFLOW_CONN_POVERTY_WARNING_WEBHOOK", json.dumps(
        {"conn_type": "http", "host": make_httpserver.url_for("/connection"), "password": "connection-secret"}))
    airflow_local.configure(tmp_path / "airflow")
    airflow_local.init_db()
    import pendulum

    dag = airflow_local.load_dag().partial_subset(task_ids=["deliver"], include_upstream=False)
    run = dag.test(logical_date=pendulum.datetime(2024, 3, 31, 2, tz="Asia/Shanghai"), run_conf={"night": NIGHT})
    states = {ti.task_id: str(ti.state) for ti in run.get_task_instances()}
    make_httpserver.clear()
    # Only deliver ran: it sends, then ends the run not green because this night's publish did not run (issue 13).
    assert states == {"deliver": "failed"}
    assert set(from_connection.accepted) == keys  # signed with the connection's password
    assert from_environment.calls == 0
    assert {row["status"] for row in _deliveries(ws).values()} == {"delivered"}
