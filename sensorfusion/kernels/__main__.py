"""``python -m sensorfusion.kernels [PATTERN ...] [--tier cpu|cuda] [--quiet]``: warm up kernels.

Compiles (or loads from Numba's on-disk cache) every registered kernel, or those matching the
glob patterns, and prints one line per kernel tier with where its code came from.
"""

from __future__ import annotations

import argparse
import sys

from ._warmup import import_kernel_families, warm_up

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m sensorfusion.kernels", description=__doc__.splitlines()[0])
    ap.add_argument("patterns", nargs="*", help="glob patterns of kernel names (default: all)")
    ap.add_argument(
        "--tier", action="append", choices=["cpu", "cuda"], help="tiers to warm (default: cpu, + cuda on a GPU)"
    )
    ap.add_argument("--quiet", action="store_true", help="print only the summary line")
    args = ap.parse_args(argv)
    for line in import_kernel_families():
        print(f"not imported: {line}", file=sys.stderr)
    results = warm_up(args.patterns or None, tiers=args.tier, import_families=False)
    if not args.quiet:
        width = max((len(r.name) for r in results), default=10)
        for r in results:
            note = f"  ({r.reason})" if r.reason else ""
            print(f"{r.name:<{width}}  {r.tier:<4}  {r.source:<8}  {r.seconds:7.2f} s{note}")
    counts: dict[str, int] = {}
    for r in results:
        counts[r.source] = counts.get(r.source, 0) + 1
    total = sum(r.seconds for r in results)
    summary = ", ".join(f"{v} {k}" for k, v in sorted(counts.items()))
    print(f"warmed {len(results)} kernel tiers in {total:.1f} s: {summary or 'nothing matched'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
