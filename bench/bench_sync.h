/* bench_sync: the sync configuration the benches that drive the bridge's sync (bridge/sync.h) measure with
 * (bench/wire.cmake: dbbenchsync). */
#ifndef DAWBRIDGE_BENCH_SYNC_H
#define DAWBRIDGE_BENCH_SYNC_H

#include "sync.h"

/* The DAW at 127.0.0.1:daw_port, feedback heard on listen_port (0: ephemeral); no periodic refresh (nothing but
 * the measured calls on the wire); the map's own confirmation timeout, retries, bank size, silence and probe
 * timings; no log. */
struct sync_config bench_sync_config(int daw_port, int listen_port);

#endif
