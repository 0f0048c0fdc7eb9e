/* midifile.h: Standard MIDI File export of a session snapshot (docs/session-json.md).
 *
 * Output: SMF format 1, division 960 ticks per quarter note (= per beat of the snapshot).
 *   Track 0 (tempo map): track name = project name, time signature, tempo (one of each at tick 0, as the
 *            snapshot has a single tempo), one marker meta event per session marker, end of track.
 *   Then one track per DAW track that has at least one note, in session order: track name = DAW track
 *            name, then the notes, end of track.
 * Channels: drum tracks (name or instrument contains drum, kick, snare, hihat/hi-hat, perc, cymbal,
 *            clap, 808, 909, ...) use channel 10 (index 9); the other tracks get channels 1, 2, ... (index
 *            0..15, skipping 9, wrapping after 16).
 * Notes: tick = round((clip.start + note.s) * 960), end = round((clip.start + note.s + note.d) * 960), at
 *            least one tick long; notes starting at or after the clip's end (length > 0) are dropped and
 *            notes running past it are cut at the clip end, as the DAW plays them. Velocities are written as
 *            stored (clamped to 1..127); note-offs are note-off events (0x80) with velocity 64. At the same
 *            tick note-offs come before note-ons. Overlapping notes of the same pitch on one channel are
 *            made non-overlapping: the earlier note ends where the later one starts (two notes starting on
 *            the same tick become one, with the longer length and the higher velocity).
 * Running status is not used.
 * The file is written atomically: temporary file in the same directory, fsync, rename, fsync directory.
 */
#ifndef DAWBRIDGE_MIDIFILE_H
#define DAWBRIDGE_MIDIFILE_H

#include <stddef.h>
#include <jansson.h>

#define MIDIFILE_PPQ 960

enum {
  MIDIFILE_OK = 0,
  MIDIFILE_EINVAL = -1, /* the snapshot is not an object */
  MIDIFILE_EIO = -2,    /* cannot write the file (message names the path and strerror) */
  MIDIFILE_ENOMEM = -3,
};

const char *midifile_strerror(int code);

/* Nonzero when a track with this name / instrument (either may be NULL) is treated as drums. */
int midifile_is_drum_track(const char *name, const char *instrument);

/* Writes `snapshot` (borrowed; a session snapshot or a whole iteration, whose "state" is then used) to
 * `path`. Returns MIDIFILE_OK or a negative code with a message in err. */
int midifile_write(const json_t *snapshot, const char *path, char *err, size_t errlen);

/* Same, into memory: *data_out receives a malloc'ed buffer (caller frees) of *len_out bytes. */
int midifile_encode(const json_t *snapshot, unsigned char **data_out, size_t *len_out, char *err, size_t errlen);

#endif
