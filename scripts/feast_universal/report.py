"""The pass/fail table of a universal-suite run: ``python report.py RESULTS_DIR`` (JUnit XML per store and run)."""

import re
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

STORES = ("sqlite", "embedded", "pinot")
# Feast names each parametrization after the environment, store included: one name for every store.
_ENVIRONMENT = re.compile(r"ParameterSet\(values=\(LOCAL:[^)]*\),\s*marks=\[\], id=None\)-?|-?LOCAL:[^\]-]*")


def _outcomes(path: Path) -> dict[str, str]:
    found = {}
    for case in ET.parse(path).iter("testcase"):
        name = f"{case.get('classname', '').rsplit('.', 1)[-1]}::{case.get('name')}"
        name = _ENVIRONMENT.sub("", name).replace("[]", "")
        kinds = {child.tag for child in case}
        found[name] = ("E" if "error" in kinds else "F" if "failure" in kinds else
                       "skip" if "skipped" in kinds else "P")
    return found


def main(results: Path) -> int:
    table: dict[str, dict[str, str]] = {}
    for store in STORES:
        for xml in sorted(results.glob(f"{store}-*.xml")):
            for test, outcome in _outcomes(xml).items():
                table.setdefault(test, {})[store] = outcome
    rows = [(t, o) for t, o in sorted(table.items()) if set(o.values()) != {"skip"}]
    print("| test | " + " | ".join(STORES) + " |\n|---|" + "---|" * len(STORES))
    for test, outcomes in rows:
        print(f"| {test} | " + " | ".join(outcomes.get(s, "-") for s in STORES) + " |")
    totals = {s: [o.get(s) for _, o in rows] for s in STORES}
    print("\n| store | passed | failed | error |\n|---|---|---|---|")
    for store, outcomes in totals.items():
        print(f"| {store} | {outcomes.count('P')} | {outcomes.count('F')} | {outcomes.count('E')} |")
    worse = [t for t, o in rows if o.get("pinot") != "P" and o.get("sqlite") == "P"]
    worse += [t for t, o in rows if o.get("embedded") != "P" and o.get("sqlite") == "P" and t not in worse]
    print("\nfailing on ours where Feast's SQLite store passes:", worse or "none")
    return 1 if worse else 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
