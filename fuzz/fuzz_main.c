/* Without libFuzzer: replay every corpus file given on the command line (or directory), then run a fixed number
 * of deterministic mutations of them (byte flips, truncations, splices). Exit 0 unless a target aborted. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct input {
  uint8_t *d;
  size_t n;
};

static struct input *inputs;
static size_t ninputs;

static void add_file(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return;
  uint8_t *buf = malloc(70000);
  size_t n = fread(buf, 1, 70000, f);
  fclose(f);
  inputs = realloc(inputs, (ninputs + 1) * sizeof *inputs);
  inputs[ninputs++] = (struct input){buf, n};
}

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint32_t rnd(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return (uint32_t)rng;
}

int main(int argc, char **argv) {
  long rounds = getenv("FUZZ_ROUNDS") ? atol(getenv("FUZZ_ROUNDS")) : 20000;
  for (int i = 1; i < argc; i++) {
    struct stat st;
    if (stat(argv[i], &st) == 0 && S_ISDIR(st.st_mode)) {
      DIR *d = opendir(argv[i]);
      struct dirent *e;
      while (d && (e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char p[2048];
        snprintf(p, sizeof p, "%s/%s", argv[i], e->d_name);
        add_file(p);
      }
      if (d) closedir(d);
    } else {
      add_file(argv[i]);
    }
  }
  for (size_t i = 0; i < ninputs; i++) LLVMFuzzerTestOneInput(inputs[i].d, inputs[i].n);
  uint8_t buf[4096];
  for (long r = 0; r < rounds && ninputs; r++) {
    struct input *a = &inputs[rnd() % ninputs], *b = &inputs[rnd() % ninputs];
    size_t n = a->n < sizeof buf ? a->n : sizeof buf;
    memcpy(buf, a->d, n);
    switch (rnd() % 5) {
    case 0:
      if (n) buf[rnd() % n] ^= (uint8_t)(1u << (rnd() % 8));
      break;
    case 1:
      if (n) n = rnd() % n;
      break;
    case 2:
      if (n) buf[rnd() % n] = (uint8_t)rnd();
      break;
    case 3: {
      size_t k = n ? rnd() % n : 0;
      size_t m = b->n < sizeof buf - k ? b->n : sizeof buf - k;
      memcpy(buf + k, b->d, m);
      n = k + m;
      break;
    }
    default:
      for (int q = 0; q < 4 && n; q++) buf[rnd() % n] = (uint8_t)rnd();
      break;
    }
    LLVMFuzzerTestOneInput(buf, n);
  }
  printf("fuzz replay: %zu corpus inputs, %ld mutations, no crash\n", ninputs, rounds);
  for (size_t i = 0; i < ninputs; i++) free(inputs[i].d);
  free(inputs);
  return 0;
}
