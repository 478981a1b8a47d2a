"""Lists in the outbox and their delivery: exactly once per list version.

Publishing writes, per sub-district and night, `outbox/<subdistrict>/<night>/`
with one XLSX workbook (`publish/workbook.py`: instructions, one sheet per list,
feedback columns the worker fills in and sends back), one CSV per list (formula
prefixes neutralised) and a manifest (row counts, sha256, version). Each charity programme with
consented referrals gets `outbox/charity/<program>/<night>/`. Folders are
built under a temporary name and renamed into place.

Delivering posts each undelivered version to the webhook (JSON, an
idempotency key, an HMAC-SHA256 signature, retries with backoff). A version
that still fails is retried on the next night; the delivery log says who got
what and when. Receivers dedupe on the idempotency key, so with at-least-once
sending every version arrives exactly once. A sub-district's files and
payloads hold only its own residents, and no full resident ID.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import logging
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import duckdb
import httpx
import pandas as pd
from tenacity import RetryError, Retrying, stop_after_attempt, wait_exponential

from poverty_warning import settings
from poverty_warning.contract.vocabulary import LIST_TITLES
from poverty_warning.publish import workbook
from poverty_warning.warehouse import create_tables, record_audit
from poverty_warning.workspace import UnsafePath, under

log = logging.getLogger(__name__)

REFERRAL_COLUMNS = [
    ("case_id", "案件编号"), ("household_id", "家庭编号"), ("person_name", "姓名"), ("birth_year", "出生年份"),
    ("masked_id", "身份证号（脱敏）"), ("age", "年龄"), ("diagnoses", "诊断（ICD-10）"),
    ("burden_12_months", "近12个月个人负担（元）"), ("suggested_amount", "项目最高资助（元）"),
]


def _csv(frame: pd.DataFrame) -> bytes:
    """A list as CSV (UTF-8 with BOM, for Excel), formula prefixes neutralised."""
    safe = frame.map(workbook.neutralise_csv_cell)
    return safe.to_csv(index=False).encode("utf-8-sig")


def _payload(frame: pd.DataFrame) -> list[dict]:
    """A list as JSON records: dates as YYYY-MM-DD, blanks as empty strings."""
    def value(v):
        if v is None or (isinstance(v, float) and pd.isna(v)):
            return ""
        return v.isoformat() if isinstance(v, dt.date) else v
    return [{k: value(v) for k, v in row.items()} for row in frame.to_dict("records")]


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _write_folder(target: Path, files: dict[str, bytes], manifest: dict) -> None:
    """Write a folder under a temporary name, then rename it into place (replacing an older one)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    for name, data in files.items():
        (tmp / name).write_bytes(data)
    (tmp / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=2), encoding="utf-8")
    if target.exists():
        old = target.with_name(f".{target.name}.old")
        shutil.rmtree(old, ignore_errors=True)
        target.rename(old)
        tmp.rename(target)
        shutil.rmtree(old, ignore_errors=True)
    else:
        tmp.rename(target)


def write_outbox(outbox: Path, night: str, items: pd.DataFrame, referrals: pd.DataFrame,
                 cfg: dict | None = None) -> list[Path]:
    """One folder per sub-district with cases to send tonight, one per charity with consented referrals."""
    cfg = cfg or settings.outreach()
    written = []
    sent = items[items["sent"]] if len(items) else items
    for code, group in (sent.groupby("subdistrict_code") if len(sent) else []):
        try:  # codes are validated at landing; this is the last guard before writing
            target = under(outbox, code, night)
        except UnsafePath as exc:
            log.error("outbox: one sub-district's lists not written: %s", exc)
            continue
        name = str(group["subdistrict_name"].dropna().iloc[0]) if group["subdistrict_name"].notna().any() else ""
        sheets = {title: workbook.display_frame(group[group["list_kind"] == kind], kind)
                  for kind, title in LIST_TITLES.items()}
        files = {f"外展名单_{code}_{night}.xlsx": workbook.render(sheets, code, name, night, cfg)}
        for title, frame in sheets.items():
            files[f"{title}.csv"] = _csv(frame)
        manifest = {
            "recipient": code, "subdistrict_name": name, "night": night,
            "rows": {title: len(frame) for title, frame in sheets.items()},
            "files": {name: {"sha256": _sha(data), "bytes": len(data)} for name, data in sorted(files.items())},
            "payload": {title: _payload(frame) for title, frame in sheets.items()},
        }
        manifest["version"] = _sha(json.dumps(manifest["payload"], ensure_ascii=False, sort_keys=True).encode())[:16]
        _write_folder(target, files, manifest)
        written.append(target)
    for program, group in (referrals.groupby("program_id") if len(referrals) else []):
        try:
            target = under(outbox, "charity", program, night)
        except UnsafePath as exc:
            log.error("outbox: one charity programme's referrals not written: %s", exc)
            continue
        frame = group[[c for c, _ in REFERRAL_COLUMNS]].copy()
        frame.columns = [h for _, h in REFERRAL_COLUMNS]
        data = _csv(frame)
        payload = {"转介": _payload(frame)}
        manifest = {"recipient": f"charity:{program}", "program_name": str(group["program_name"].iloc[0]),
                    "night": night, "rows": {"转介": len(frame)},
                    "files": {"referrals.csv": {"sha256": _sha(data), "bytes": len(data)}}, "payload": payload}
        manifest["version"] = _sha(json.dumps(payload, ensure_ascii=False, sort_keys=True).encode())[:16]
        _write_folder(target, {"referrals.csv": data}, manifest)
        written.append(target)
    return written


def audit_produced(con: duckdb.DuckDBPyConnection, folders: list[Path]) -> None:
    """The audit trail's record of each list version written to the outbox tonight."""
    for folder in folders:
        data = (folder / "manifest.json").read_bytes()
        manifest = json.loads(data)
        record_audit(con, manifest["night"], "produced", manifest["recipient"], manifest["version"], _sha(data))


@dataclass
class Webhook:
    url: str
    secret: str
    attempts: int = 4
    backoff_seconds: float = 1.0

    @classmethod
    def from_env(cls) -> "Webhook | None":
        cfg = settings.get()
        if not cfg.webhook_url:
            return None
        return cls(cfg.webhook_url, cfg.webhook_secret, cfg.webhook_attempts, cfg.webhook_backoff)

    def sign(self, body: bytes) -> str:
        return "sha256=" + hmac.new(self.secret.encode(), body, hashlib.sha256).hexdigest()


def _manifests(outbox: Path, night: str):
    for path in sorted(outbox.glob("*/*/manifest.json")) + sorted(outbox.glob("charity/*/*/manifest.json")):
        manifest = json.loads(path.read_text(encoding="utf-8"))
        if manifest["night"] <= night:
            yield path, manifest


def deliver(con: duckdb.DuckDBPyConnection, outbox: Path, night: str, webhook: Webhook | None,
            now=lambda: dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)) -> dict:
    """Send every list version not yet delivered (tonight's and earlier nights' failures)."""
    create_tables(con)
    # A version dropped as a file (no webhook) is done too: it is not dropped again every night.
    done = {k for (k,) in con.execute(
        "SELECT idempotency_key FROM meta.deliveries WHERE status IN ('delivered', 'dropped')").fetchall()}
    counts = {"delivered": 0, "failed": 0, "already": 0, "file_only": 0}
    for path, manifest in _manifests(outbox, night):
        key = f"{manifest['recipient']}:{manifest['night']}:{manifest['version']}"
        if key in done:
            counts["already"] += 1
            continue
        checksum = _sha(path.read_bytes())
        if webhook is None:
            _record(con, key, "file", manifest, "dropped", 0, None, now())
            record_audit(con, manifest["night"], "file_only", manifest["recipient"], manifest["version"], checksum)
            counts["file_only"] += 1
            continue
        body = json.dumps({"idempotency_key": key, "recipient": manifest["recipient"], "night": manifest["night"],
                           "version": manifest["version"], "rows": manifest["rows"], "lists": manifest["payload"]},
                          ensure_ascii=False, sort_keys=True).encode("utf-8")
        headers = {"Content-Type": "application/json; charset=utf-8", "Idempotency-Key": key,
                   "X-Signature": webhook.sign(body)}
        attempts = 0
        try:
            for attempt in Retrying(stop=stop_after_attempt(webhook.attempts), reraise=False,
                                    wait=wait_exponential(multiplier=webhook.backoff_seconds, max=30)):
                with attempt:
                    attempts += 1
                    response = httpx.post(webhook.url, content=body, headers=headers, timeout=10.0)
                    response.raise_for_status()
            _record(con, key, "webhook", manifest, "delivered", attempts, None, now())
            record_audit(con, manifest["night"], "delivered", manifest["recipient"], manifest["version"], checksum)
            counts["delivered"] += 1
        except RetryError as exc:
            error = str(exc.last_attempt.exception()).splitlines()[0][:200] if exc.last_attempt else "failed"
            _record(con, key, "webhook", manifest, "failed", attempts, error, now())
            record_audit(con, manifest["night"], "failed", manifest["recipient"], manifest["version"], checksum, error)
            counts["failed"] += 1
            log.warning("delivery of %s failed after %d attempts; retried next night", manifest["recipient"], attempts)
    return counts


def _record(con, key, channel, manifest, status, attempts, error, at) -> None:
    previous = con.execute("SELECT attempts, first_attempt_at FROM meta.deliveries WHERE idempotency_key = ?",
                           [key]).fetchone()
    total = attempts + (previous[0] if previous else 0)
    first = previous[1] if previous else at
    con.execute("INSERT OR REPLACE INTO meta.deliveries VALUES (?,?,?,CAST(? AS DATE),?,?,?,?,?,?)", [
        key, channel, manifest["recipient"], manifest["night"], json.dumps(manifest["rows"], ensure_ascii=False),
        status, total, error, first, at if status in ("delivered", "dropped") else None])
