/* `dawbridge call` end to end (the built binary against a mock-daw process over real UDP): the exit code follows
 * the three outcomes (0 confirmed, 3 uncertain, 7 failed), an incomplete first sync under packet loss is "the DAW
 * is not answering" (2) and never "unknown track" (4), nothing listening at the DAW's port is exit 2 with a clear
 * message. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "db_test_util.h"

static const char *bindir(void) {
  const char *b = getenv("DAWBRIDGE_BINARY_DIR");
  return b ? b : ".";
}

/* Starts mock-daw; returns its pid. */
static pid_t start_mock(const char *dialect, int port, int fport, int tracks, double drop, unsigned seed) {
  char p[16], fp[16], t[16], d[32], s[16], exe[1024];
  snprintf(p, sizeof p, "%d", port);
  snprintf(fp, sizeof fp, "%d", fport);
  snprintf(t, sizeof t, "%d", tracks);
  snprintf(d, sizeof d, "%g", drop);
  snprintf(s, sizeof s, "%u", seed);
  snprintf(exe, sizeof exe, "%s/mock-daw", bindir());
  pid_t pid = fork();
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGTERM); /* a failed assertion ends the test: the mock goes with it */
    execl(exe, exe, "--dialect", dialect, "--port", p, "--feedback-port", fp, "--tracks", t, "--drop", d, "--seed", s,
          "--quiet", (char *)NULL);
    _exit(127);
  }
  assert_int_equal(db_test_wait_udp_bound("127.0.0.1", port, 10000), 0); /* the mock has bound its port */
  return pid;
}

/* Starts mock-daw listening on host (--host); returns its pid. */
static pid_t start_mock_at(const char *dialect, const char *host, int port, int fport) {
  char p[16], fp[16], exe[1024];
  snprintf(p, sizeof p, "%d", port);
  snprintf(fp, sizeof fp, "%d", fport);
  snprintf(exe, sizeof exe, "%s/mock-daw", bindir());
  pid_t pid = fork();
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    execl(exe, exe, "--dialect", dialect, "--host", host, "--port", p, "--feedback-port", fp, "--quiet", (char *)NULL);
    _exit(127);
  }
  assert_int_equal(db_test_wait_udp_bound(host, port, 10000), 0);
  return pid;
}

static void stop_mock(pid_t pid) {
  kill(pid, SIGTERM);
  waitpid(pid, NULL, 0);
}

/* Runs dawbridge with arguments (a shell fragment); returns its exit code, stderr in err. */
static int run(char *err, size_t errlen, const char *fmt, ...) {
  char args[1024], cmd[2048], ef[64];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(args, sizeof args, fmt, ap);
  va_end(ap);
  snprintf(ef, sizeof ef, "/tmp/dawbridge-callcli-%d.err", (int)getpid());
  snprintf(cmd, sizeof cmd, "timeout 60 %s/dawbridge %s >/dev/null 2>%s", bindir(), args, ef);
  int st = system(cmd);
  if (err && errlen) {
    err[0] = 0;
    FILE *f = fopen(ef, "r");
    if (f) {
      size_t n = fread(err, 1, errlen - 1, f);
      err[n] = 0;
      fclose(f);
    }
  }
  unlink(ef);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* `call` accepts the notation a plan accepts (issue 13): note names and chord symbols become MIDI notes, read back
 * by the DAW; a symbol that is no note, drum or chord is exit 4 with the symbol named, and nothing is sent. */
static void test_call_cli_accepts_plan_notation(void **state) {
  char out[64], cmd[1024];
  snprintf(out, sizeof out, "/tmp/dawbridge-callcli-%d.out", (int)getpid());
  snprintf(cmd, sizeof cmd,
           "timeout 60 %s/dawbridge --daw mock --dialect reaper --json call create_midi_clip "
           "'{\"track_id\":\"t1\",\"start_time\":8,\"duration\":4,\"notes\":[\"C4\",\"Am7\"]}' >%s 2>&1",
           bindir(), out);
  int st = system(cmd);
  size_t n = 0;
  char *text = db_test_slurp(out, &n);
  assert_non_null(text);
  unlink(out);
  if (!WIFEXITED(st) || WEXITSTATUS(st)) fprintf(stderr, "%s", text);
  assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  assert_non_null(strstr(text, "\"status\": \"confirmed\""));
  assert_non_null(strstr(text, "\"notes\": 5")); /* C4 + the four notes of Am7 */
  free(text);
  char err[4096];
  int rc = run(err, sizeof err,
               "--daw mock --dialect reaper call create_midi_clip "
               "'{\"track_id\":\"t1\",\"start_time\":8,\"duration\":4,\"notes\":[\"H9x\"]}'");
  assert_int_equal(rc, 4);
  assert_non_null(strstr(err, "'H9x'"));
  (void)state;
}

static void test_call_cli_exit_codes_follow_outcomes(void **state) {
  char err[4096];
  /* confirmed -> 0 */
  int rc = run(err, sizeof err, "--daw mock --dialect reaper call set_track '{\"track_id\":\"t1\",\"mute\":true}'");
  if (rc) fprintf(stderr, "%s", err);
  assert_int_equal(rc, 0);
  /* REAPER's save action sends no feedback: uncertain -> 3 */
  rc = run(err, sizeof err, "--daw mock --dialect reaper call save_project '{}'");
  assert_int_equal(rc, 3);
  (void)state;
}

/* 20% loss both ways: every call ends 0, 2 or 3, never 4 ("unknown track" from an incomplete mirror). */
static void test_call_cli_loss_never_unknown_track(void **state) {
  for (int d = 0; d < 2; d++) {
    const char *dialect = d ? "ardour" : "reaper";
    int port = db_test_free_udp_port(), fport = db_test_free_udp_port();
    pid_t m = start_mock(dialect, port, fport, 12, 0.20, 9 + (unsigned)d);
    int counts[256] = {0};
    char err[4096];
    for (int i = 0; i < 25; i++) {
      int rc = run(err, sizeof err,
                   "--daw %s --port %d --listen-port %d --no-companion --timeout-ms 150 call set_track "
                   "'{\"track_id\":\"t%d\",\"volume_db\":-%d}'",
                   dialect, port, d ? 0 : fport, i % 12 + 1, i % 20);
      if (rc < 0 || rc > 255) rc = 255;
      counts[rc]++;
      if (rc == 4 || rc == 7) fprintf(stderr, "%s call %d: exit %d: %s", dialect, i, rc, err);
      assert_true(rc == 0 || rc == 2 || rc == 3);
    }
    fprintf(stderr, "%s at 20%% loss, 25 CLI calls: exit 0: %d, 2: %d, 3: %d\n", dialect, counts[0], counts[2],
            counts[3]);
    stop_mock(m);
  }
  (void)state;
}

static void test_call_cli_nothing_listening_is_exit_2(void **state) {
  char err[4096];
  int port = db_test_free_udp_port();
  int rc = run(err, sizeof err,
               "--daw ardour --port %d --no-companion --timeout-ms 5000 call set_track "
               "'{\"track_id\":\"t1\",\"mute\":true}'",
               port);
  assert_int_equal(rc, 2);
  if (!strstr(err, "nothing is listening")) fprintf(stderr, "%s", err);
  assert_non_null(strstr(err, "nothing is listening"));
  (void)state;
}

/* A DAW at another address (issue 13): the mock DAW on 127.0.0.2, us on 127.0.0.1. --listen chooses where its
 * feedback arrives: the REAPER mock sends feedback to 127.0.0.1:FPORT (its configured device), so --listen
 * 127.0.0.1 hears it (exit 0) and --listen 127.0.0.3 does not (exit 2, "not answering"): the option is honoured.
 * The Ardour mock answers the sender, wherever we listen. A loopback DAW gets no warning. */
static void test_call_cli_listen_address(void **state) {
  char err[4096];
  const char *set = "call set_track '{\"track_id\":\"t1\",\"mute\":true}'";
  int port = db_test_free_udp_port(), fport = db_test_free_udp_port();
  pid_t m = start_mock_at("reaper", "127.0.0.2", port, fport);
  int rc = run(err, sizeof err,
               "--daw reaper --host 127.0.0.2 --port %d --listen 127.0.0.1 --listen-port %d "
               "--no-companion %s",
               port, fport, set);
  if (rc) fprintf(stderr, "%s", err);
  assert_int_equal(rc, 0);
  assert_null(strstr(err, "warning"));
  rc = run(err, sizeof err,
           "--daw reaper --host 127.0.0.2 --port %d --listen 127.0.0.3 --listen-port %d "
           "--no-companion --timeout-ms 200 --retries 1 %s",
           port, fport, set);
  assert_int_equal(rc, 2);
  stop_mock(m);
  port = db_test_free_udp_port();
  m = start_mock_at("ardour", "127.0.0.2", port, 0);
  for (int i = 0; i < 3; i++) {
    const char *listen = i == 0 ? "" : i == 1 ? "--listen 127.0.0.1" : "--listen 127.0.0.3";
    rc = run(err, sizeof err, "--daw ardour --host 127.0.0.2 --port %d %s --no-companion %s", port, listen, set);
    if (rc) fprintf(stderr, "ardour %s: %s", listen, err);
    assert_int_equal(rc, 0);
  }
  /* not an IPv4 address: a clear error, exit 5 (link configuration), nothing sent */
  rc = run(err, sizeof err, "--daw ardour --host 127.0.0.2 --port %d --listen nowhere --no-companion %s", port, set);
  assert_int_equal(rc, 5);
  assert_non_null(strstr(err, "nowhere"));
  stop_mock(m);
  (void)state;
}

/* Remote-style: the DAW at this machine's own non-loopback address (as a DAW on the LAN would be). Without --listen
 * dawbridge listens on every interface, says so once (OSC has no authentication) and hears the DAW; with --listen it
 * says nothing. Needs a non-loopback IPv4 address on this machine (skip policy otherwise). */
static void test_call_cli_remote_daw_listens_everywhere_with_warning(void **state) {
  char addr[INET_ADDRSTRLEN] = "", err[4096];
  struct ifaddrs *ifs = NULL;
  if (getifaddrs(&ifs) == 0) {
    for (struct ifaddrs *i = ifs; i && !addr[0]; i = i->ifa_next)
      if (i->ifa_addr && i->ifa_addr->sa_family == AF_INET && !(i->ifa_flags & IFF_LOOPBACK) && (i->ifa_flags & IFF_UP))
        inet_ntop(AF_INET, &((struct sockaddr_in *)i->ifa_addr)->sin_addr, addr, sizeof addr);
    freeifaddrs(ifs);
  }
  if (!addr[0]) skip(); /* no network interface but loopback here */
  const char *set = "call set_track '{\"track_id\":\"t1\",\"mute\":true}'";
  int port = db_test_free_udp_port();
  pid_t m = start_mock_at("ardour", addr, port, 0);
  int rc = run(err, sizeof err, "--daw ardour --host %s --port %d --no-companion %s", addr, port, set);
  if (rc) fprintf(stderr, "%s", err);
  assert_int_equal(rc, 0);
  assert_non_null(strstr(err, "warning: the DAW at"));
  assert_non_null(strstr(err, "0.0.0.0"));
  assert_non_null(strstr(err, "--listen"));
  rc = run(err, sizeof err, "--daw ardour --host %s --port %d --listen %s --no-companion %s", addr, port, addr, set);
  if (rc) fprintf(stderr, "%s", err);
  assert_int_equal(rc, 0);
  assert_null(strstr(err, "warning"));
  stop_mock(m);
  (void)state;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_call_cli_exit_codes_follow_outcomes),
      cmocka_unit_test(test_call_cli_accepts_plan_notation),
      cmocka_unit_test(test_call_cli_loss_never_unknown_track),
      cmocka_unit_test(test_call_cli_nothing_listening_is_exit_2),
      cmocka_unit_test(test_call_cli_listen_address),
      cmocka_unit_test(test_call_cli_remote_daw_listens_everywhere_with_warning),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
