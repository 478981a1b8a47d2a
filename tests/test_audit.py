"""The audit trail: every list version produced and every delivery outcome, with the manifest's checksum."""
import hashlib
import json

import duckdb
from werkzeug import Response

from poverty_warning.publish import delivery
from poverty_warning.warehouse import create_tables


def _manifest(outbox, recipient: str, night: str) -> bytes:
    folder = outbox / recipient / night
    folder.mkdir(parents=True)
    data = json.dumps({"recipient": recipient, "night": night, "version": "v1", "rows": {"名单": 1},
                       "payload": {"名单": [{"案件编号": "CASE-1"}]}}, ensure_ascii=False).encode()
    (folder / "manifest.json").write_bytes(data)
    return data


def test_produced_and_delivered_lists_are_audited_once_each(tmp_path, httpserver):
    httpserver.expect_request("/lists", method="POST").respond_with_handler(lambda request: Response("ok"))
    con = duckdb.connect()
    create_tables(con)
    outbox = tmp_path / "outbox"
    first = _manifest(outbox, "S1", "2024-03-30")
    delivery.audit_produced(con, [outbox / "S1" / "2024-03-30"])
    webhook = delivery.Webhook(httpserver.url_for("/lists"), "secret", attempts=1, backoff_seconds=0)
    assert delivery.deliver(con, outbox, "2024-03-30", webhook)["delivered"] == 1
    assert delivery.deliver(con, outbox, "2024-03-30", webhook)["already"] == 1  # a rerun sends nothing
    _manifest(outbox, "S2", "2024-03-30")
    assert delivery.deliver(con, outbox, "2024-03-30", None)["file_only"] == 1
    rows = con.execute("SELECT event, recipient, version, manifest_sha256 FROM meta.list_audit").fetchall()
    checksum = hashlib.sha256(first).hexdigest()
    assert sorted(r for r in rows if r[1] == "S1") == [("delivered", "S1", "v1", checksum),
                                                       ("produced", "S1", "v1", checksum)]
    assert [r[:2] for r in rows if r[1] == "S2"] == [("file_only", "S2")]
