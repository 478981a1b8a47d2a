"""Lists in the outbox and their delivery: exactly once per list version.

Publishing writes, per sub-district and night, `outbox/<subdistrict>/<night>/`
with one XLSX workbook (Chinese sheet names and headers), one CSV per sheet
and a manifest (row counts, sha256, version). Each charity programme with
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
import io
import json
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import duckdb
import httpx
import pandas as pd
from tenacity import RetryError, Retrying, stop_after_attempt, wait_exponential

from poverty_warning.contract.vocabulary import LIST_TITLES
from poverty_warning.workspace import UnsafePath, under

log = logging.getLogger(__name__)

COLUMNS = [  # (item column, Chinese header)
    ("case_id", "案件编号"), ("action_taken", "案件状态"), ("priority", "优先级"), ("household_id", "家庭编号"),
    ("person_name", "姓名"), ("masked_id", "身份证号（脱敏）"), ("age", "年龄"), ("category_zh", "救助身份"),
    ("burden", "医疗负担（元）"), ("income", "家庭年收入（元）"), ("ratio", "负担比例"),
    ("expected", "应得救助（元）"), ("paid", "已付救助（元）"), ("risk_score", "风险评分"), ("risk_band", "风险等级"),
    ("reason", "原因"), ("action", "建议措施"),
]
ACTION_ZH = {"new": "新增", "escalated": "升级", "reminder": "再次提醒"}
REFERRAL_COLUMNS = [
    ("case_id", "案件编号"), ("household_id", "家庭编号"), ("person_name", "姓名"), ("masked_id", "身份证号（脱敏）"),
    ("age", "年龄"), ("diagnoses", "诊断（ICD-10）"), ("burden_12_months", "近12个月个人负担（元）"),
    ("suggested_amount", "项目最高资助（元）"),
]
DELIVERIES = """CREATE TABLE IF NOT EXISTS meta.deliveries (
    idempotency_key VARCHAR PRIMARY KEY, channel VARCHAR, recipient VARCHAR, night DATE, manifest VARCHAR,
    status VARCHAR, attempts INTEGER, last_error VARCHAR, first_attempt_at TIMESTAMP, delivered_at TIMESTAMP)"""


def _sheet(items: pd.DataFrame) -> pd.DataFrame:
    frame = items.sort_values(["level", "case_id"], ascending=[False, True]).copy()
    frame["action_taken"] = frame["action_taken"].map(ACTION_ZH)
    frame["ratio"] = frame["ratio"].map(lambda r: "" if pd.isna(r) else f"{float(r):.2%}")
    for col in ("burden", "income", "expected", "paid"):
        frame[col] = frame[col].map(lambda v: "" if pd.isna(v) else round(float(v), 2))
    frame["risk_score"] = frame.get("risk_score", pd.Series(index=frame.index, dtype=float)).map(
        lambda v: "" if pd.isna(v) else round(float(v), 3))
    frame["risk_band"] = frame.get("risk_band", pd.Series(index=frame.index, dtype=object)).fillna("")
    frame["age"] = frame["age"].map(lambda v: "" if pd.isna(v) else int(v))
    out = frame[[c for c, _ in COLUMNS]].copy()
    out.columns = [h for _, h in COLUMNS]
    return out.fillna("")


def _xlsx(sheets: dict[str, pd.DataFrame]) -> bytes:
    buffer = io.BytesIO()
    with pd.ExcelWriter(buffer, engine="xlsxwriter") as writer:
        for name, frame in sheets.items():
            frame.to_excel(writer, sheet_name=name, index=False)
            sheet = writer.sheets[name]
            sheet.freeze_panes(1, 0)
            for i, col in enumerate(frame.columns):
                width = 40 if col in ("原因", "建议措施") else max(10, len(col) * 2 + 2)
                sheet.set_column(i, i, width)
        writer.book.set_properties({"title": "外展名单", "created": dt.datetime(2000, 1, 1)})
    return buffer.getvalue()


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


def write_outbox(outbox: Path, night: str, items: pd.DataFrame, referrals: pd.DataFrame) -> list[Path]:
    """One folder per sub-district with cases to send tonight, one per charity with consented referrals."""
    written = []
    sent = items[items["sent"]] if len(items) else items
    for code, group in (sent.groupby("subdistrict_code") if len(sent) else []):
        try:  # codes are validated at landing; this is the last guard before writing
            target = under(outbox, code, night)
        except UnsafePath as exc:
            log.error("outbox: one sub-district's lists not written: %s", exc)
            continue
        sheets = {title: _sheet(group[group["list_kind"] == kind]) for kind, title in LIST_TITLES.items()}
        files = {f"外展名单_{code}_{night}.xlsx": _xlsx(sheets)}
        for title, frame in sheets.items():
            files[f"{title}.csv"] = frame.to_csv(index=False).encode("utf-8-sig")
        manifest = {
            "recipient": code, "subdistrict_name": str(group["subdistrict_name"].dropna().iloc[0]) if
            group["subdistrict_name"].notna().any() else "", "night": night,
            "rows": {title: len(frame) for title, frame in sheets.items()},
            "files": {name: {"sha256": _sha(data), "bytes": len(data)} for name, data in sorted(files.items())},
            "payload": {title: frame.to_dict("records") for title, frame in sheets.items()},
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
        data = frame.to_csv(index=False).encode("utf-8-sig")
        payload = {"转介": frame.fillna("").to_dict("records")}
        manifest = {"recipient": f"charity:{program}", "program_name": str(group["program_name"].iloc[0]),
                    "night": night, "rows": {"转介": len(frame)},
                    "files": {"referrals.csv": {"sha256": _sha(data), "bytes": len(data)}}, "payload": payload}
        manifest["version"] = _sha(json.dumps(payload, ensure_ascii=False, sort_keys=True).encode())[:16]
        _write_folder(target, {"referrals.csv": data}, manifest)
        written.append(target)
    return written


@dataclass
class Webhook:
    url: str
    secret: str
    attempts: int = 4
    backoff_seconds: float = 1.0

    @classmethod
    def from_env(cls) -> "Webhook | None":
        url = os.environ.get("POVERTY_WARNING_WEBHOOK_URL")
        if not url:
            return None
        return cls(url, os.environ.get("POVERTY_WARNING_WEBHOOK_SECRET", ""),
                   int(os.environ.get("POVERTY_WARNING_WEBHOOK_ATTEMPTS", "4")),
                   float(os.environ.get("POVERTY_WARNING_WEBHOOK_BACKOFF", "1.0")))

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
    con.execute("CREATE SCHEMA IF NOT EXISTS meta")
    con.execute(DELIVERIES)
    done = {k for (k,) in con.execute("SELECT idempotency_key FROM meta.deliveries WHERE status = 'delivered'").fetchall()}
    counts = {"delivered": 0, "failed": 0, "already": 0, "file_only": 0}
    for path, manifest in _manifests(outbox, night):
        key = f"{manifest['recipient']}:{manifest['night']}:{manifest['version']}"
        if key in done:
            counts["already"] += 1
            continue
        if webhook is None:
            _record(con, key, "file", manifest, "dropped", 0, None, now())
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
            counts["delivered"] += 1
        except RetryError as exc:
            error = str(exc.last_attempt.exception()).splitlines()[0][:200] if exc.last_attempt else "failed"
            _record(con, key, "webhook", manifest, "failed", attempts, error, now())
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
