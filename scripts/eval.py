#!/usr/bin/env python3
"""Score the offline extractor (`ds-extract`) on a labelled JSON-lines set.

Usage:
    scripts/eval.py [DATASET] [--bin PATH] [--quiet]

DATASET defaults to <repo>/../shared/eval/extraction-dev.jsonl; the binary to $DS_EXTRACT,
else <repo>/target/release/ds-extract (build it with
`cargo build --release -p ds --bin ds-extract`).

Each dataset line is {"id", "text", "reference_date", "default_currency", "expect": {...}}.
Only the keys present in `expect` are scored:
  amount+currency  both exact; amounts compared as numbers ("12.5" == "12.50")
  merchant         null must be null; otherwise case and punctuation folded and one
                   containing the other
  category         exact
  date             exact "YYYY-MM-DD" or null
  rejected         only for `"expect": {"error": true}`: the answer must be an error
Prints per-field accuracy, then every failure (id, field, expected, got, text).
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
DEFAULT_DATASET = REPO.parent / "shared" / "eval" / "extraction-dev.jsonl"
DEFAULT_BIN = REPO / "target" / "release" / "ds-extract"

FIELDS = ["amount+currency", "merchant", "category", "date", "rejected"]


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


def score_field(field, expect, got):
    """(scored, ok) for one field of one example."""
    if field == "rejected":
        # `"expect": {"error": true}` labels a text that is no expense (OTP, credit...).
        if "error" not in expect:
            return False, False
        return True, "error" in got
    if field == "amount+currency":
        if "amount" not in expect and "currency" not in expect:
            return False, False
        ok = True
        if "amount" in expect:
            ok &= got.get("amount") is not None and same_amount(expect["amount"], got["amount"])
        if "currency" in expect:
            ok &= got.get("currency") == expect["currency"]
        return True, ok
    if field not in expect:
        return False, False
    want, have = expect[field], got.get(field)
    if field == "merchant":
        if want is None or have is None:
            return True, want is None and have is None
        w, h = fold(want), fold(have)
        return True, bool(w) and bool(h) and (w in h or h in w)
    return True, want == have


def shown(expect, got, field):
    if field == "rejected":
        return "an error", json.dumps(got, ensure_ascii=False)
    if field == "amount+currency":
        return (
            f"{expect.get('amount')} {expect.get('currency')}",
            f"{got.get('amount')} {got.get('currency')}" if "error" not in got else got["error"],
        )
    return json.dumps(expect.get(field), ensure_ascii=False), (
        json.dumps(got.get(field), ensure_ascii=False) if "error" not in got else got["error"]
    )


def main(argv):
    args = [a for a in argv[1:] if not a.startswith("--")]
    quiet = "--quiet" in argv
    binary = os.environ.get("DS_EXTRACT")
    if "--bin" in argv:
        i = argv.index("--bin")
        if i + 1 >= len(argv):
            print("--bin needs a path", file=sys.stderr)
            return 2
        binary = argv[i + 1]
        args = [a for a in args if a != binary]
    dataset = Path(args[0]) if args else DEFAULT_DATASET
    binary = Path(binary) if binary else DEFAULT_BIN

    if not binary.exists():
        print(f"ds-extract not found at {binary}; build it with "
              "`cargo build --release -p ds --bin ds-extract` or set DS_EXTRACT", file=sys.stderr)
        return 2
    if not dataset.exists():
        print(f"dataset not found: {dataset}", file=sys.stderr)
        return 2

    examples = [json.loads(line) for line in dataset.read_text(encoding="utf-8").splitlines() if line.strip()]
    requests = []
    for ex in examples:
        req = {"text": ex["text"]}
        for key in ("reference_date", "default_currency", "timezone"):
            if ex.get(key) is not None:
                req[key] = ex[key]
        requests.append(json.dumps(req, ensure_ascii=False))

    try:
        proc = subprocess.run(
            [str(binary)],
            input="\n".join(requests) + "\n",
            capture_output=True,
            text=True,
            encoding="utf-8",
            timeout=300,
        )
    except (OSError, subprocess.TimeoutExpired) as e:
        print(f"running {binary} failed: {e}", file=sys.stderr)
        return 2
    if proc.returncode != 0:
        print(f"{binary} exited with {proc.returncode}:\n{proc.stderr}", file=sys.stderr)
        return 2
    answers = proc.stdout.splitlines()
    if len(answers) != len(examples):
        print(f"{binary} answered {len(answers)} lines for {len(examples)} inputs", file=sys.stderr)
        return 2

    totals = {f: [0, 0] for f in FIELDS}
    failures = []
    errors = 0
    for ex, line in zip(examples, answers):
        try:
            got = json.loads(line)
        except json.JSONDecodeError:
            got = {"error": f"unparseable output: {line[:80]}"}
        if "error" in got:
            errors += 1
        expect = ex.get("expect", {})
        for field in FIELDS:
            scored, ok = score_field(field, expect, got)
            if not scored:
                continue
            totals[field][1] += 1
            if ok:
                totals[field][0] += 1
            else:
                want, have = shown(expect, got, field)
                failures.append((ex.get("id", "?"), field, want, have, ex["text"]))

    print(f"{dataset.name}: {len(examples)} texts, {errors} answered with an error")
    for field in FIELDS:
        ok, n = totals[field]
        pct = 100.0 * ok / n if n else 0.0
        print(f"  {field:<16} {ok:>4}/{n:<4} {pct:6.1f}%")
    if failures and not quiet:
        print(f"\nfailures ({len(failures)}):")
        for fid, field, want, have, text in failures:
            print(f"  {fid}  {field}: expected {want}, got {have}\n      {text}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
