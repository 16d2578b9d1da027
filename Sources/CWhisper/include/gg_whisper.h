#ifndef GG_WHISPER_H
#define GG_WHISPER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/// whisper.cpp loaded at run time with dlopen: a model (weights) shared by many decoding states.
typedef struct gg_whisper gg_whisper;
/// One decoding state of a gg_whisper model; use from one thread at a time.
typedef struct gg_whisper_state gg_whisper_state;

/// True when gg was compiled against whisper.h, so the engine can be loaded at run time.
bool gg_whisper_compiled(void);

/// The whisper.cpp version of the headers gg was compiled with ("" when compiled without them).
const char *gg_whisper_header_version(void);

/// Opens `library` without loading a model: 0 when it is the whisper.cpp version of the headers, with
/// the version it reports in `version` and the file the dynamic linker opened in `path`; otherwise -1
/// with the reason in `error` (a library of another version is refused: whisper_full_params changes
/// layout between versions). `exact_beam` tells whether it is scripts/setup-whisper's build, whose beam
/// search extends each beam by its most likely tokens; whisper.cpp as released draws them at random.
int gg_whisper_probe(const char *library, char *version, size_t version_size, char *path, size_t path_size,
                     bool *exact_beam, char *error, size_t error_size);

/// Loads `library` (a libwhisper.so path or soname), checks its version as gg_whisper_probe does, and
/// loads the ggml model at `model`. NULL on failure, with a message in `error`.
gg_whisper *gg_whisper_open(const char *library, const char *model, char *error, size_t error_size);
void gg_whisper_close(gg_whisper *whisper);
/// Whether the loaded model knows languages other than English.
bool gg_whisper_multilingual(const gg_whisper *whisper);

gg_whisper_state *gg_whisper_state_new(gg_whisper *whisper);
void gg_whisper_state_free(gg_whisper *whisper, gg_whisper_state *state);

/// Transcribes 16 kHz mono samples; `language` "auto" detects it (from the first 30 s) and sets
/// `*language_probability` to the detected language's probability (-1 when the language was given). `beam`
/// above 1 decodes with beam search of that width (whisper.cpp's temperature fallback applies either way), 1
/// greedily. A run that takes more than `step_budget` decoding steps (a step is one token of one beam, over
/// every fallback; 0 for no limit) is stopped there, keeps the segments it finished, returns 0 and sets
/// `*budget_exhausted`. `cancelled`, polled during computation, aborts the run when it becomes non-zero.
/// Returns 0 on success. With
/// `stop_early`, whisper stops before it would encode another window for the audio after its last segment
/// (when that segment ends at least 1 s in) and sets `*stopped_at` to that end in seconds, so the caller
/// can decode the rest together with the audio that follows; otherwise `*stopped_at` is -1.
int gg_whisper_run(gg_whisper *whisper, gg_whisper_state *state, const float *samples, int count,
                   int threads, const char *language, int beam, long step_budget, bool stop_early, double *stopped_at,
                   float *language_probability, bool *budget_exhausted, const volatile int32_t *cancelled);
int gg_whisper_segment_count(gg_whisper *whisper, gg_whisper_state *state);
/// Segment bounds in seconds from the start of the samples.
double gg_whisper_segment_start(gg_whisper *whisper, gg_whisper_state *state, int segment);
double gg_whisper_segment_end(gg_whisper *whisper, gg_whisper_state *state, int segment);
const char *gg_whisper_segment_text(gg_whisper *whisper, gg_whisper_state *state, int segment);
float gg_whisper_segment_no_speech(gg_whisper *whisper, gg_whisper_state *state, int segment);
/// Language of the last run ("en", ...).
const char *gg_whisper_language(gg_whisper *whisper, gg_whisper_state *state);

#endif
