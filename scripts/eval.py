#!/usr/bin/env python3
"""Score the offline extractor (`ds-extract`) on labelled JSON-lines sets.

Usage:
    scripts/eval.py [DATASET...] [--bin PATH] [--quiet] [--show-heldout] [--by-source]

Without DATASET it scores every file of <repo>/services/ds/eval/corpus/*.jsonl, the crate's
own sets <repo>/services/ds/tests/data/*.jsonl and, when checked out next to the repository,
<repo>/../shared/eval/extraction-dev.jsonl. The binary is --bin, else $DS_EXTRACT, else
<repo>/target/release/ds-extract (`cargo build --release -p ds --bin ds-extract`).

Each dataset line is {"id", "text", "reference_date", "default_currency", "expect": {...}}
and, in the corpus, "source", "licence", "split" ("dev" | "heldout"), "kind", "lang". A line
without "split" counts as dev. Only the keys present in `expect` are scored:
  amount+currency       both exact; amounts compared as numbers ("12.5" == "12.50")
  merchant              null must be null; otherwise case and punctuation folded and one
                        containing the other
  no-spurious-merchant  the lines whose expected merchant is null: the answer names none
  category              exact
  date                  exact "YYYY-MM-DD" or null
  rejects               `"expect": {"error": true}` (not an expense): the answer is an error
  false-rejects         lines that are expenses but were answered with an error (lower is better)
An expense answered with an error fails every field it labels.

Prints, for dev and heldout apart: the per-field table, the per-source table, and a
reliability table of `confidence` (bins, answers, % fully right: every labelled field right,
and no answer at all where an error was expected). Then the dev failures; heldout failures
only with --show-heldout (the heldout is for measuring, not tuning).
Exits 0 unless the binary is missing, crashes, or answers the wrong number of lines.
Python standard library only.
"""

import json
import os
import subprocess
import sys
import unicodedata
from decimal import Decimal, InvalidOperation
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SHARED_DEV = REPO.parent / "shared" / "eval" / "extraction-dev.jsonl"
CORPUS_DIR = REPO / "services" / "ds" / "eval" / "corpus"
CRATE_SETS = REPO / "services" / "ds" / "tests" / "data"
DEFAULT_BIN = REPO / "target" / "release" / "ds-extract"

FIELDS = [
    "amount+currency",
    "merchant",
    "no-spurious-merchant",
    "category",
    "date",
    "rejects",
    "false-rejects",
]
# Short column heads for the per-source table.
HEADS = {
    "amount+currency": "amt+cur",
    "merchant": "merch",
    "no-spurious-merchant": "no-spur",
    "category": "categ",
    "date": "date",
    "rejects": "rejects",
    "false-rejects": "f-rej",
}
BINS = [(0.0, 0.6), (0.6, 0.7), (0.7, 0.8), (0.8, 0.9), (0.9, 1.01)]


def fold(s):
    """Lower case, accents and punctuation removed, spaces collapsed."""
    s = unicodedata.normalize("NFKD", s)
    s = "".join(c for c in s if not unicodedata.combining(c))
    s = "".join(c if c.isalnum() else " " for c in s.lower())
    return " ".join(s.split())


def same_amount(a, b):
    try:
        return Decimal(str(a)) == Decimal(str(b))
    except (InvalidOperation, TypeError, ValueError):
        return False


def same_merchant(want, have):
    if want is None or have is None:
        return want is None and have is None
    w, h = fold(want), fold(have)
    return bool(w) and bool(h) and (w in h or h in w)


def score_field(field, expect, got):
    """(scored, ok) for one field of one example."""
    wants_error = bool(expect.get("error"))
    refused = "error" in got
    if field == "rejects":
        return (True, refused) if wants_error else (False, False)
    if wants_error:
        return False, False
    if field == "false-rejects":
        # "ok" here means the expense was (wrongly) refused; the table shows the rate.
        return True, refused
    if field == "amount+currency":
        if "amount" not in expect and "currency" not in expect:
            return False, False
        ok = not refused
        if "amount" in expect:
            ok = ok and got.get("amount") is not None and same_amount(expect["amount"], got["amount"])
        if "currency" in expect:
            ok = ok and got.get("currency") == expect["currency"]
        return True, ok
    if field == "no-spurious-merchant":
        if "merchant" not in expect or expect["merchant"] is not None:
            return False, False
        return True, not refused and got.get("merchant") is None
    if field not in expect:
        return False, False
    if refused:
        return True, False
    if field == "merchant":
        return True, same_merchant(expect["merchant"], got.get("merchant"))
    return True, expect[field] == got.get(field)


def shown(expect, got, field):
    if field == "rejects":
        return "an error", json.dumps(got, ensure_ascii=False)
    if field == "false-rejects":
        return "an expense", got.get("error")
    if "error" in got:
        have = got["error"]
    elif field == "amount+currency":
        have = f"{got.get('amount')} {got.get('currency')}"
    else:
        have = json.dumps(got.get(field), ensure_ascii=False)
    if field == "amount+currency":
        want = f"{expect.get('amount')} {expect.get('currency')}"
    elif field == "no-spurious-merchant":
        want = "null"
    else:
        want = json.dumps(expect.get(field), ensure_ascii=False)
    return want, have


def fully_right(expect, got):
    for field in FIELDS:
        scored, ok = score_field(field, expect, got)
        if not scored:
            continue
        if field == "false-rejects":
            ok = not ok
        if not ok:
            return False
    return True


def default_datasets():
    files = sorted(CORPUS_DIR.glob("*.jsonl")) + sorted(CRATE_SETS.glob("*.jsonl"))
    if SHARED_DEV.exists():
        files.append(SHARED_DEV)
    return files


def load(files):
    examples = []
    for path in files:
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                ex = json.loads(line)
            except json.JSONDecodeError as e:
                print(f"{path.name}:{n}: skipped, invalid JSON: {e}", file=sys.stderr)
                continue
            if not isinstance(ex, dict) or not isinstance(ex.get("text"), str):
                print(f"{path.name}:{n}: skipped, no \"text\"", file=sys.stderr)
                continue
            ex["_file"] = path.name
            ex["_split"] = "heldout" if ex.get("split") == "heldout" else "dev"
            src = ex.get("source") or path.stem
            # "owner/repo:path" → "owner/repo": one row per public source.
            ex["_source"] = src.split(":")[0] if "/" in src else src
            examples.append(ex)
    return examples


def run(binary, examples):
    requests = []
    for ex in examples:
        req = {"text": ex["text"]}
        for key in ("reference_date", "default_currency", "timezone"):
            if ex.get(key) is not None:
                req[key] = ex[key]
        requests.append(json.dumps(req, ensure_ascii=False))
    proc = subprocess.run(
        [str(binary)],
        input="\n".join(requests) + "\n",
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=600,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{binary} exited with {proc.returncode}:\n{proc.stderr}")
    answers = proc.stdout.splitlines()
    if len(answers) != len(examples):
        raise RuntimeError(f"{binary} answered {len(answers)} lines for {len(examples)} inputs")
    out = []
    for line in answers:
        try:
            got = json.loads(line)
        except json.JSONDecodeError:
            got = {"error": f"unparseable output: {line[:80]}"}
        out.append(got)
    return out


def pct(ok, n):
    return f"{100.0 * ok / n:5.1f}%" if n else "    - "


def tally(pairs):
    totals = {f: [0, 0] for f in FIELDS}
    for ex, got in pairs:
        expect = ex.get("expect", {})
        for field in FIELDS:
            scored, ok = score_field(field, expect, got)
            if scored:
                totals[field][1] += 1
                totals[field][0] += int(ok)
    return totals


def print_split(name, pairs, by_source):
    refused = sum(1 for _, g in pairs if "error" in g)
    print(f"\n== {name}: {len(pairs)} texts, {refused} answered with an error")
    totals = tally(pairs)
    for field in FIELDS:
        ok, n = totals[field]
        note = "  (lower is better)" if field == "false-rejects" else ""
        print(f"  {field:<22} {ok:>5}/{n:<5} {pct(ok, n)}{note}")

    if by_source:
        sources = {}
        for ex, got in pairs:
            sources.setdefault(ex["_source"], []).append((ex, got))
        width = max([len(s) for s in sources] + [6])
        width = min(width, 48)
        head = "  " + "source".ljust(width) + "     n " + " ".join(f"{HEADS[f]:>7}" for f in FIELDS)
        print(f"\n  per source ({name}):")
        print(head)
        for src in sorted(sources):
            t = tally(sources[src])
            cells = " ".join(f"{pct(*t[f]):>7}" for f in FIELDS)
            print(f"  {src[:width].ljust(width)} {len(sources[src]):>5} {cells}")

    print(f"\n  reliability of confidence ({name}; answers only):")
    print("  bin          answers   fully right")
    for lo, hi in BINS:
        inbin = [
            (ex, got)
            for ex, got in pairs
            if "error" not in got and lo <= float(got.get("confidence", 0.0)) < hi
        ]
        right = sum(1 for ex, got in inbin if fully_right(ex.get("expect", {}), got))
        label = f"[{lo:.1f}, {min(hi, 1.0):.1f}{']' if hi > 1 else ')'}"
        print(f"  {label:<12} {len(inbin):>7}   {right:>5} {pct(right, len(inbin))}")
    low = [g for _, g in pairs if "error" not in g and float(g.get("confidence", 0.0)) < 0.6]
    flagged = sum(1 for g in low if any("low confidence" in w for w in g.get("warnings", [])))
    if low:
        print(f"  below 0.6 with a 'low confidence' warning: {flagged}/{len(low)}")


def failures(pairs):
    rows = []
    for ex, got in pairs:
        expect = ex.get("expect", {})
        for field in FIELDS:
            scored, ok = score_field(field, expect, got)
            if not scored:
                continue
            if field == "false-rejects":
                ok = not ok
            if not ok:
                want, have = shown(expect, got, field)
                rows.append((ex.get("id", "?"), field, want, have, ex["text"], got.get("confidence")))
    return rows


def main(argv):
    flags = {"--quiet", "--show-heldout", "--by-source", "--no-by-source"}
    binary = os.environ.get("DS_EXTRACT")
    args = []
    it = iter(argv[1:])
    for a in it:
        if a == "--bin":
            binary = next(it, None)
            if binary is None:
                print("--bin needs a path", file=sys.stderr)
                return 2
        elif a in flags:
            continue
        elif a.startswith("--"):
            print(f"unknown option {a}", file=sys.stderr)
            return 2
        else:
            args.append(a)
    quiet = "--quiet" in argv
    show_heldout = "--show-heldout" in argv
    by_source = "--no-by-source" not in argv
    files = [Path(a) for a in args] if args else default_datasets()
    binary = Path(binary) if binary else DEFAULT_BIN

    if not binary.exists():
        print(f"ds-extract not found at {binary}; build it with "
              "`cargo build --release -p ds --bin ds-extract` or set DS_EXTRACT", file=sys.stderr)
        return 2
    missing = [f for f in files if not f.exists()]
    if missing:
        print(f"dataset not found: {', '.join(map(str, missing))}", file=sys.stderr)
        return 2

    examples = load(files)
    try:
        answers = run(binary, examples)
    except (OSError, subprocess.TimeoutExpired, RuntimeError) as e:
        print(f"running {binary} failed: {e}", file=sys.stderr)
        return 2
    pairs = list(zip(examples, answers))
    print(f"{len(examples)} texts from {len(files)} files: " + ", ".join(f.name for f in files))
    for split in ("dev", "heldout"):
        part = [(ex, got) for ex, got in pairs if ex["_split"] == split]
        if part:
            print_split(split, part, by_source)

    if quiet:
        return 0
    dev = failures([(ex, g) for ex, g in pairs if ex["_split"] == "dev"])
    if dev:
        print(f"\ndev failures ({len(dev)}):")
        for fid, field, want, have, text, conf in dev:
            print(f"  {fid}  {field}: expected {want}, got {have} (conf {conf})\n      {text}")
    held = failures([(ex, g) for ex, g in pairs if ex["_split"] == "heldout"])
    if show_heldout and held:
        print(f"\nheldout failures ({len(held)}):")
        for fid, field, want, have, text, conf in held:
            print(f"  {fid}  {field}: expected {want}, got {have} (conf {conf})\n      {text}")
    elif held:
        print(f"\nheldout failures: {len(held)} (hidden; --show-heldout to list them)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
