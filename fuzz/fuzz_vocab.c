/* Fuzz target: the vocabulary's argument validator (vocab/vocab.c) — what a model, an MCP client or a plan hands
 * to vocab_check. The input is "tool\nJSON": the JSON (any value) is checked against that tool's schema and against
 * every tool's. Invariants: no crash/sanitizer report; the result is 0, VOCAB_EARGS or VOCAB_EUNKNOWN; a refusal
 * has a message that starts with the tool's name (EARGS) or says "unknown tool" (EUNKNOWN); a known name is
 * looked up to its own row; vocab_check_all reports as many problems (each with a message) as its result says,
 * none exactly when vocab_check accepts; vocab_suggest names a real tool or none. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vocab.h"

static void count_problem(void *data, const char *arg, const char *message) {
  (void)arg;
  if (!message || !*message) abort();
  (*(int *)data)++;
}

static void check(const vocab_t *v, const char *tool, const json_t *args) {
  char err[512] = "";
  int rc = vocab_check_name(v, tool, args, err, sizeof err);
  int t = vocab_lookup(tool);
  /* vocab_check_all: every problem once, through the callback; none exactly when vocab_check accepts */
  int seen = 0, n = t >= 0 ? vocab_check_all(v, (enum vocab_tool)t, args, count_problem, &seen) : 0;
  if (n < 0 || n != seen || (t >= 0 && (n == 0) != (rc == 0))) abort();
  const char *sug = vocab_suggest(tool);
  if (sug && vocab_lookup(sug) < 0) abort();
  if (t >= 0 && strcmp(vocab_name((enum vocab_tool)t), tool)) abort();
  if (rc == 0) {
    if (t < 0 || !json_is_object(args)) abort();
  } else if (rc == VOCAB_EARGS) {
    if (t < 0 || strncmp(err, tool, strlen(tool)) || err[strlen(tool)] != ':') abort();
  } else if (rc == VOCAB_EUNKNOWN) {
    if (t >= 0 || !strstr(err, "unknown tool")) abort();
  } else {
    abort();
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static vocab_t *v;
  if (!v) {
    char err[512];
    if (vocab_load(NULL, &v, err, sizeof err)) {
      fprintf(stderr, "fuzz_vocab: %s\n", err);
      abort();
    }
  }
  const uint8_t *nl = memchr(data, '\n', size);
  size_t tl = nl ? (size_t)(nl - data) : 0;
  char tool[128];
  if (tl >= sizeof tool) tl = sizeof tool - 1;
  memcpy(tool, data, tl);
  tool[tl] = 0;
  if (strlen(tool) != tl) return 0; /* a NUL in the name: not a name anyone can send */
  const char *js = nl ? (const char *)nl + 1 : (const char *)data;
  size_t jl = nl ? size - tl - 1 : size;
  json_error_t je;
  json_t *args = json_loadb(js, jl, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &je);
  if (!args) return 0;
  check(v, tool, args);
  for (int t = 0; t < VOCAB__COUNT; t++) check(v, vocab_name((enum vocab_tool)t), args);
  json_decref(args);
  return 0;
}
