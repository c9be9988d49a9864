"""``python -m tokenaudit.adversary --out DIR [--seed N] [--no-gamers]``: write an adversarial organisation.

Then, for example: ``tokenaudit audit DIR/logs --policy DIR/policy.yaml --outcomes DIR/outcomes``; the planted
cases are in ``DIR/manifest.json``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from tokenaudit.adversary import AdversaryConfig, generate, write_organisation


def main() -> None:
    """Parse the arguments and write the files."""
    parser = argparse.ArgumentParser(prog="python -m tokenaudit.adversary", description=__doc__)
    parser.add_argument("--out", type=Path, required=True, help="Folder to write into (created).")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--developers", type=int, default=60)
    parser.add_argument("--weeks", type=int, default=6)
    parser.add_argument("--no-gamers", action="store_true", help="Leave the planted gamers out.")
    args = parser.parse_args()
    config = AdversaryConfig(seed=args.seed, developers=args.developers, weeks=args.weeks)
    manifest = write_organisation(generate(config), args.out, gamers=not args.no_gamers)
    print(f"{args.out}: {len(manifest['developers'])} developers, period {manifest['period']}")


if __name__ == "__main__":
    main()
