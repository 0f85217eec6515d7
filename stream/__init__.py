"""stream: real-time personalization for media sites, on Kafka."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("stream")
except PackageNotFoundError:  # running from a source tree without installing
    __version__ = "0.0.0+local"

__all__ = ["__version__"]
