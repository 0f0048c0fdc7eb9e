/* mock_embed: an in-process mock DAW behind a daw_t. See mock_embed.h. */
#include "mock_embed.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sync.h"
#include "errfmt.h"
#include "rmtree.h"

struct mock_embed {
  mock_t *mock;
  char spool[1024]; /* "" = no companion */
  void (*close_cb)(void *);
  void *close_data;
};

int mock_embed_open(uv_loop_t *loop, const struct daw_config *cfg, const struct mock_embed_config *mc, daw_t **daw,
                    mock_embed_t **out, char *err, size_t errlen) {
  *daw = NULL;
  *out = NULL;
  mock_embed_t *e = calloc(1, sizeof *e);
  if (!e) return errfmt(err, errlen, DAW_ENOMEM, "out of memory");
  if (mc->companion) {
    const char *tmp = getenv("TMPDIR");
    snprintf(e->spool, sizeof e->spool, "%s/dawbridge-mock-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(e->spool)) {
      free(e);
      return errfmt(err, errlen, DAW_ECONFIG, "cannot create a temporary spool for the mock's companion");
    }
  }
  /* the daw talks to 127.0.0.1 from an ephemeral port; its DAW address is known once the mock has bound */
  struct daw_config dc = *cfg;
  dc.host = "127.0.0.1";
  dc.listen_host = NULL; /* the mock is on loopback and answers there */
  dc.port = 9;
  dc.listen_port = 0;
  dc.spool_dir = e->spool; /* "" = no companion */
  daw_t *d = NULL;
  int rc = daw_open(loop, &dc, &d, err, errlen);
  if (rc) {
    if (e->spool[0]) rmtree(e->spool);
    free(e);
    return rc;
  }
  struct mock_config m = {.dialect = daw_dialect(d),
                          .port = 0,
                          .feedback_port = sync_listen_port(daw_sync(d)),
                          .tracks = mc->tracks,
                          .drop = mc->drop,
                          .seed = mc->seed,
                          .spool_dir = e->spool[0] ? e->spool : NULL,
                          .quiet = mc->quiet};
  char merr[512];
  if (mock_new(loop, &m, &e->mock, merr, sizeof merr)) {
    daw_close(d, NULL, NULL); /* frees in its close callbacks: the caller runs the loop */
    if (e->spool[0]) rmtree(e->spool);
    free(e);
    return errfmt(err, errlen, DAW_ECONFIG, "cannot start the mock DAW: %s", merr);
  }
  sync_set_daw(daw_sync(d), "127.0.0.1", mock_port(e->mock));
  *daw = d;
  *out = e;
  return 0;
}

mock_t *mock_embed_mock(mock_embed_t *e) { return e->mock; }
json_t *mock_embed_state(const mock_embed_t *e) { return e ? mock_state(e->mock) : NULL; }
const char *mock_embed_spool(const mock_embed_t *e) { return e->spool[0] ? e->spool : NULL; }

static void on_mock_closed(void *data) {
  mock_embed_t *e = data;
  void (*cb)(void *) = e->close_cb;
  void *cd = e->close_data;
  if (e->spool[0]) rmtree(e->spool);
  free(e);
  if (cb) cb(cd);
}

void mock_embed_close(mock_embed_t *e, void (*cb)(void *data), void *data) {
  if (!e) return;
  e->close_cb = cb;
  e->close_data = data;
  mock_close(e->mock, on_mock_closed, e);
}
