/* test_midifile.c: SMF export parsed back by an independent reader (tests/support/smf_reader.c) and, when
 * python3 is available, by a stdlib-only parser run with `python3 -c`. */
#define _XOPEN_SOURCE 700 /* nftw */
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "midifile.h"
#include "smf_reader.h"
#include "db_test_json.h"

static int rm_cb(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
  (void)sb;
  (void)flag;
  (void)ftw;
  return remove(path);
}

static const char *SNAPSHOT =
    "{'format':'dawbridge.session/1','project':'Demo','tempo':90.0,'time_signature':[3,4],"
    "'markers':[{'id':'m2','name':'Chorus','position':8.0},{'id':'m1','name':'Intro','position':0.0}],"
    "'tracks':["
    " {'id':'t1','name':'Piano','type':'midi','instrument':'ReaSynth','clips':["
    "   {'id':'c1','start':0.0,'length':4.0,'notes':[{'n':60,'s':0.0,'d':1.0,'v':100},{'n':64,'s':0.0,'d':1.0,'v':90},"
    "     {'n':67,'s':1.5,'d':0.5,'v':80}]},"
    "   {'id':'c2','start':4.0,'length':4.0,'notes':[{'n':72,'s':0.0,'d':0.25,'v':127},{'n':60,'s':3.5,'d':1.0,'v':50},"
    "     {'n':61,'s':4.0,'d':1.0,'v':100}]}]},"
    " {'id':'t2','name':'Vocals','type':'audio','clips':[{'id':'c3','start':0.0,'length':8.0}]},"
    " {'id':'t3','name':'Beat','type':'midi','instrument':'MT-PowerDrumKit','clips':["
    "   "
    "{'id':'c4','start':0.0,'length':4.0,'notes':[{'n':36,'s':0.0,'d':0.25,'v':120},{'n':42,'s':0.0,'d':0.25,'v':70},"
    "     {'n':36,'s':1.0,'d':0.25,'v':121}]}]},"
    " {'id':'t4','name':'Bass','type':'midi','instrument':null,'clips':["
    "   {'id':'c5','start':0.0,'length':8.0,'notes':[{'n':40,'s':0.0,'d':2.0,'v':100},{'n':40,'s':1.0,'d':2.0,'v':90},"
    "     {'n':45,'s':2.0,'d':1.0,'v':80},{'n':47,'s':3.0,'d':0.5,'v':81},{'n':50,'s':4.0,'d':1.0,'v':60},"
    "     {'n':50,'s':4.0,'d':2.0,'v':70}]}]}"
    "]}";

/* track index, channel, note, on, off, velocity; sorted by (track, on, note) */
static const int EXPECTED_NOTES[][6] = {
    {1, 0, 60, 0, 960, 100},    {1, 0, 64, 0, 960, 90},    {1, 0, 67, 1440, 1920, 80}, {1, 0, 72, 3840, 4080, 127},
    {1, 0, 60, 7200, 7680, 50}, {2, 9, 36, 0, 240, 120},   {2, 9, 42, 0, 240, 70},     {2, 9, 36, 960, 1200, 121},
    {3, 1, 40, 0, 960, 100},    {3, 1, 40, 960, 2880, 90}, {3, 1, 45, 1920, 2880, 80}, {3, 1, 47, 2880, 3360, 81},
    {3, 1, 50, 3840, 5760, 70},
};
#define N_EXPECTED (sizeof EXPECTED_NOTES / sizeof EXPECTED_NOTES[0])

struct tmpd {
  char dir[64];
  char path[128];
};

static void tmp_setup(struct tmpd *t) {
  strcpy(t->dir, "/tmp/dbmidi-test-XXXXXX");
  assert_non_null(mkdtemp(t->dir));
  snprintf(t->path, sizeof t->path, "%s/out.mid", t->dir);
}

/* The demo snapshot (SNAPSHOT) written to a fresh t->path. */
static void write_snapshot(struct tmpd *t) {
  tmp_setup(t);
  json_t *snap = J(SNAPSHOT);
  char err[512] = "";
  if (midifile_write(snap, t->path, err, sizeof err) != MIDIFILE_OK) fail_msg("midifile_write: %s", err);
  json_decref(snap);
}

static void tmp_teardown(struct tmpd *t) { nftw(t->dir, rm_cb, 8, FTW_DEPTH | FTW_PHYS); }

static int cmp_note6(const void *a, const void *b) {
  const int *x = a, *y = b;
  for (int i = 0; i < 6; i++) {
    int k = i == 0 ? 0 : i == 1 ? 3 : i == 2 ? 2 : i == 3 ? 1 : i; /* track, on, note, channel, ... */
    if (x[k] != y[k]) return x[k] < y[k] ? -1 : 1;
  }
  return 0;
}

static void test_midifile_notes_ticks_velocities_exact(void **state) {
  (void)state;
  struct tmpd t;
  char err[512] = "";
  write_snapshot(&t);

  smf_t smf;
  if (smf_read(t.path, &smf, err, sizeof err) != 0) fail_msg("reader: %s", err);
  assert_int_equal(smf.format, 1);
  assert_int_equal(smf.division, 960);
  assert_int_equal(smf.ntracks, 4); /* tempo map + Piano + Beat + Bass (the audio track has no notes) */
  assert_string_equal(smf.tracks[0].name, "Demo");
  assert_string_equal(smf.tracks[1].name, "Piano");
  assert_string_equal(smf.tracks[2].name, "Beat");
  assert_string_equal(smf.tracks[3].name, "Bass");

  /* tempo track */
  int seen_tempo = 0, seen_ts = 0, markers = 0;
  for (size_t i = 0; i < smf.tracks[0].count; i++) {
    smf_event_t *e = &smf.tracks[0].events[i];
    assert_int_equal(e->status, 0xff); /* only meta events */
    if (e->meta == 0x51) {
      assert_int_equal(e->tick, 0);
      assert_int_equal(e->len, 3);
      uint32_t us = ((uint32_t)e->data[0] << 16) | ((uint32_t)e->data[1] << 8) | e->data[2];
      assert_int_equal(us, 666667); /* 90 bpm */
      seen_tempo++;
    } else if (e->meta == 0x58) {
      assert_int_equal(e->tick, 0);
      assert_int_equal(e->len, 4);
      assert_int_equal(e->data[0], 3);
      assert_int_equal(e->data[1], 2); /* 2^2 = quarter */
      seen_ts++;
    } else if (e->meta == 0x06) {
      const char *name = markers == 0 ? "Intro" : "Chorus";
      assert_int_equal(e->tick, markers == 0 ? 0 : 7680);
      assert_int_equal(e->len, strlen(name));
      assert_memory_equal(e->data, name, e->len);
      markers++;
    }
  }
  assert_int_equal(seen_tempo, 1);
  assert_int_equal(seen_ts, 1);
  assert_int_equal(markers, 2);
  assert_int_equal(smf.tracks[0].events[smf.tracks[0].count - 1].meta, 0x2f);

  /* pair note-ons with note-offs; check ordering rules */
  int got[64][6];
  size_t ngot = 0;
  for (int ti = 1; ti < smf.ntracks; ti++) {
    smf_track_t *tr = &smf.tracks[ti];
    int open_on[16][128], open_vel[16][128];
    memset(open_on, -1, sizeof open_on);
    for (size_t i = 0; i < tr->count; i++) {
      smf_event_t *e = &tr->events[i];
      if (e->status == 0xff) continue;
      int hi = e->status & 0xf0, ch = e->status & 0x0f;
      assert_true(hi == 0x80 || hi == 0x90);
      if (i > 0 && tr->events[i - 1].tick == e->tick && (tr->events[i - 1].status & 0xf0) == 0x90)
        assert_int_not_equal(hi, 0x80); /* never an off right after an on at the same tick */
      if (hi == 0x90) {
        assert_true(e->d2 > 0);
        assert_int_equal(open_on[ch][e->d1], -1); /* no overlapping same-pitch notes */
        open_on[ch][e->d1] = (int)e->tick;
        open_vel[ch][e->d1] = e->d2;
      } else {
        assert_int_not_equal(open_on[ch][e->d1], -1);
        assert_true(ngot < 64);
        int *g = got[ngot++];
        g[0] = ti, g[1] = ch, g[2] = e->d1, g[3] = open_on[ch][e->d1], g[4] = (int)e->tick, g[5] = open_vel[ch][e->d1];
        open_on[ch][e->d1] = -1;
      }
    }
    for (int c = 0; c < 16; c++)
      for (int n = 0; n < 128; n++) assert_int_equal(open_on[c][n], -1); /* every note ends */
    assert_int_equal(tr->events[tr->count - 1].meta, 0x2f);
  }
  qsort(got, ngot, sizeof got[0], cmp_note6);
  int expected[N_EXPECTED][6];
  memcpy(expected, EXPECTED_NOTES, sizeof expected);
  qsort(expected, N_EXPECTED, sizeof expected[0], cmp_note6);
  assert_int_equal(ngot, N_EXPECTED);
  for (size_t i = 0; i < N_EXPECTED; i++)
    for (int k = 0; k < 6; k++)
      if (got[i][k] != expected[i][k])
        fail_msg("note %zu field %d: got %d expected %d (track %d note %d)", i, k, got[i][k], expected[i][k], got[i][0],
                 got[i][2]);

  /* at tick 2880 on Bass: offs (40, 45) strictly before the on (47) */
  smf_track_t *bass = &smf.tracks[3];
  int order[8], no = 0;
  for (size_t i = 0; i < bass->count && no < 8; i++)
    if (bass->events[i].tick == 2880 && bass->events[i].status != 0xff)
      order[no++] = (bass->events[i].status & 0xf0) == 0x80 ? -bass->events[i].d1 : bass->events[i].d1;
  assert_int_equal(no, 3);
  assert_int_equal(order[0], -40);
  assert_int_equal(order[1], -45);
  assert_int_equal(order[2], 47);
  smf_free(&smf);

  /* atomic write left no temporary file behind */
  DIR *d = opendir(t.dir);
  struct dirent *de;
  int files = 0;
  while ((de = readdir(d)) != NULL)
    if (de->d_name[0] != '.' || strlen(de->d_name) > 2) files++;
  closedir(d);
  assert_int_equal(files, 1);
  tmp_teardown(&t);
}

/* ---- python3 cross-check ---- */

static const char *PY = "import sys,struct\n"
                        "d=open(sys.argv[1],'rb').read()\n"
                        "assert d[:4]==b'MThd'\n"
                        "ln,fmt,nt,div=struct.unpack('>IHHH',d[4:14])\n"
                        "p=8+ln\n"
                        "out=['format %d tracks %d division %d'%(fmt,nt,div)]\n"
                        "notes=[]\n"
                        "def vlq(q):\n"
                        "    v=0\n"
                        "    while True:\n"
                        "        b=d[q]; q+=1; v=(v<<7)|(b&127)\n"
                        "        if b<128: return v,q\n"
                        "for ti in range(nt):\n"
                        "    assert d[p:p+4]==b'MTrk'\n"
                        "    tl=struct.unpack('>I',d[p+4:p+8])[0]; q=p+8; end=q+tl; p=end\n"
                        "    t=0; st=0; on={}\n"
                        "    while q<end:\n"
                        "        v,q=vlq(q); t+=v; b=d[q]\n"
                        "        if b==255:\n"
                        "            typ=d[q+1]; l,q=vlq(q+2); data=d[q:q+l]; q+=l\n"
                        "            if typ==81: out.append('tempo %d %d'%(t,int.from_bytes(data,'big')))\n"
                        "            elif typ==88: out.append('timesig %d %d/%d'%(t,data[0],2**data[1]))\n"
                        "            elif typ==3: out.append('name %d %s'%(ti,data.decode()))\n"
                        "            continue\n"
                        "        if b&128: st=b; q+=1\n"
                        "        hi=st&240; ch=st&15\n"
                        "        if hi in (192,208): q+=1; continue\n"
                        "        n,vel=d[q],d[q+1]; q+=2\n"
                        "        if hi==144 and vel>0: on.setdefault((ch,n),[]).append((t,vel))\n"
                        "        elif hi==128 or hi==144:\n"
                        "            s,sv=on[(ch,n)].pop(0); notes.append((ti,s,n,ch,t,sv))\n"
                        "    assert p<=len(d)\n"
                        "assert p==len(d)\n"
                        "for ti,s,n,ch,t,sv in sorted(notes): out.append('note %d %d %d %d %d %d'%(ti,ch,n,s,t,sv))\n"
                        "print('\\n'.join(out))\n";

static int have_python3(void) { return system("command -v python3 >/dev/null 2>&1") == 0; }

static char *run_python(const char *file) {
  int fds[2];
  if (pipe(fds) != 0) return NULL;
  pid_t pid = fork();
  if (pid == 0) {
    dup2(fds[1], 1);
    close(fds[0]);
    close(fds[1]);
    execlp("python3", "python3", "-c", PY, file, (char *)NULL);
    _exit(127);
  }
  close(fds[1]);
  size_t cap = 4096, len = 0;
  char *buf = malloc(cap);
  ssize_t r;
  while ((r = read(fds[0], buf + len, cap - len - 1)) > 0) {
    len += (size_t)r;
    if (cap - len < 2) buf = realloc(buf, cap *= 2);
  }
  buf[len] = '\0';
  close(fds[0]);
  int status;
  waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    free(buf);
    return NULL;
  }
  return buf;
}

static void test_midifile_python_stdlib_cross_check(void **state) {
  (void)state;
  if (!have_python3()) {
    print_message("python3 not available: cross-check skipped\n");
    skip();
  }
  struct tmpd t;
  write_snapshot(&t);
  char *out = run_python(t.path);
  if (!out) fail_msg("python3 could not parse %s", t.path);
  char expect[4096];
  size_t o = 0;
  o += (size_t)snprintf(expect + o, sizeof expect - o,
                        "format 1 tracks 4 division 960\nname 0 Demo\ntimesig 0 3/4\ntempo 0 666667\n"
                        "name 1 Piano\nname 2 Beat\nname 3 Bass\n");
  int sorted[N_EXPECTED][6];
  memcpy(sorted, EXPECTED_NOTES, sizeof sorted);
  qsort(sorted, N_EXPECTED, sizeof sorted[0], cmp_note6);
  for (size_t i = 0; i < N_EXPECTED; i++)
    o += (size_t)snprintf(expect + o, sizeof expect - o, "note %d %d %d %d %d %d\n", sorted[i][0], sorted[i][1],
                          sorted[i][2], sorted[i][3], sorted[i][4], sorted[i][5]);
  if (strcmp(out, expect) != 0) fail_msg("python3 view differs\n--- got\n%s--- expected\n%s", out, expect);
  free(out);
  tmp_teardown(&t);
}

static void test_midifile_empty_session_and_iteration_input(void **state) {
  (void)state;
  struct tmpd t;
  tmp_setup(&t);
  json_t *it = J("{'format':'dawbridge.iteration/1','number':3,'state':{'project':'X','tempo':120.0,'tracks':[]}}");
  char err[512];
  assert_int_equal(midifile_write(it, t.path, err, sizeof err), MIDIFILE_OK);
  json_decref(it);
  smf_t smf;
  if (smf_read(t.path, &smf, err, sizeof err) != 0) fail_msg("reader: %s", err);
  assert_int_equal(smf.ntracks, 1);
  assert_string_equal(smf.tracks[0].name, "X");
  int tempo_ok = 0, ts_ok = 0;
  for (size_t i = 0; i < smf.tracks[0].count; i++) {
    smf_event_t *e = &smf.tracks[0].events[i];
    if (e->meta == 0x51) tempo_ok = e->data[0] == 0x07 && e->data[1] == 0xa1 && e->data[2] == 0x20; /* 500000 */
    if (e->meta == 0x58) ts_ok = e->data[0] == 4 && e->data[1] == 2;                                /* default 4/4 */
  }
  assert_true(tempo_ok);
  assert_true(ts_ok);
  smf_free(&smf);

  json_t *arr = json_array();
  assert_int_equal(midifile_write(arr, t.path, err, sizeof err), MIDIFILE_EINVAL);
  json_decref(arr);
  tmp_teardown(&t);
}

static void test_midifile_unwritable_path_clear_error(void **state) {
  (void)state;
  json_t *snap = J(SNAPSHOT);
  char err[512] = "";
  assert_int_equal(midifile_write(snap, "/nonexistent-dir-dawbridge/x.mid", err, sizeof err), MIDIFILE_EIO);
  assert_non_null(strstr(err, "/nonexistent-dir-dawbridge/"));
  assert_non_null(strstr(err, strerror(ENOENT)));
  json_decref(snap);
}

static void test_midifile_drum_detection(void **state) {
  (void)state;
  assert_true(midifile_is_drum_track("Drums", NULL));
  assert_true(midifile_is_drum_track("Kick", "ReaSynth"));
  assert_true(midifile_is_drum_track("Beat", "MT-PowerDrumKit"));
  assert_true(midifile_is_drum_track("HI-HAT", NULL));
  assert_true(midifile_is_drum_track("Percussion", NULL));
  assert_false(midifile_is_drum_track("Piano", "ReaSynth"));
  assert_false(midifile_is_drum_track("Bass", NULL));
  assert_false(midifile_is_drum_track(NULL, NULL));
}

/* Random, heavily overlapping notes: the file always parses, every note-on has its note-off, same-pitch
 * notes never overlap, and each distinct (pitch, start tick) of the input appears once with the highest
 * velocity given for it. */
static void test_midifile_random_overlaps_invariants(void **state) {
  (void)state;
  struct tmpd t;
  tmp_setup(&t);
  unsigned seed = 777;
  for (int round = 0; round < 60; round++) {
    json_t *notes = json_array();
    int nn = 1 + rand_r(&seed) % 40;
    /* expected: [pitch][start tick in 1/4 beats] → max velocity */
    static int maxv[4][64];
    memset(maxv, 0, sizeof maxv);
    for (int i = 0; i < nn; i++) {
      int pitch = 60 + rand_r(&seed) % 4, q = rand_r(&seed) % 40, v = 1 + rand_r(&seed) % 127;
      double d = 0.25 * (1 + rand_r(&seed) % 12);
      json_array_append_new(notes, json_pack("{s:i, s:f, s:f, s:i}", "n", pitch, "s", q * 0.25, "d", d, "v", v));
      if (q * 0.25 < 8.0 && v > maxv[pitch - 60][q]) maxv[pitch - 60][q] = v;
    }
    json_t *snap =
        json_pack("{s:s, s:f, s:[{s:s, s:s, s:[{s:s, s:f, s:f, s:o}]}]}", "project", "R", "tempo", 133.0, "tracks",
                  "id", "t1", "name", "Lead", "clips", "id", "c1", "start", 2.0, "length", 8.0, "notes", notes);
    char err[512];
    assert_int_equal(midifile_write(snap, t.path, err, sizeof err), MIDIFILE_OK);
    json_decref(snap);
    smf_t smf;
    if (smf_read(t.path, &smf, err, sizeof err) != 0) fail_msg("round %d: %s", round, err);
    int any = 0;
    for (int k = 0; k < 4; k++)
      for (int q = 0; q < 64; q++) any |= maxv[k][q] > 0;
    assert_int_equal(smf.ntracks, any ? 2 : 1); /* a track whose notes all lie past the clip end is left out */
    if (!any) {
      smf_free(&smf);
      continue;
    }
    smf_track_t *tr = &smf.tracks[1];
    int open_at[4];
    int seen[4][64];
    memset(seen, 0, sizeof seen);
    for (int k = 0; k < 4; k++) open_at[k] = -1;
    for (size_t i = 0; i < tr->count; i++) {
      smf_event_t *e = &tr->events[i];
      if (e->status == 0xff) continue;
      int k = e->d1 - 60;
      assert_true(k >= 0 && k < 4);
      if ((e->status & 0xf0) == 0x90) {
        assert_int_equal(open_at[k], -1);
        open_at[k] = (int)e->tick;
        int tick = (int)e->tick - 2 * 960; /* clip starts at beat 2 */
        assert_int_equal(tick % 240, 0);
        int q = tick / 240;
        assert_true(q >= 0 && q < 64);
        assert_int_equal(seen[k][q], 0);
        seen[k][q] = 1;
        assert_int_equal(e->d2, maxv[k][q]);
      } else {
        assert_true(open_at[k] >= 0);
        assert_true((int)e->tick > open_at[k]);
        assert_true(e->tick <= 10 * 960); /* cut at the clip end */
        open_at[k] = -1;
      }
    }
    for (int k = 0; k < 4; k++) {
      assert_int_equal(open_at[k], -1);
      for (int q = 0; q < 64; q++) assert_int_equal(seen[k][q], maxv[k][q] > 0);
    }
    smf_free(&smf);
  }
  tmp_teardown(&t);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_midifile_notes_ticks_velocities_exact),
      cmocka_unit_test(test_midifile_python_stdlib_cross_check),
      cmocka_unit_test(test_midifile_empty_session_and_iteration_input),
      cmocka_unit_test(test_midifile_unwritable_path_clear_error),
      cmocka_unit_test(test_midifile_drum_detection),
      cmocka_unit_test(test_midifile_random_overlaps_invariants),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
