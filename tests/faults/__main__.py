"""``make faults``: every scenario at full scale on a real broker; writes the figures
to ``var/faults/<scale>.json`` and, at full scale, ``docs/reliability.md``.

    python -m tests.faults [--scale full|short] [--only NAME ...] [--no-doc]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from tests.faults.report import render
from tests.faults.scenarios import SCENARIOS, Harness, Scale, Skip, cleanup
from tests.support.brokers import session_broker

ROOT = Path(__file__).resolve().parents[2]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Circular's fault harness")
    parser.add_argument("--scale", choices=("full", "short"), default="full")
    parser.add_argument("--only", nargs="*", choices=sorted(SCENARIOS))
    parser.add_argument("--no-doc", action="store_true", help="do not write docs/")
    parser.add_argument("--keep", action="store_true",
                        help="keep the services' logs and databases (printed at the end)")
    args = parser.parse_args(argv)
    scale = Scale.named(args.scale)
    names = args.only or list(SCENARIOS)
    results, skipped = [], {}
    started = time.monotonic()
    with session_broker() as broker:
        harness = Harness(broker, Path(tempfile.mkdtemp(prefix="circular-faults-")), scale)
        try:
            for name in names:
                print(f"[faults] {name} ...", flush=True)
                try:
                    result = SCENARIOS[name](harness)
                except Skip as why:
                    skipped[name] = str(why)
                    print(f"[faults] {name}: skipped ({why})", flush=True)
                    continue
                results.append(result.as_dict())
                v = result.verdict
                print(f"[faults] {name}: {'PASS' if result.passed else 'FAIL'}  lost {v.lost}, "
                      f"duplicated {v.duplicated}, unexpected {v.unexpected}, state diff "
                      f"{v.state_diff}, inputs joined {v.inputs_joined}/{v.inputs}, "
                      f"checks {result.checks}", flush=True)
                for line in v.examples:
                    print(f"           {line}", flush=True)
        finally:
            if args.keep:
                print(f"[faults] kept {harness.workdir}", flush=True)
            else:
                cleanup(harness)
        references = {k: {"seconds": round(o.seconds, 1), "effects": len(o.effects.roots),
                          "inputs": len(o.effects.inputs)}
                      for k, o in harness.references.items()}
    summary = {"scale": args.scale, "scale_settings": scale.__dict__, "broker": broker.kind,
               "broker_version": broker.version, "seconds": round(time.monotonic() - started),
               "references": references, "results": results, "skipped": skipped}
    out = ROOT / "var" / "faults" / f"{args.scale}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(summary, indent=2, default=str))
    if args.scale == "full" and not args.no_doc and not args.only:
        (ROOT / "docs" / "reliability.md").write_text(render(summary))
    failed = [r["name"] for r in results if not r["passed"]]
    print(f"[faults] {len(results) - len(failed)} passed, {len(failed)} failed "
          f"{failed or ''}, {len(skipped)} skipped; {out}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
