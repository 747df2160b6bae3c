"""Prints how many cases schemathesis ran per check, and how many failed, from the
NDJSON event reports of .ci/outside-test; then the findings of each run's text output.

Usage: schemathesis-summary.py BACKEND REPORT_DIR... TEXT_OUTPUT...
Exits 1 when any check failed, so CI fails on a finding even if an exit code is lost.
"""

import collections
import json
import pathlib
import re
import sys

backend, *paths = sys.argv[1:]
ran = collections.Counter()
failed = collections.Counter()
texts = []
for path in map(pathlib.Path, paths):
    if path.is_dir():
        for report in path.glob("*.ndjson"):
            for line in report.open(encoding="utf-8"):
                event = json.loads(line).get("ScenarioFinished")
                if not event:
                    continue
                for results in (event.get("recorder", {}).get("checks") or {}).values():
                    for result in results:
                        ran[result["name"]] += 1
                        if result["status"] == "failure":
                            failed[result["name"]] += 1
    elif path.is_file():
        texts.append(path)

print(f"== {backend}: schemathesis cases per check")
for name in sorted(ran):
    print(f"   {name:32} {ran[name]:7} run  {failed[name]:4} failed")
for text in texts:
    output = text.read_text(encoding="utf-8", errors="replace")
    generated = re.search(r"^\s*(\d+) generated.*$", output, re.MULTILINE)
    closing = re.findall(r"^=+ (.*) =+$", output, re.MULTILINE)
    print(f"   {text.name}: {generated.group(0).strip() if generated else '?'}; {closing[-1] if closing else 'no summary'}")
    findings = re.findall(r"^\s+❌ (ST\d+ .*)$", output, re.MULTILINE)
    for finding in findings:
        print(f"     finding {finding}")
sys.exit(1 if sum(failed.values()) else 0)
