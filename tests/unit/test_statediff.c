/* test_statediff.c: data-driven. For each pair (from, to): the diff text, the inverse calls that turn `to`
 * back into `from`, what is unsupported, and (through a small state model that executes the calls) that
 * applying the calls to `to` reproduces `from` up to what is unsupported. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "statediff.h"
#include "db_test_json.h"

/* Equality where 4 == 4.0 (numbers compared by value). */
static int same(const json_t *a, const json_t *b) {
  if (json_is_number(a) && json_is_number(b)) return fabs(json_number_value(a) - json_number_value(b)) < 1e-9;
  if (json_typeof(a) != json_typeof(b)) return 0;
  if (json_is_array(a)) {
    if (json_array_size(a) != json_array_size(b)) return 0;
    for (size_t i = 0; i < json_array_size(a); i++)
      if (!same(json_array_get(a, i), json_array_get(b, i))) return 0;
    return 1;
  }
  if (json_is_object(a)) {
    if (json_object_size(a) != json_object_size(b)) return 0;
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)a, k, v) {
      json_t *w = json_object_get(b, k);
      if (!w || !same(v, w)) return 0;
    }
    return 1;
  }
  return json_equal((json_t *)a, (json_t *)b);
}

/* ---------------------------------------------------------------- a tiny DAW model */

struct model {
  json_t *state;
  json_t *created; /* call index → created track id (or null) */
  int next_id;
};

static json_t *find_track(json_t *state, const char *id, size_t *idx) {
  json_t *tracks = json_object_get(state, "tracks");
  for (size_t i = 0; i < json_array_size(tracks); i++) {
    json_t *t = json_array_get(tracks, i);
    if (strcmp(json_string_value(json_object_get(t, "id")), id) == 0) {
      if (idx) *idx = i;
      return t;
    }
  }
  fail_msg("model: no track %s", id);
  return NULL;
}

static json_t *find_clip(json_t *state, const char *id, json_t **clips_out, size_t *idx) {
  json_t *tracks = json_object_get(state, "tracks");
  for (size_t i = 0; i < json_array_size(tracks); i++) {
    json_t *clips = json_object_get(json_array_get(tracks, i), "clips");
    for (size_t j = 0; j < json_array_size(clips); j++) {
      json_t *c = json_array_get(clips, j);
      if (strcmp(json_string_value(json_object_get(c, "id")), id) == 0) {
        *clips_out = clips;
        *idx = j;
        return c;
      }
    }
  }
  fail_msg("model: no clip %s", id);
  return NULL;
}

static const char *resolve_track(struct model *m, json_t *tid, size_t call_index) {
  if (json_is_string(tid)) return json_string_value(tid);
  json_t *k = json_object_get(json_object_get(tid, "$ref"), "call");
  assert_true(json_is_integer(k));
  assert_true((size_t)json_integer_value(k) < call_index); /* refers to an earlier call */
  json_t *id = json_array_get(m->created, (size_t)json_integer_value(k));
  assert_true(json_is_string(id));
  return json_string_value(id);
}

static json_t *ensure_array(json_t *o, const char *k) {
  json_t *a = json_object_get(o, k);
  if (!json_is_array(a)) {
    a = json_array();
    json_object_set_new(o, k, a);
  }
  return a;
}

static int note_same(json_t *a, json_t *b) {
  return same(json_object_get(a, "n"), json_object_get(b, "n")) &&
         same(json_object_get(a, "s"), json_object_get(b, "s")) &&
         same(json_object_get(a, "d"), json_object_get(b, "d")) &&
         same(json_object_get(a, "v"), json_object_get(b, "v"));
}

static void model_apply(struct model *m, json_t *calls) {
  json_t *st = m->state;
  char id[32];
  for (size_t i = 0; i < json_array_size(calls); i++) {
    json_t *c = json_array_get(calls, i);
    const char *tool = json_string_value(json_object_get(c, "tool"));
    json_t *a = json_object_get(c, "args");
    assert_non_null(tool);
    assert_true(json_is_object(a));
    json_t *created = json_null();
    if (strcmp(tool, "create_track") == 0) {
      snprintf(id, sizeof id, "t%d", m->next_id++);
      json_t *t = json_pack("{s:s, s:O, s:O, s:f, s:f, s:b, s:b, s:b, s:[], s:[]}", "id", id, "name",
                            json_object_get(a, "name"), "type", json_object_get(a, "type"), "volume_db", 0.0, "pan",
                            0.0, "mute", 0, "solo", 0, "rec_arm", 0, "fx", "clips");
      json_t *instr = json_object_get(a, "instrument");
      json_object_set(t, "instrument", instr ? instr : json_null());
      json_array_append_new(ensure_array(st, "tracks"), t);
      created = json_string(id);
    } else if (strcmp(tool, "delete_track") == 0) {
      size_t idx = (size_t)-1; /* not found: json_array_remove refuses it */
      find_track(st, resolve_track(m, json_object_get(a, "track_id"), i), &idx);
      json_array_remove(json_object_get(st, "tracks"), idx);
    } else if (strcmp(tool, "set_track") == 0) {
      json_t *t = find_track(st, resolve_track(m, json_object_get(a, "track_id"), i), NULL);
      const char *k;
      json_t *v;
      json_object_foreach(a, k, v) {
        if (strcmp(k, "track_id") != 0) json_object_set(t, k, v);
      }
    } else if (strcmp(tool, "create_midi_clip") == 0) {
      json_t *t = find_track(st, resolve_track(m, json_object_get(a, "track_id"), i), NULL);
      snprintf(id, sizeof id, "c%d", m->next_id++);
      json_array_append_new(ensure_array(t, "clips"),
                            json_pack("{s:s, s:O, s:O, s:O}", "id", id, "start", json_object_get(a, "start_time"),
                                      "length", json_object_get(a, "duration"), "notes", json_object_get(a, "notes")));
    } else if (strcmp(tool, "delete_clip") == 0) {
      json_t *clips;
      size_t idx;
      find_clip(st, json_string_value(json_object_get(a, "clip_id")), &clips, &idx);
      json_array_remove(clips, idx);
    } else if (strcmp(tool, "edit_clip") == 0) {
      json_t *clips;
      size_t idx;
      json_t *clip = find_clip(st, json_string_value(json_object_get(a, "clip_id")), &clips, &idx);
      json_t *notes = ensure_array(clip, "notes");
      json_t *rm = json_object_get(a, "remove_notes");
      for (size_t k = 0; k < json_array_size(rm); k++) {
        size_t q;
        for (q = 0; q < json_array_size(notes); q++)
          if (note_same(json_array_get(notes, q), json_array_get(rm, k))) break;
        assert_true(q < json_array_size(notes)); /* removing a note that is there */
        json_array_remove(notes, q);
      }
      json_array_extend(notes, json_object_get(a, "add_notes"));
    } else if (strcmp(tool, "add_effect") == 0) {
      json_t *t = find_track(st, resolve_track(m, json_object_get(a, "track_id"), i), NULL);
      json_t *fx = ensure_array(t, "fx");
      json_array_append_new(fx, json_pack("{s:I, s:O, s:b, s:[]}", "index", (json_int_t)json_array_size(fx) + 1, "name",
                                          json_object_get(a, "effect_name"), "enabled", 1, "params"));
    } else if (strcmp(tool, "remove_effect") == 0) {
      json_t *t = find_track(st, resolve_track(m, json_object_get(a, "track_id"), i), NULL);
      json_t *fx = ensure_array(t, "fx");
      json_int_t k = json_integer_value(json_object_get(a, "effect_index"));
      assert_true(k >= 1 && (size_t)k <= json_array_size(fx));
      json_array_remove(fx, (size_t)k - 1);
    } else if (strcmp(tool, "set_effect_param") == 0) {
      json_t *t = find_track(st, resolve_track(m, json_object_get(a, "track_id"), i), NULL);
      json_t *fx = ensure_array(t, "fx");
      json_int_t k = json_integer_value(json_object_get(a, "effect_index"));
      assert_true(k >= 1 && (size_t)k <= json_array_size(fx));
      json_t *params = ensure_array(json_array_get(fx, (size_t)k - 1), "params");
      json_int_t pi = json_integer_value(json_object_get(a, "param_index"));
      size_t q;
      for (q = 0; q < json_array_size(params); q++)
        if (json_integer_value(json_object_get(json_array_get(params, q), "index")) == pi) break;
      if (q == json_array_size(params)) json_array_append_new(params, json_pack("{s:I, s:s}", "index", pi, "name", ""));
      json_object_set(json_array_get(params, q), "value", json_object_get(a, "value"));
    } else if (strcmp(tool, "set_effect_enabled") == 0) {
      json_t *t = find_track(st, resolve_track(m, json_object_get(a, "track_id"), i), NULL);
      json_t *fx = ensure_array(t, "fx");
      json_int_t k = json_integer_value(json_object_get(a, "effect_index"));
      assert_true(k >= 1 && (size_t)k <= json_array_size(fx));
      json_object_set(json_array_get(fx, (size_t)k - 1), "enabled", json_object_get(a, "enabled"));
    } else if (strcmp(tool, "set_tempo") == 0) {
      json_object_set(st, "tempo", json_object_get(a, "bpm"));
    } else if (strcmp(tool, "set_loop") == 0) {
      json_object_set(st, "loop", a);
    } else if (strcmp(tool, "add_marker") == 0) {
      snprintf(id, sizeof id, "m%d", m->next_id++);
      json_array_append_new(ensure_array(st, "markers"),
                            json_pack("{s:s, s:O, s:O}", "id", id, "name", json_object_get(a, "name"), "position",
                                      json_object_get(a, "position")));
    } else {
      fail_msg("model: unknown tool %s", tool);
    }
    json_array_append_new(m->created, created);
  }
}

/* ---------------------------------------------------------------- cases */

struct dcase {
  const char *name;
  const char *from, *to;
  const char *text;     /* statediff_to_text(diff(from, to)) */
  const char *calls;    /* statediff_inverse_calls(to, from); NULL: not checked exactly */
  int unsupported;      /* number of unsupported items */
  const char *residual; /* text of diff(model(to + calls), from); NULL means "no changes\n" */
};

#define PIANO_NOTES "[{'n':60,'s':0.0,'d':1.0,'v':100},{'n':64,'s':1.0,'d':1.0,'v':90}]"
#define PIANO                                                                                                          \
  "{'id':'t1','name':'Piano','type':'midi','volume_db':-6.0,'pan':0.0,'mute':false,'instrument':'ReaSynth',"           \
  "'fx':[],'clips':[{'id':'c1','start':0.0,'length':4.0,'notes':" PIANO_NOTES "}]}"
#define BASS                                                                                                           \
  "{'id':'t3','name':'Bass','type':'midi','volume_db':-3.0,'instrument':'ReaSynth',"                                   \
  "'fx':[{'index':1,'name':'ReaVerbate','enabled':true,'params':[{'index':1,'name':'Wet','value':0.3}]}],"             \
  "'clips':[{'id':'c2','start':4.0,'length':4.0,'notes':[{'n':36,'s':0.0,'d':0.5,'v':110},{'n':43,'s':1.0,'d':0.5,'v'" \
  ":100}]}]}"
#define DRUMS                                                                                                          \
  "{'id':'t2','name':'Drums','type':'midi','instrument':'ReaSamplOmatic5000','fx':[],"                                 \
  "'clips':[{'id':'c5','start':0.0,'length':4.0,'notes':[{'n':36,'s':0.0,'d':0.25,'v':120}]}]}"

static const struct dcase CASES[] = {
    {"identical", "{'tempo':120.0,'tracks':[" PIANO "]}", "{'tempo':120.0,'tracks':[" PIANO "]}", "no changes\n", "[]",
     0, NULL},
    {"mix values", "{'tracks':[" PIANO "]}",
     "{'tracks':[{'id':'t1','name':'Piano','type':'midi','volume_db':-3.0,'pan':0.5,'mute':true,'instrument':'ReaSynth'"
     ","
     "'clips':[{'id':'c1','start':0.0,'length':4.0,'notes':" PIANO_NOTES "}]}]}",
     "~ t1 volume_db -6.0 → -3.0\n~ t1 pan 0.0 → 0.5\n~ t1 mute false → true\n",
     "[{'tool':'set_track','args':{'track_id':'t1','volume_db':-6.0,'pan':0.0,'mute':false}}]", 0, NULL},
    {"track added", "{'tracks':[" PIANO "]}", "{'tracks':[" PIANO "," BASS "]}",
     "+ track t3 \"Bass\" (midi)\n+ fx \"ReaVerbate\" on t3\n+ clip c2 on t3 at beat 4 (2 notes)\n",
     "[{'tool':'delete_track','args':{'track_id':'t3'}}]", 0, NULL},
    {"track removed", "{'tracks':[" PIANO "," BASS "]}", "{'tracks':[" PIANO "]}",
     "- track t3 \"Bass\" (midi)\n- fx \"ReaVerbate\" on t3\n- clip c2 on t3 at beat 4 (2 notes)\n",
     "[{'tool':'create_track','args':{'name':'Bass','type':'midi','instrument':'ReaSynth'}},"
     "{'tool':'set_track','args':{'track_id':{'$ref':{'call':0}},'volume_db':-3.0}},"
     "{'tool':'add_effect','args':{'track_id':{'$ref':{'call':0}},'effect_name':'ReaVerbate'}},"
     "{'tool':'set_effect_param','args':{'track_id':{'$ref':{'call':0}},'effect_index':1,'param_index':1,'value':0.3}},"
     "{'tool':'create_midi_clip','args':{'track_id':{'$ref':{'call':0}},'start_time':4.0,'duration':4.0,"
     "'notes':[{'n':36,'s':0.0,'d':0.5,'v':110},{'n':43,'s':1.0,'d':0.5,'v':100}]}}]",
     0, NULL},
    {"notes changed", "{'tracks':[" PIANO "]}",
     "{'tracks':[{'id':'t1','name':'Piano','type':'midi','volume_db':-6.0,'instrument':'ReaSynth','clips':[{'id':'c1','"
     "start':0.0,"
     "'length':4.0,'notes':[{'n':60,'s':0.0,'d':1.0,'v':100},{'n':67,'s':2.0,'d':0.5,'v':100},{'n':72,'s':3.0,'d':0.5,'"
     "v':110}]}]}]}",
     "~ clip c1 on t1 notes: +2 -1\n    - note 64 (E4) at beat 1 len 1 vel 90\n    + note 67 (G4) at beat 2 len 0.5 "
     "vel 100\n"
     "    + note 72 (C5) at beat 3 len 0.5 vel 110\n",
     "[{'tool':'edit_clip','args':{'clip_id':'c1','add_notes':[{'n':64,'s':1.0,'d':1.0,'v':90}],"
     "'remove_notes':[{'n':67,'s':2.0,'d':0.5,'v':100},{'n':72,'s':3.0,'d':0.5,'v':110}]}}]",
     0, NULL},
    {"clip moved and clip added", "{'tracks':[" PIANO "]}",
     "{'tracks':[{'id':'t1','name':'Piano','type':'midi','volume_db':-6.0,'instrument':'ReaSynth','clips':["
     "{'id':'c1','start':8.0,'length':4.0,'notes':" PIANO_NOTES "},"
     "{'id':'c2','start':16.0,'length':2.0,'notes':[{'n':48,'s':0.0,'d':2.0,'v':80}]}]}]}",
     "~ clip c1 on t1 start 0 → 8\n+ clip c2 on t1 at beat 16 (1 note)\n",
     "[{'tool':'delete_clip','args':{'clip_id':'c1'}},{'tool':'delete_clip','args':{'clip_id':'c2'}},"
     "{'tool':'create_midi_clip','args':{'track_id':'t1','start_time':0.0,'duration':4.0,'notes':" PIANO_NOTES "}}]",
     0, NULL},
    {"effect inserted and param changed",
     "{'tracks':[{'id':'t2','name':'Keys','fx':[{'name':'ReaEQ','params':[{'index':1,'name':'Gain','value':0.5}]},"
     "{'name':'ReaComp','params':[]}]}]}",
     "{'tracks':[{'id':'t2','name':'Keys','fx':[{'name':'ReaEQ','params':[{'index':1,'name':'Gain','value':0.7}]},"
     "{'name':'ReaVerbate','params':[]},{'name':'ReaComp','params':[]}]}]}",
     "~ fx \"ReaEQ\" on t2 param \"Gain\" 0.5 → 0.7\n+ fx \"ReaVerbate\" on t2\n",
     "[{'tool':'remove_effect','args':{'track_id':'t2','effect_index':2}},"
     "{'tool':'set_effect_param','args':{'track_id':'t2','effect_index':1,'param_index':1,'value':0.5}}]",
     0, NULL},
    {"effects reordered",
     "{'tracks':[{'id':'t2','name':'Keys','fx':[{'name':'A','params':[{'index':1,'value':0.25}]},{'name':'B','params':["
     "]}]}]}",
     "{'tracks':[{'id':'t2','name':'Keys','fx':[{'name':'B','params':[]},{'name':'A','params':[{'index':1,'value':0.25}"
     "]}]}]}",
     "- fx \"A\" on t2\n+ fx \"A\" on t2\n",
     "[{'tool':'remove_effect','args':{'track_id':'t2','effect_index':1}},"
     "{'tool':'add_effect','args':{'track_id':'t2','effect_name':'B'}}]",
     0, NULL},
    {"tempo loop marker added",
     "{'tempo':120.0,'loop':{'enabled':false,'start':0.0,'end':0.0},'markers':[{'id':'m1','name':'Verse','position':0."
     "0}]}",
     "{'tempo':96.0,'loop':{'enabled':true,'start':4.0,'end':8.0},'markers':[{'id':'m1','name':'Verse','position':0.0},"
     "{'id':'m2','name':'Chorus','position':16.0}]}",
     "~ tempo 120 → 96\n~ loop off 0–0 → on 4–8\n+ marker \"Chorus\" at beat 16\n",
     "[{'tool':'set_tempo','args':{'bpm':120.0}},{'tool':'set_loop','args':{'start':0.0,'end':0.0,'enabled':false}}]",
     1, "- marker \"Chorus\" at beat 16\n"},
    {"marker removed",
     "{'markers':[{'id':'m1','name':'Verse','position':0.0},{'id':'m2','name':'Chorus','position':16.0}]}",
     "{'markers':[{'id':'m1','name':'Verse','position':0.0}]}", "- marker \"Chorus\" at beat 16\n",
     "[{'tool':'add_marker','args':{'position':16.0,'name':'Chorus'}}]", 0, NULL},
    {"track matched by host_id then renamed", "{'tracks':[{'id':'t1','host_id':'{AB}','name':'Piano'}]}",
     "{'tracks':[{'id':'t9','host_id':'{AB}','name':'Keys'}]}", "~ t9 name \"Piano\" → \"Keys\"\n",
     "[{'tool':'set_track','args':{'track_id':'t9','name':'Piano'}}]", 0, NULL},
    {"track matched by name", "{'tracks':[{'id':'t1','name':'Piano','solo':false}]}",
     "{'tracks':[{'id':'t4','name':'Piano','solo':true}]}", "~ t4 solo false → true\n",
     "[{'tool':'set_track','args':{'track_id':'t4','solo':false}}]", 0, NULL},
    {"what no tool can reverse",
     "{'time_signature':[4,4],'tracks':[{'id':'t1','name':'Piano','instrument':'ReaSynth','fx':[{'name':'ReaEQ','"
     "enabled':true}]}]}",
     "{'time_signature':[3,4],'tracks':[{'id':'t1','name':'Piano','instrument':'Vital','fx':[{'name':'ReaEQ','enabled':"
     "false}]}]}",
     "~ time signature 4/4 → 3/4\n~ t1 instrument \"ReaSynth\" → \"Vital\"\n~ fx \"ReaEQ\" on t1 enabled true → "
     "false\n",
     "[{'tool':'set_effect_enabled','args':{'track_id':'t1','effect_index':1,'enabled':true}}]", 2,
     "~ time signature 3/4 → 4/4\n~ t1 instrument \"Vital\" → \"ReaSynth\"\n"},
    {"audio track clips",
     "{'tracks':[{'id':'t1','name':'Vox','type':'audio','clips':[{'id':'c1','start':0.0,'length':8.0}]}]}",
     "{'tracks':[{'id':'t1','name':'Vox','type':'audio','clips':[]}]}", "- clip c1 on t1 at beat 0 (0 notes)\n", "[]",
     1, "+ clip c1 on t1 at beat 0 (0 notes)\n"},
    {"many changes at once", "{'tempo':120.0,'tracks':[" PIANO "," DRUMS "]}",
     "{'tempo':128.0,'tracks':[{'id':'t1','name':'Piano','type':'midi','volume_db':-10.0,'instrument':'ReaSynth',"
     "'fx':[{'name':'ReaComp','params':[{'index':2,'name':'Ratio','value':0.8}]}],"
     "'clips':[{'id':'c1','start':0.0,'length':4.0,'notes':[{'n':60,'s':0.0,'d':1.0,'v':127}]},"
     "{'id':'c7','start':4.0,'length':4.0,'notes':[{'n':62,'s':0.0,'d':4.0,'v':64}]}]}," BASS "]}",
     "~ tempo 120 → 128\n- track t2 \"Drums\" (midi)\n- clip c5 on t2 at beat 0 (1 note)\n~ t1 volume_db -6.0 → -10.0\n"
     "+ fx \"ReaComp\" on t1\n~ clip c1 on t1 notes: +1 -2\n"
     "    - note 60 (C4) at beat 0 len 1 vel 100\n    - note 64 (E4) at beat 1 len 1 vel 90\n"
     "    + note 60 (C4) at beat 0 len 1 vel 127\n+ clip c7 on t1 at beat 4 (1 note)\n"
     "+ track t3 \"Bass\" (midi)\n+ fx \"ReaVerbate\" on t3\n+ clip c2 on t3 at beat 4 (2 notes)\n",
     NULL, 0, NULL},
};

/* The diff text (statediff_to_text) from `from` to `to`; malloc'd, the caller frees it. */
static char *diff_text(const json_t *from, const json_t *to) {
  json_t *diff = statediff_compute(from, to);
  assert_non_null(diff);
  char *text = statediff_to_text(diff);
  assert_non_null(text);
  json_decref(diff);
  return text;
}

/* How many changes lie between a and b (0: the same state). */
static size_t nchanges(const json_t *a, const json_t *b) {
  json_t *diff = statediff_compute(a, b);
  assert_non_null(diff);
  size_t n = json_array_size(json_object_get(diff, "changes"));
  json_decref(diff);
  return n;
}

/* Applies calls to a copy of start in the model (tracks it creates numbered from first_id) and returns the diff
 * text of what is left between the result and target, malloc'd: "no changes\n" when the calls reproduce target.
 * Then the diff back, from target to the result, must be empty as well. */
static char *residual_after(const json_t *start, json_t *calls, const json_t *target, int first_id) {
  struct model m = {json_deep_copy(start), json_array(), first_id};
  model_apply(&m, calls);
  char *rest = diff_text(m.state, target);
  if (strcmp(rest, "no changes\n") == 0) assert_int_equal(nchanges(target, m.state), 0);
  json_decref(m.state);
  json_decref(m.created);
  return rest;
}

static void check_case(const struct dcase *c) {
  json_t *from = J(c->from), *to = J(c->to);
  char *text = diff_text(from, to);
  if (strcmp(text, c->text) != 0)
    fail_msg("case \"%s\": diff text\n--- got\n%s--- expected\n%s", c->name, text, c->text);
  free(text);

  json_t *unsup = NULL;
  json_t *calls = statediff_inverse_calls(to, from, &unsup);
  assert_non_null(calls);
  assert_non_null(unsup);
  if (c->calls) {
    json_t *exp = J(c->calls);
    if (!same(calls, exp)) {
      char *got = json_dumps(calls, JSON_COMPACT);
      fail_msg("case \"%s\": inverse calls\n got      %s\n expected %s", c->name, got, c->calls);
    }
    json_decref(exp);
  }
  if ((int)json_array_size(unsup) != c->unsupported) {
    char *u = json_dumps(unsup, JSON_COMPACT);
    fail_msg("case \"%s\": %d unsupported expected, got %s", c->name, c->unsupported, u);
  }
  for (size_t i = 0; i < json_array_size(unsup); i++) {
    assert_true(json_is_string(json_object_get(json_array_get(unsup, i), "what")));
    assert_true(json_is_string(json_object_get(json_array_get(unsup, i), "reason")));
  }

  char *rtext = residual_after(to, calls, from, 100);
  const char *want = c->residual ? c->residual : "no changes\n";
  if (strcmp(rtext, want) != 0)
    fail_msg("case \"%s\": after applying the inverse calls\n--- got\n%s--- expected\n%s", c->name, rtext, want);
  free(rtext);
  json_decref(calls);
  json_decref(unsup);
  json_decref(from);
  json_decref(to);
}

static void test_statediff_cases(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof CASES / sizeof CASES[0]; i++) check_case(&CASES[i]);
}

/* Every case also backwards: diff(to, from), and undoing that must reproduce `to`. */
static void test_statediff_cases_reversed_reproduce(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof CASES / sizeof CASES[0]; i++) {
    if (CASES[i].unsupported || CASES[i].residual) continue;
    json_t *from = J(CASES[i].to), *to = J(CASES[i].from);
    json_t *unsup = NULL;
    json_t *calls = statediff_inverse_calls(to, from, &unsup);
    char *rtext = residual_after(to, calls, from, 100);
    if (json_array_size(unsup) == 0 && strcmp(rtext, "no changes\n") != 0)
      fail_msg("reversed case \"%s\": after applying the inverse calls\n%s", CASES[i].name, rtext);
    free(rtext);
    json_decref(calls);
    json_decref(unsup);
    json_decref(from);
    json_decref(to);
  }
}

static void test_statediff_accepts_iterations(void **state) {
  (void)state;
  json_t *a = J("{'format':'dawbridge.iteration/1','number':1,'state':{'tempo':100.0}}");
  json_t *b = J("{'format':'dawbridge.iteration/1','number':2,'state':{'tempo':110.0}}");
  char *t = diff_text(a, b);
  assert_string_equal(t, "~ tempo 100 → 110\n");
  free(t);
  json_t *calls = statediff_inverse_calls(b, a, NULL);
  json_t *exp = J("[{'tool':'set_tempo','args':{'bpm':100.0}}]");
  assert_true(same(calls, exp));
  json_decref(exp);
  json_decref(calls);
  json_decref(a);
  json_decref(b);
}

static void test_statediff_many_notes_text_is_bounded(void **state) {
  (void)state;
  json_t *from = J("{'tracks':[{'id':'t1','name':'P','clips':[{'id':'c1','start':0.0,'length':64.0,'notes':[]}]}]}");
  json_t *to = json_deep_copy(from);
  json_t *notes = db_test_json_clip_notes(to, 0, 0);
  for (int i = 0; i < 100; i++)
    json_array_append_new(notes, json_pack("{s:i, s:f, s:f, s:i}", "n", 60, "s", i * 0.5, "d", 0.5, "v", 100));
  char *t = diff_text(from, to);
  assert_non_null(strstr(t, "~ clip c1 on t1 notes: +100 -0\n"));
  assert_non_null(strstr(t, "… and 76 more\n"));
  free(t);
  json_decref(from);
  json_decref(to);
}

/* ---------------------------------------------------------------- randomized round trips */

static int rnd(unsigned *seed, int n) { return rand_r(seed) % n; }

static json_t *rand_notes(unsigned *seed) {
  json_t *notes = json_array();
  int n = rnd(seed, 5);
  for (int i = 0; i < n; i++)
    json_array_append_new(notes, json_pack("{s:i, s:f, s:f, s:i}", "n", 60 + rnd(seed, 4), "s", rnd(seed, 4) * 0.5, "d",
                                           0.25 + rnd(seed, 3) * 0.25, "v", 90 + rnd(seed, 3) * 10));
  return notes;
}

static json_t *rand_fx(unsigned *seed) {
  static const char *const names[] = {"ReaEQ", "ReaComp", "ReaVerbate", "ReaDelay"};
  json_t *fx = json_array();
  int n = rnd(seed, 4);
  for (int i = 0; i < n; i++)
    json_array_append_new(fx, json_pack("{s:i, s:s, s:b, s:[{s:i, s:s, s:f}, {s:i, s:s, s:f}]}", "index", i + 1, "name",
                                        names[rnd(seed, 4)], "enabled", 1, "params", "index", 1, "name", "P1", "value",
                                        rnd(seed, 4) * 0.25, "index", 2, "name", "P2", "value", rnd(seed, 4) * 0.25));
  return fx;
}

static json_t *rand_clip(unsigned *seed, int *next_id) {
  char id[16];
  snprintf(id, sizeof id, "c%d", (*next_id)++);
  return json_pack("{s:s, s:f, s:f, s:o}", "id", id, "start", rnd(seed, 3) * 4.0, "length", 4.0, "notes",
                   rand_notes(seed));
}

static json_t *rand_track(unsigned *seed, int *next_id) {
  static const char *const names[] = {"Keys", "Bass", "Lead", "Pad"};
  char id[16];
  snprintf(id, sizeof id, "t%d", (*next_id)++);
  json_t *clips = json_array();
  int n = rnd(seed, 3);
  for (int i = 0; i < n; i++) json_array_append_new(clips, rand_clip(seed, next_id));
  return json_pack("{s:s, s:s, s:s, s:f, s:f, s:b, s:b, s:s, s:o, s:o}", "id", id, "name", names[rnd(seed, 4)], "type",
                   "midi", "volume_db", -rnd(seed, 3) * 3.0, "pan", rnd(seed, 3) * 0.5 - 0.5, "mute", rnd(seed, 2),
                   "solo", rnd(seed, 2), "instrument", "ReaSynth", "fx", rand_fx(seed), "clips", clips);
}

static json_t *rand_state(unsigned *seed, int *next_id) {
  json_t *tracks = json_array();
  int n = rnd(seed, 4);
  for (int i = 0; i < n; i++) json_array_append_new(tracks, rand_track(seed, next_id));
  return json_pack("{s:f, s:{s:b, s:f, s:f}, s:[{s:s, s:s, s:f}], s:o}", "tempo", 100.0 + rnd(seed, 3) * 10, "loop",
                   "enabled", rnd(seed, 2), "start", 0.0, "end", rnd(seed, 2) * 8.0, "markers", "id", "m1", "name",
                   "Intro", "position", 0.0, "tracks", tracks);
}

/* A plausible later state: some tracks removed/added/changed, notes/clips/effects edited. */
static json_t *mutate(const json_t *from, unsigned *seed, int *next_id) {
  json_t *to = json_deep_copy(from);
  json_t *tracks = json_object_get(to, "tracks");
  if (rnd(seed, 3) == 0) json_object_set_new(to, "tempo", json_real(90.0 + rnd(seed, 5) * 10));
  if (rnd(seed, 4) == 0)
    json_object_set_new(to, "loop", json_pack("{s:b, s:f, s:f}", "enabled", 1, "start", 4.0, "end", 12.0));
  if (rnd(seed, 4) == 0) json_array_clear(json_object_get(to, "markers")); /* undo can add a marker back */
  for (size_t i = json_array_size(tracks); i-- > 0;)
    if (rnd(seed, 4) == 0) json_array_remove(tracks, i);
  for (size_t i = 0; i < json_array_size(tracks); i++) {
    json_t *t = json_array_get(tracks, i);
    if (rnd(seed, 3) == 0) json_object_set_new(t, "volume_db", json_real(-rnd(seed, 5) * 2.0));
    if (rnd(seed, 4) == 0) json_object_set_new(t, "mute", json_boolean(rnd(seed, 2)));
    if (rnd(seed, 5) == 0) json_object_set_new(t, "name", json_string("Renamed"));
    if (rnd(seed, 3) == 0) json_object_set_new(t, "fx", rand_fx(seed));
    json_t *clips = json_object_get(t, "clips");
    for (size_t k = json_array_size(clips); k-- > 0;) {
      json_t *c = json_array_get(clips, k);
      int r = rnd(seed, 6);
      if (r == 0)
        json_array_remove(clips, k);
      else if (r == 1)
        json_object_set_new(c, "notes", rand_notes(seed));
      else if (r == 2)
        json_object_set_new(c, "start", json_real(12.0 + rnd(seed, 2) * 4.0));
    }
    if (rnd(seed, 3) == 0) json_array_append_new(clips, rand_clip(seed, next_id));
  }
  int add = rnd(seed, 3);
  for (int i = 0; i < add; i++) json_array_append_new(tracks, rand_track(seed, next_id));
  return to;
}

static void test_statediff_random_states_undo_reproduces(void **state) {
  (void)state;
  /* DAWBRIDGE_FUZZ_ROUNDS / DAWBRIDGE_FUZZ_SEED widen the search by hand; the default is quick */
  const char *env_rounds = getenv("DAWBRIDGE_FUZZ_ROUNDS"), *env_seed = getenv("DAWBRIDGE_FUZZ_SEED");
  int rounds = env_rounds ? atoi(env_rounds) : 400;
  unsigned seed = env_seed ? (unsigned)strtoul(env_seed, NULL, 10) : 4242;
  int checked = 0, unsupported = 0;
  for (int round = 0; round < rounds; round++) {
    int next_id = 1;
    json_t *from = rand_state(&seed, &next_id);
    json_t *to = mutate(from, &seed, &next_id);
    for (int dir = 0; dir < 2; dir++) {
      json_t *cur = dir ? from : to, *target = dir ? to : from;
      json_t *u = NULL;
      json_t *calls = statediff_inverse_calls(cur, target, &u);
      if (json_array_size(u) > 0) {
        unsupported++;
      } else {
        /* the diff of the result against the target is empty both ways (residual_after checks the way back) */
        char *rtext = residual_after(cur, calls, target, 1000);
        if (strcmp(rtext, "no changes\n") != 0) {
          char *a = json_dumps(cur, JSON_COMPACT), *b = json_dumps(target, JSON_COMPACT),
               *c = json_dumps(calls, JSON_COMPACT);
          fail_msg("round %d dir %d: left over\n%s\ncurrent %s\ntarget %s\ncalls %s", round, dir, rtext, a, b, c);
        }
        free(rtext);
        checked++;
      }
      json_decref(calls);
      json_decref(u);
    }
    json_decref(from);
    json_decref(to);
  }
  print_message("random round trips: %d reproduced exactly, %d with unsupported parts\n", checked, unsupported);
  assert_true(checked > rounds * 3 / 4);
}

/* docs/session-json.md lists the instrument as fx[0] of the chain: re-creating the track inserts it with
 * create_track, so it is not added again; the other effects' parameters keep their chain positions. */
static void test_statediff_recreate_track_instrument_in_chain(void **state) {
  (void)state;
  json_t *cur = J("{'tracks':[" PIANO "]}");
  json_t *target =
      J("{'tracks':[" PIANO ",{'id':'t3','name':'Bass','type':'midi','instrument':'ReaSynth','fx':["
        "{'index':1,'name':'ReaSynth','enabled':true,'params':[{'index':1,'value':0.4}]},"
        "{'index':2,'name':'ReaVerbate','enabled':true,'params':[{'index':1,'value':0.3}]}],'clips':[]}]}");
  json_t *unsup = NULL;
  json_t *calls = statediff_inverse_calls(cur, target, &unsup);
  json_t *want = J("[{'tool':'create_track','args':{'name':'Bass','type':'midi','instrument':'ReaSynth'}},"
                   "{'tool':'add_effect','args':{'track_id':{'$ref':{'call':0}},'effect_name':'ReaVerbate'}},"
                   "{'tool':'set_effect_param','args':{'track_id':{'$ref':{'call':0}},'effect_index':1,'param_index':1,"
                   "'value':0.4}},"
                   "{'tool':'set_effect_param','args':{'track_id':{'$ref':{'call':0}},'effect_index':2,'param_index':1,"
                   "'value':0.3}}]");
  if (!json_equal(calls, want)) {
    char *g = json_dumps(calls, JSON_INDENT(1));
    fail_msg("got %s", g);
    free(g);
  }
  assert_int_equal(json_array_size(unsup), 0);
  json_decref(want);
  json_decref(calls);
  json_decref(unsup);
  json_decref(cur);
  json_decref(target);
}

/* ---------------------------------------------------------------- three-way merge (undo keeping later edits) */

#define T1                                                                                                             \
  "{'id':'t1','name':'Drums','type':'midi','volume_db':0,'fx':[{'index':1,'name':'ReaEQ','enabled':true,'params':[{'"  \
  "index':1,'name':'Gain','value':0.5}]}],'clips':[{'id':'c1','start':0,'length':4,'notes':[{'n':36,'s':0,'d':0.5,'v'" \
  ":100}]}]}"
#define T1_QUIET                                                                                                       \
  "{'id':'t1','name':'Drums','type':'midi','volume_db':-9,'fx':[{'index':1,'name':'ReaEQ','enabled':true,'params':[{'" \
  "index':1,'name':'Gain','value':0.5}]}],'clips':[{'id':'c1','start':0,'length':4,'notes':[{'n':36,'s':0,'d':0.5,'v'" \
  ":100}]}]}"
#define T1_KIT                                                                                                         \
  "{'id':'t1','name':'Kit','type':'midi','volume_db':0,'fx':[{'index':1,'name':'ReaEQ','enabled':true,'params':[{'"    \
  "index':1,'name':'Gain','value':0.5}]}],'clips':[{'id':'c1','start':0,'length':4,'notes':[{'n':36,'s':0,'d':0.5,'v'" \
  ":100}]}]}"
#define T1_MOVED                                                                                                       \
  "{'id':'t1','name':'Drums','type':'midi','volume_db':0,'fx':[{'index':1,'name':'ReaEQ','enabled':true,'params':[{'"  \
  "index':1,'name':'Gain','value':0.5}]}],'clips':[{'id':'c1','start':8,'length':4,'notes':[{'n':36,'s':0,'d':0.5,'v'" \
  ":100}]}]}"
#define T1_VERB                                                                                                        \
  "{'id':'t1','name':'Drums','type':'midi','volume_db':0,'fx':[{'index':1,'name':'ReaEQ','enabled':true,'params':[{'"  \
  "index':1,'name':'Gain','value':0.5}]},{'index':2,'name':'ReaVerbate','enabled':true,'params':[]}],'clips':[{'id':'" \
  "c1','start':0,'length':4,'notes':[{'n':36,'s':0,'d':0.5,'v':100}]}]}"
#define T1_GAIN                                                                                                        \
  "{'id':'t1','name':'Drums','type':'midi','volume_db':0,'fx':[{'index':1,'name':'ReaEQ','enabled':true,'params':[{'"  \
  "index':1,'name':'Gain','value':0.8}]}],'clips':[{'id':'c1','start':0,'length':4,'notes':[{'n':36,'s':0,'d':0.5,'v'" \
  ":100}]}]}"
#define T1_VERB_GAIN                                                                                                   \
  "{'id':'t1','name':'Drums','type':'midi','volume_db':0,'fx':[{'index':1,'name':'ReaEQ','enabled':true,'params':[{'"  \
  "index':1,'name':'Gain','value':0.8}]},{'index':2,'name':'ReaVerbate','enabled':true,'params':[]}],'clips':[{'id':'" \
  "c1','start':0,'length':4,'notes':[{'n':36,'s':0,'d':0.5,'v':100}]}]}"
#define T1_NOTES(extra)                                                                                                \
  "{'id':'t1','name':'Drums','type':'midi','volume_db':0,'fx':[{'index':1,'name':'ReaEQ','enabled':true,'params':[{'"  \
  "index':1,'name':'Gain','value':0.5}]}],'clips':[{'id':'c1','start':0,'length':4,'notes':[{'n':36,'s':0,'d':0.5,'v'" \
  ":100}" extra "]}]}"
#define T2(vol) "{'id':'t2','name':'Bass','type':'midi','volume_db':" vol "}"
#define T3 "{'id':'t3','name':'Kick','type':'midi','volume_db':0}"
#define T3_LOUD "{'id':'t3','name':'Kick','type':'midi','volume_db':4}"
#define T9 "{'id':'t9','name':'Guitar','type':'audio','volume_db':0}"
#define ST(tempo, ...) "{'tempo':" tempo ",'tracks':[" __VA_ARGS__ "]}"

struct merge_case {
  const char *name, *base, *result, *current;
  const char *expect; /* the merged state (without --force) */
  int conflicts;
  const char *where, *what;  /* of the first conflict */
  const char *expect_forced; /* with --force; NULL = same as expect */
};

static const struct merge_case merge_cases[] = {
    {"AI volume reverted, another track's volume kept", ST("120", T1 "," T2("-6")), ST("120", T1 "," T2("-3")),
     ST("120", T1_QUIET "," T2("-3")), ST("120", T1_QUIET "," T2("-6")), 0, NULL, NULL, NULL},
    {"same volume changed since: conflict", ST("120", T1 "," T2("-6")), ST("120", T1 "," T2("-3")),
     ST("120", T1 "," T2("-10")), ST("120", T1 "," T2("-10")), 1, "track \"Bass\"", "volume_db",
     ST("120", T1 "," T2("-6"))},
    {"changed back by hand: nothing to do, no conflict", ST("120", T2("-6")), ST("120", T2("-3")), ST("120", T2("-6")),
     ST("120", T2("-6")), 0, NULL, NULL, NULL},
    {"AI track removed, rename kept", ST("120", T1 "," T2("-6")), ST("120", T1 "," T2("-6") "," T3),
     ST("120", T1_KIT "," T2("-6") "," T3), ST("120", T1_KIT "," T2("-6")), 0, NULL, NULL, NULL},
    {"AI track edited since: conflict", ST("120", T2("-6")), ST("120", T2("-6") "," T3),
     ST("120", T2("-6") "," T3_LOUD), ST("120", T2("-6") "," T3_LOUD), 1, "track \"Kick\"", "changed since",
     ST("120", T2("-6"))},
    {"track deleted by the AI comes back", ST("120", T1 "," T2("-6")), ST("120", T2("-6")), ST("120", T2("-6")),
     ST("120", T1 "," T2("-6")), 0, NULL, NULL, NULL},
    {"track the AI changed, deleted since: conflict", ST("120", T1 "," T2("-6")), ST("120", T1 "," T2("-3")),
     ST("120", T1), ST("120", T1), 1, "track \"Bass\"", "removed since", ST("120", T1 "," T2("-6"))},
    {"musician's new track and moved clip kept, AI tempo reverted", ST("120", T1), ST("96", T1),
     ST("96", T1_MOVED "," T9), ST("120", T1_MOVED "," T9), 0, NULL, NULL, NULL},
    {"AI effect removed, the musician's parameter kept", ST("120", T1), ST("120", T1_VERB), ST("120", T1_VERB_GAIN),
     ST("120", T1_GAIN), 0, NULL, NULL, NULL},
    {"notes: the AI's go, the musician's stay", ST("120", T1),
     ST("120", T1_NOTES(",{'n':38,'s':1,'d':0.5,'v':90},{'n':42,'s':2,'d':0.25,'v':80}")),
     ST("120", T1_NOTES(",{'n':38,'s':1,'d':0.5,'v':90},{'n':42,'s':2,'d':0.25,'v':80},{'n':49,'s':3,'d':1,'v':70}")),
     ST("120", T1_NOTES(",{'n':49,'s':3,'d':1,'v':70}")), 0, NULL, NULL, NULL},
    {"a note the AI removed and the musician put back is not doubled",
     ST("120", T1_NOTES(",{'n':38,'s':1,'d':0.5,'v':90}")), ST("120", T1),
     ST("120", T1_NOTES(",{'n':38,'s':1,'d':0.5,'v':90}")), ST("120", T1_NOTES(",{'n':38,'s':1,'d':0.5,'v':90}")), 0,
     NULL, NULL, NULL},
    {"a note the AI removed comes back", ST("120", T1_NOTES(",{'n':38,'s':1,'d':0.5,'v':90}")), ST("120", T1),
     ST("120", T1_NOTES("")), ST("120", T1_NOTES(",{'n':38,'s':1,'d':0.5,'v':90}")), 0, NULL, NULL, NULL},
    {"read-back noise is no edit: reverted, no conflict", ST("120", T2("-6")), ST("120", T2("-3")),
     ST("120", T2("-3.0004")), ST("120", T2("-6")), 0, NULL, NULL, NULL},
    {"tempo changed by both: conflict", ST("120", T2("-6")), ST("96", T2("-6")), ST("100", T2("-6")),
     ST("100", T2("-6")), 1, "project", "tempo", ST("120", T2("-6"))},
};

static void check_merged(const char *name, const char *label, json_t *merged, const char *expect_s) {
  json_t *expect = J(expect_s);
  json_t *d = statediff_compute(merged, expect);
  if (json_array_size(json_object_get(d, "changes"))) {
    char *t = statediff_to_text(d);
    char *m = json_dumps(merged, JSON_COMPACT);
    fail_msg("%s (%s): merged state differs from the expected one:\n%smerged: %s", name, label, t, m);
  }
  json_decref(d);
  json_decref(expect);
}

static void test_statediff_merge3_cases(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof merge_cases / sizeof merge_cases[0]; i++) {
    const struct merge_case *c = &merge_cases[i];
    json_t *b = J(c->base), *r = J(c->result), *cur = J(c->current);
    for (int force = 0; force < 2; force++) {
      json_t *conf = NULL;
      json_t *m = statediff_merge3(b, r, cur, force, &conf);
      assert_non_null(m);
      if ((int)json_array_size(conf) != c->conflicts) {
        char *t = json_dumps(conf, JSON_COMPACT);
        fail_msg("%s: %zu conflicts, expected %d: %s", c->name, json_array_size(conf), c->conflicts, t);
      }
      if (c->conflicts) {
        json_t *c0 = json_array_get(conf, 0);
        assert_string_equal(json_string_value(json_object_get(c0, "where")), c->where);
        assert_string_equal(json_string_value(json_object_get(c0, "what")), c->what);
        assert_non_null(json_string_value(json_object_get(c0, "message")));
      }
      check_merged(c->name, force ? "forced" : "not forced", m,
                   force && c->expect_forced ? c->expect_forced : c->expect);
      json_decref(m);
      json_decref(conf);
    }
    /* nothing changed since the iteration: the merge is exactly the base */
    json_t *m = statediff_merge3(b, r, r, 0, NULL);
    if (nchanges(m, b)) fail_msg("%s: merge with nothing changed since is not the base", c->name);
    json_decref(m);
    json_decref(b), json_decref(r), json_decref(cur);
  }
}

/* Random states: with nothing changed since the iteration (now == after) the merge is exactly the state before it;
 * when everything was undone by hand (now == before) it is that state too (nothing doubled, nothing sent); an
 * iteration that changed nothing leaves the session as it is now. */
static void test_statediff_merge3_random_states(void **state) {
  (void)state;
  const char *env_rounds = getenv("DAWBRIDGE_FUZZ_ROUNDS"), *env_seed = getenv("DAWBRIDGE_FUZZ_SEED");
  int rounds = env_rounds ? atoi(env_rounds) : 300;
  unsigned seed = env_seed ? (unsigned)strtoul(env_seed, NULL, 10) : 777;
  for (int round = 0; round < rounds; round++) {
    int next_id = 1;
    json_t *b = rand_state(&seed, &next_id);
    json_t *r = mutate(b, &seed, &next_id);
    const json_t *nows[2] = {r, b};
    for (int k = 0; k < 2; k++) {
      json_t *conf = NULL;
      json_t *m = statediff_merge3(b, r, nows[k], 0, &conf);
      assert_non_null(m);
      json_t *d = statediff_compute(m, b);
      if (json_array_size(json_object_get(d, "changes")) || json_array_size(conf)) {
        char *t = statediff_to_text(d);
        char *c = json_dumps(conf, JSON_COMPACT);
        fail_msg("round %d (now = %s): merge is not the state before:\n%sconflicts: %s", round, k ? "before" : "after",
                 t, c);
      }
      json_decref(d);
      json_decref(conf);
      json_decref(m);
    }
    /* an iteration that changed nothing: the merge is the session now, whatever was edited since */
    json_t *conf = NULL;
    json_t *m = statediff_merge3(b, b, r, 0, &conf);
    if (nchanges(m, r) || json_array_size(conf))
      fail_msg("round %d: an empty iteration's merge is not the session now", round);
    json_decref(conf);
    json_decref(m);
    json_decref(b);
    json_decref(r);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_statediff_cases),
      cmocka_unit_test(test_statediff_merge3_cases),
      cmocka_unit_test(test_statediff_merge3_random_states),
      cmocka_unit_test(test_statediff_recreate_track_instrument_in_chain),
      cmocka_unit_test(test_statediff_cases_reversed_reproduce),
      cmocka_unit_test(test_statediff_accepts_iterations),
      cmocka_unit_test(test_statediff_many_notes_text_is_bounded),
      cmocka_unit_test(test_statediff_random_states_undo_reproduces),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
