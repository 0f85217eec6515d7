"""``python -m stream`` is the ``stream`` command."""

from stream.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
