/* bench_sync: see bench_sync.h. */
#include "bench_sync.h"

struct sync_config bench_sync_config(int daw_port, int listen_port) {
  struct sync_config sc = {.daw_port = daw_port,
                           .listen_port = listen_port,
                           .refresh_interval_ms = 0,
                           .confirm_timeout_ms = -1,
                           .retries = -1,
                           .bank_size = 0,
                           .silence_ms = -1,
                           .probe_ms = -1};
  return sc;
}
