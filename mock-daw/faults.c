/* faults.c — fault injection for the mock DAW: per-message drop with an own seeded PRNG, and a constant delay of
 * every outgoing reply/feedback packet (a FIFO drained by one uv timer).  Restart lives in mock.c. */
#include "mock_int.h"

#include <stdlib.h>
#include <string.h>

struct delayed {
  struct delayed *next;
  uint64_t due;
  struct sockaddr_in to;
  size_t len;
  char data[];
};

struct mk_faults {
  mock_t *m;
  uv_timer_t timer;
  double drop;
  int delay_ms;
  uint64_t rng;
  struct delayed *head, *tail;
  void (*close_cb)(void *);
  void *close_data;
};

/* xorshift64*: small, reproducible across platforms */
static uint64_t next_rand(uint64_t *s) {
  uint64_t x = *s;
  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  *s = x;
  return x * 0x2545F4914F6CDD1Dull;
}

struct mk_faults *mk_faults_new(mock_t *m, uv_loop_t *loop, double drop, int delay_ms, unsigned seed) {
  struct mk_faults *f = calloc(1, sizeof *f);
  if (!f) abort();
  f->m = m;
  f->drop = drop;
  f->delay_ms = delay_ms;
  f->rng = 0x9E3779B97F4A7C15ull ^ ((uint64_t)seed * 0x100000001B3ull);
  if (!f->rng) f->rng = 1;
  uv_timer_init(loop, &f->timer);
  f->timer.data = f;
  return f;
}

void mk_faults_set(struct mk_faults *f, double drop, int delay_ms) {
  if (!f) return;
  f->drop = drop;
  f->delay_ms = delay_ms;
}
double mk_faults_drop(const struct mk_faults *f) { return f ? f->drop : 0; }
int mk_faults_delay(const struct mk_faults *f) { return f ? f->delay_ms : 0; }

int mk_faults_should_drop(struct mk_faults *f) {
  if (!f || f->drop <= 0) return 0;
  double u = (double)(next_rand(&f->rng) >> 11) * (1.0 / 9007199254740992.0);
  return u < f->drop;
}

static void on_timer(uv_timer_t *t) {
  struct mk_faults *f = t->data;
  uint64_t now = uv_now(t->loop);
  while (f->head && f->head->due <= now) {
    struct delayed *d = f->head;
    f->head = d->next;
    if (!f->head) f->tail = NULL;
    mk_send_now(f->m, &d->to, d->data, d->len);
    free(d);
  }
  if (f->head) uv_timer_start(&f->timer, on_timer, f->head->due - now, 0);
}

void mk_faults_delay_packet(struct mk_faults *f, const struct sockaddr_in *to, const void *buf, size_t len) {
  struct delayed *d = malloc(sizeof *d + len);
  if (!d) return;
  d->next = NULL;
  d->due = uv_now(f->timer.loop) + (uint64_t)f->delay_ms;
  if (f->tail && d->due < f->tail->due) d->due = f->tail->due; /* keep FIFO order if the delay shrank */
  d->to = *to;
  d->len = len;
  memcpy(d->data, buf, len);
  if (f->tail)
    f->tail->next = d;
  else
    f->head = d;
  f->tail = d;
  if (!uv_is_active((uv_handle_t *)&f->timer)) uv_timer_start(&f->timer, on_timer, (uint64_t)f->delay_ms, 0);
}

void mk_faults_flush_drop(struct mk_faults *f) {
  if (!f) return;
  while (f->head) {
    struct delayed *d = f->head;
    f->head = d->next;
    free(d);
  }
  f->tail = NULL;
  uv_timer_stop(&f->timer);
}

static void on_closed(uv_handle_t *h) {
  struct mk_faults *f = h->data;
  void (*cb)(void *) = f->close_cb;
  void *data = f->close_data;
  free(f);
  if (cb) cb(data);
}

void mk_faults_close(struct mk_faults *f, void (*cb)(void *), void *data) {
  mk_faults_flush_drop(f);
  f->close_cb = cb;
  f->close_data = data;
  uv_close((uv_handle_t *)&f->timer, on_closed);
}
