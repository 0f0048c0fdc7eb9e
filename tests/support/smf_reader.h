/* smf_reader.h: minimal, independent Standard MIDI File reader for tests (does not share code with
 * bridge/midifile.c). Understands format 0/1, running status, meta and sysex events. */
#ifndef DAWBRIDGE_SMF_READER_H
#define DAWBRIDGE_SMF_READER_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
  uint32_t tick;       /* absolute */
  uint8_t status;      /* 0x80..0xEF channel message with channel, 0xFF meta, 0xF0/0xF7 sysex */
  uint8_t meta;        /* meta type when status == 0xFF */
  uint8_t d1, d2;      /* data bytes of channel messages */
  const uint8_t *data; /* meta/sysex payload (points into the file buffer) */
  uint32_t len;
} smf_event_t;

typedef struct {
  smf_event_t *events;
  size_t count;
  char name[128]; /* first track name meta (0x03), "" if none */
} smf_track_t;

typedef struct {
  int format, ntracks, division;
  smf_track_t *tracks;
  uint8_t *raw; /* file contents (events point into it) */
  size_t raw_len;
} smf_t;

/* Reads and parses a file. Returns 0 on success; negative with a message in err on failure
 * (bad header, chunk overrunning the file, missing end of track, bad VLQ, ...). */
int smf_read(const char *path, smf_t *out, char *err, size_t errlen);
void smf_free(smf_t *smf);

#endif
