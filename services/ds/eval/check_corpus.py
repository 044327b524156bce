#!/usr/bin/env python3
"""Validate the labelled extraction corpus (services/ds/eval/corpus/*.jsonl).

Standard library only, so it runs anywhere the repository is checked out:
    python3 services/ds/eval/check_corpus.py [corpus_dir]

Checks every line of every corpus file: valid JSON object, required keys,
ids unique across files, known kind/split/category, decimal amounts, ISO
currency shape, real calendar dates, and no text repeated across or within
files (a repeated text would count twice in a score and could sit in both
dev and held-out). Exits non-zero and prints every problem found.
"""

import datetime
import json
import re
import sys
from collections import Counter
from pathlib import Path

CATEGORIES = {
    "FOOD_AND_DRINK", "GROCERIES", "TRANSPORT", "SHOPPING", "HOUSING", "UTILITIES",
    "HEALTH", "ENTERTAINMENT", "TRAVEL", "EDUCATION", "PERSONAL_CARE",
    "GIFTS_AND_DONATIONS", "FEES_AND_CHARGES", "INSURANCE", "OTHER",
}
KINDS = {"sms", "card-alert", "descriptor", "note", "non-expense"}
SPLITS = {"dev", "heldout"}
REQUIRED = ("id", "source", "licence", "split", "kind", "lang", "text",
            "reference_date", "default_currency", "expect")
EXPECT_KEYS = {"amount", "currency", "merchant", "category", "date"}
AMOUNT_RE = re.compile(r"^\d+(\.\d+)?$")
CURRENCY_RE = re.compile(r"^[A-Z]{3}$")
ID_RE = re.compile(r"^[a-z][a-z0-9]*-\d{4,}$")


def valid_date(value):
    if not isinstance(value, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        return False
    try:
        datetime.date.fromisoformat(value)
    except ValueError:
        return False
    return True


def check_expect(rec, problems, where):
    exp = rec["expect"]
    if not isinstance(exp, dict):
        problems.append(f"{where}: expect is not an object")
        return
    if exp.get("error") is True:
        if rec["kind"] != "non-expense":
            problems.append(f"{where}: expect.error but kind is {rec['kind']!r}")
        if set(exp) != {"error"}:
            problems.append(f"{where}: a non-expense expects only error, got {sorted(exp)}")
        if not isinstance(rec.get("reason"), str) or not rec["reason"].strip():
            problems.append(f"{where}: a non-expense needs a reason")
        return
    if rec["kind"] == "non-expense":
        problems.append(f"{where}: kind non-expense but expect has no error")
    unknown = set(exp) - EXPECT_KEYS
    if unknown:
        problems.append(f"{where}: unknown expect keys {sorted(unknown)}")
    if "amount" not in exp or "currency" not in exp:
        problems.append(f"{where}: an expense needs amount and currency")
    amount = exp.get("amount")
    if amount is not None and (not isinstance(amount, str) or not AMOUNT_RE.match(amount)):
        problems.append(f"{where}: amount {amount!r} is not a decimal string with '.'")
    cur = exp.get("currency")
    if cur is not None and (not isinstance(cur, str) or not CURRENCY_RE.match(cur)):
        problems.append(f"{where}: currency {cur!r} is not an ISO 4217 code")
    if "merchant" in exp and exp["merchant"] is not None:
        if not isinstance(exp["merchant"], str) or not exp["merchant"].strip():
            problems.append(f"{where}: merchant must be a non-empty string or null")
    if "category" in exp and exp["category"] not in CATEGORIES:
        problems.append(f"{where}: category {exp['category']!r} is not a known category")
    if "date" in exp and exp["date"] is not None and not valid_date(exp["date"]):
        problems.append(f"{where}: date {exp['date']!r} is not a valid YYYY-MM-DD")


def check_file(path, ids, texts, problems, stats):
    for lineno, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        where = f"{path.name}:{lineno}"
        if not raw.strip():
            problems.append(f"{where}: blank line")
            continue
        try:
            rec = json.loads(raw)
        except json.JSONDecodeError as err:
            problems.append(f"{where}: not JSON ({err})")
            continue
        if not isinstance(rec, dict):
            problems.append(f"{where}: not a JSON object")
            continue
        missing = [k for k in REQUIRED if k not in rec]
        if missing:
            problems.append(f"{where}: missing keys {missing}")
            continue
        rid = rec["id"]
        if not isinstance(rid, str) or not ID_RE.match(rid):
            problems.append(f"{where}: id {rid!r} is not <prefix>-<digits>")
        elif rid in ids:
            problems.append(f"{where}: id {rid} already used at {ids[rid]}")
        else:
            ids[rid] = where
        for key in ("source", "licence", "lang", "text"):
            if not isinstance(rec[key], str) or not rec[key].strip():
                problems.append(f"{where}: {key} must be a non-empty string")
        if rec["split"] not in SPLITS:
            problems.append(f"{where}: split {rec['split']!r} not in {sorted(SPLITS)}")
        if rec["kind"] not in KINDS:
            problems.append(f"{where}: kind {rec['kind']!r} not in {sorted(KINDS)}")
        if not valid_date(rec["reference_date"]):
            problems.append(f"{where}: reference_date {rec['reference_date']!r} invalid")
        if not isinstance(rec["default_currency"], str) or not CURRENCY_RE.match(rec["default_currency"]):
            problems.append(f"{where}: default_currency {rec['default_currency']!r} invalid")
        text = rec["text"] if isinstance(rec["text"], str) else ""
        key = " ".join(text.split()).lower()
        if key in texts:
            problems.append(f"{where}: text duplicates {texts[key]}")
        else:
            texts[key] = where
        check_expect(rec, problems, where)
        stats[(path.name, rec.get("split"), rec.get("kind"), rec.get("lang"))] += 1


def main(argv):
    corpus = Path(argv[1]) if len(argv) > 1 else Path(__file__).resolve().parent / "corpus"
    files = sorted(corpus.glob("*.jsonl"))
    if not files:
        print(f"no corpus files under {corpus}")
        return 1
    ids, texts, problems, stats = {}, {}, [], Counter()
    for path in files:
        check_file(path, ids, texts, problems, stats)
    per_file = Counter()
    for (name, split, _kind, _lang), n in stats.items():
        per_file[(name, split)] += n
    for (name, split), n in sorted(per_file.items()):
        print(f"{name:40} {split:8} {n:5}")
    print(f"{len(ids)} lines in {len(files)} files")
    for problem in problems:
        print("PROBLEM", problem)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
