"""Tools for trying `stream` out and testing it, not part of the worker: the embedded broker,
child processes, the simulated news site, the live demo and the corpus of bad inputs."""
