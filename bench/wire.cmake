# bench/wire.cmake: OSC throughput, confirm latency, sync benchmarks.
