"""A picture of one workbook page, as a worker would print it: LibreOffice (headless) turns the
fullest workbook in the outbox into a PDF, and poppler renders the page of its longest list as PNG.

    python -m poverty_warning.publish.preview <outbox> <out.png>      (make workbook-preview)

Needs Debian's `libreoffice-calc` and `poppler-utils`.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from poverty_warning.contract.vocabulary import LIST_TITLES


def fullest_workbook(outbox: Path) -> tuple[Path, str]:
    """The sub-district workbook with the most rows in one list, and that list's sheet name."""
    best = None
    for manifest_path in sorted(outbox.glob("[0-9]*/*/manifest.json")):
        rows = json.loads(manifest_path.read_text(encoding="utf-8"))["rows"]
        title, count = max(rows.items(), key=lambda kv: kv[1])
        if best is None or count > best[0]:
            best = (count, next(manifest_path.parent.glob("*.xlsx")), title)
    if best is None:
        raise SystemExit(f"no workbook in {outbox}: run `make demo` first")
    return best[1], best[2]


def render_page(book: Path, sheet_title: str, out: Path, dpi: int = 110) -> Path:
    for tool in ("soffice", "pdftoppm", "pdftotext"):
        if not shutil.which(tool):
            raise SystemExit(f"{tool} not found: apt-get install -y libreoffice-calc poppler-utils")
    with tempfile.TemporaryDirectory(prefix="workbook-preview-") as tmp:
        work = Path(tmp)
        shutil.copy(book, work / "book.xlsx")
        subprocess.run(["soffice", f"-env:UserInstallation=file://{work}/profile", "--headless",
                        "--convert-to", "pdf", "--outdir", str(work), str(work / "book.xlsx")],
                       check=True, capture_output=True, timeout=180)
        pdf = work / "book.pdf"
        page = 1
        while True:  # the first page whose text carries the list's title row
            text = subprocess.run(["pdftotext", "-f", str(page), "-l", str(page), str(pdf), "-"],
                                  capture_output=True, text=True)
            if text.returncode != 0 or not text.stdout:
                raise SystemExit(f"sheet {sheet_title} not found in the PDF of {book.name}")
            if f"· {sheet_title} ·" in text.stdout:
                break
            page += 1
        subprocess.run(["pdftoppm", "-f", str(page), "-l", str(page), "-r", str(dpi), "-png", "-singlefile",
                        str(pdf), str(work / "page")], check=True)
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(work / "page.png", out)
    return out


def main(argv: list[str] | None = None) -> None:
    args = argv if argv is not None else sys.argv[1:]
    outbox, out = Path(args[0]), Path(args[1])
    book, title = fullest_workbook(outbox)
    assert title in LIST_TITLES.values()
    render_page(book, title, out)
    print(f"{out}: page '{title}' of {book.relative_to(outbox)} ({out.stat().st_size // 1024} KB)")


if __name__ == "__main__":
    main()
