"""``stream bench``: throughput, latency, memory and the pure model path, measured side by
side against a trivial Faust agent and River's FunkMF."""
