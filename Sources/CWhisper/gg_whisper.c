#define _GNU_SOURCE
#include "gg_whisper.h"

#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if !defined(GG_WITHOUT_WHISPER) && !(__has_include(<whisper.h>) && __has_include(<gg_whisper_version.h>))
#error "whisper.cpp's headers are not in .whisper/include: run scripts/setup-whisper (scripts/setup does), or build with GG_WITHOUT_WHISPER=1 for a gg-transcribe with the sphinx engine only"
#endif

#if !defined(GG_WITHOUT_WHISPER)
#include <whisper.h>
#include <gg_whisper_version.h>

#define GG_WHISPER_FUNCTIONS(X) \
    X(whisper_log_set) X(whisper_context_default_params) \
    X(whisper_init_from_file_with_params_no_state) X(whisper_free) X(whisper_init_state) X(whisper_free_state) \
    X(whisper_is_multilingual) X(whisper_full_default_params) X(whisper_full_with_state) \
    X(whisper_full_n_segments_from_state) X(whisper_full_get_segment_t0_from_state) \
    X(whisper_full_get_segment_t1_from_state) X(whisper_full_get_segment_text_from_state) \
    X(whisper_full_get_segment_no_speech_prob_from_state) X(whisper_full_lang_id_from_state) X(whisper_lang_str)

struct gg_whisper {
    void *library;
    struct whisper_context *context;
#define GG_WHISPER_FIELD(name) __typeof__(name) *name;
    GG_WHISPER_FUNCTIONS(GG_WHISPER_FIELD)
};

struct gg_whisper_state {
    struct whisper_state *state;
};

static _Thread_local char last_error[512];
static _Thread_local float detected_probability = -1;

/* Keeps the last error, and the probability whisper_full logs for the language it detected (it keeps it nowhere else). */
static void gg_whisper_log(enum ggml_log_level level, const char *text, void *user_data) {
    (void)user_data;
    const char *detected = text ? strstr(text, "auto-detected language: ") : NULL;
    if (detected) {
        const char *p = strstr(detected, "(p = ");
        float probability;
        if (p && sscanf(p, "(p = %f)", &probability) == 1) detected_probability = probability;
    }
    if (level == GGML_LOG_LEVEL_ERROR && text) {
        snprintf(last_error, sizeof last_error, "%s", text);
        size_t length = strlen(last_error);
        while (length > 0 && (last_error[length - 1] == '\n' || last_error[length - 1] == ' ')) last_error[--length] = 0;
    }
}

bool gg_whisper_compiled(void) { return true; }

const char *gg_whisper_header_version(void) { return GG_WHISPER_HEADER_VERSION; }

/* dlopen()s the library and refuses it unless whisper_version() matches the headers. */
static void *open_checked(const char *library, char *version, size_t version_size, char *path, size_t path_size,
                          char *error, size_t error_size) {
    void *handle = dlopen(library, RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
        snprintf(error, error_size, "cannot load %s: %s", library, dlerror());
        return NULL;
    }
    const char *(*version_of)(void) = (const char *(*)(void))dlsym(handle, "whisper_version");
    Dl_info info;
    if (path && path_size) snprintf(path, path_size, "%s", version_of && dladdr((void *)version_of, &info) && info.dli_fname ? info.dli_fname : library);
    if (!version_of) {
        snprintf(error, error_size, "%s reports no whisper_version(): gg-transcribe needs whisper.cpp %s", library, GG_WHISPER_HEADER_VERSION);
        dlclose(handle);
        return NULL;
    }
    const char *found = version_of();
    if (version && version_size) snprintf(version, version_size, "%s", found ? found : "");
    if (!found || strcmp(found, GG_WHISPER_HEADER_VERSION) != 0) {
        snprintf(error, error_size, "%s is whisper.cpp %s, but gg-transcribe was built with the whisper.cpp %s headers "
                 "(whisper_full_params differs between versions); run scripts/setup-whisper and rebuild, or pass --whisper-lib",
                 library, found ? found : "(unknown)", GG_WHISPER_HEADER_VERSION);
        dlclose(handle);
        return NULL;
    }
    return handle;
}

int gg_whisper_probe(const char *library, char *version, size_t version_size, char *path, size_t path_size,
                     bool *exact_beam, char *error, size_t error_size) {
    void *handle = open_checked(library, version, version_size, path, path_size, error, error_size);
    if (!handle) return -1;
    if (exact_beam) *exact_beam = dlsym(handle, "gg_whisper_exact_beam_search") != NULL;
    return 0; /* left loaded, as gg_whisper_close does: ggml's threads may outlive a context */
}

gg_whisper *gg_whisper_open(const char *library, const char *model, char *error, size_t error_size) {
    gg_whisper *whisper = calloc(1, sizeof *whisper);
    if (!whisper) {
        snprintf(error, error_size, "out of memory");
        return NULL;
    }
    whisper->library = open_checked(library, NULL, 0, NULL, 0, error, error_size);
    if (!whisper->library) {
        free(whisper);
        return NULL;
    }
#define GG_WHISPER_LOAD(name)                                                              \
    whisper->name = (__typeof__(name) *)dlsym(whisper->library, #name);                   \
    if (!whisper->name) {                                                                  \
        snprintf(error, error_size, "%s has no %s: whisper.cpp 1.7.6 or later is needed", library, #name); \
        dlclose(whisper->library);                                                         \
        free(whisper);                                                                     \
        return NULL;                                                                       \
    }
    GG_WHISPER_FUNCTIONS(GG_WHISPER_LOAD)
    whisper->whisper_log_set(gg_whisper_log, NULL);
    struct whisper_context_params params = whisper->whisper_context_default_params();
    params.use_gpu = false;
    /* Off for the decoder: whole runs were no faster with it, and it keeps K and V in f16. scripts/setup-whisper's
       build fuses the encoder's attention on its own, in f32 (bench/README). */
    params.flash_attn = false;
    last_error[0] = 0;
    whisper->context = whisper->whisper_init_from_file_with_params_no_state(model, params);
    if (!whisper->context) {
        snprintf(error, error_size, "cannot load the whisper model %s%s%s", model, last_error[0] ? ": " : "", last_error);
        dlclose(whisper->library);
        free(whisper);
        return NULL;
    }
    return whisper;
}

/* The library stays loaded: ggml's OpenMP worker threads may outlive the context. */
void gg_whisper_close(gg_whisper *whisper) {
    if (!whisper) return;
    whisper->whisper_free(whisper->context);
    free(whisper);
}

bool gg_whisper_multilingual(const gg_whisper *whisper) { return whisper->whisper_is_multilingual(whisper->context) != 0; }

gg_whisper_state *gg_whisper_state_new(gg_whisper *whisper) {
    gg_whisper_state *state = calloc(1, sizeof *state);
    if (!state) return NULL;
    state->state = whisper->whisper_init_state(whisper->context);
    if (!state->state) {
        free(state);
        return NULL;
    }
    return state;
}

void gg_whisper_state_free(gg_whisper *whisper, gg_whisper_state *state) {
    if (!state) return;
    whisper->whisper_free_state(state->state);
    free(state);
}

struct gg_window_control {
    gg_whisper *whisper;
    int windows;
    double stopped_at;
    const volatile int32_t *cancelled;
    long budget;          /* decoding steps (one token of one decoder) the run may take */
    long used;            /* updated by whisper's sampling threads */
    int exhausted;
};

static bool gg_whisper_abort(void *data) {
    struct gg_window_control *control = data;
    return (control->cancelled && *control->cancelled != 0) || __atomic_load_n(&control->exhausted, __ATOMIC_RELAXED);
}

/* Counts decoding steps; past the budget the run is stopped at its next computation. */
static void gg_whisper_count_step(struct whisper_context *context, struct whisper_state *state, const whisper_token_data *tokens,
                                  int count, float *logits, void *data) {
    (void)context; (void)state; (void)tokens; (void)count; (void)logits;
    struct gg_window_control *control = data;
    if (__atomic_add_fetch(&control->used, 1, __ATOMIC_RELAXED) > control->budget) __atomic_store_n(&control->exhausted, 1, __ATOMIC_RELAXED);
}

static bool gg_whisper_encoder_begin(struct whisper_context *context, struct whisper_state *state, void *data) {
    (void)context;
    struct gg_window_control *control = data;
    if (control->windows++ == 0) return true;
    int segments = control->whisper->whisper_full_n_segments_from_state(state);
    double end = segments > 0 ? (double)control->whisper->whisper_full_get_segment_t1_from_state(state, segments - 1) / 100.0 : 0;
    if (end < 1.0) return true;
    control->stopped_at = end;
    return false;
}

int gg_whisper_run(gg_whisper *whisper, gg_whisper_state *state, const float *samples, int count,
                   int threads, const char *language, int beam, long step_budget, bool stop_early, double *stopped_at,
                   float *language_probability, bool *budget_exhausted, const volatile int32_t *cancelled) {
    struct gg_window_control control = {whisper, 0, -1, cancelled, step_budget > 0 ? step_budget : LONG_MAX, 0, 0};
    struct whisper_full_params params = whisper->whisper_full_default_params(beam > 1 ? WHISPER_SAMPLING_BEAM_SEARCH : WHISPER_SAMPLING_GREEDY);
    if (beam > 1) {
        params.beam_search.beam_size = beam;
        params.greedy.best_of = beam;
    }
    params.n_threads = threads > 0 ? threads : 1;
    params.no_context = true;
    params.print_progress = false;
    params.print_realtime = false;
    params.print_timestamps = false;
    params.print_special = false;
    params.suppress_blank = true;
    params.suppress_nst = true;
    params.language = language;
    params.detect_language = false;
    params.abort_callback = gg_whisper_abort;
    params.abort_callback_user_data = &control;
    params.logits_filter_callback = gg_whisper_count_step;
    params.logits_filter_callback_user_data = &control;
    if (stop_early) {
        params.encoder_begin_callback = gg_whisper_encoder_begin;
        params.encoder_begin_callback_user_data = &control;
    }
    detected_probability = -1;
    int status = whisper->whisper_full_with_state(whisper->context, state->state, params, samples, count);
    if (stopped_at) *stopped_at = control.stopped_at;
    if (language_probability) *language_probability = detected_probability;
    if (budget_exhausted) *budget_exhausted = control.exhausted != 0;
    return control.exhausted ? 0 : status;
}

int gg_whisper_segment_count(gg_whisper *whisper, gg_whisper_state *state) {
    return whisper->whisper_full_n_segments_from_state(state->state);
}

double gg_whisper_segment_start(gg_whisper *whisper, gg_whisper_state *state, int segment) {
    return (double)whisper->whisper_full_get_segment_t0_from_state(state->state, segment) / 100.0;
}

double gg_whisper_segment_end(gg_whisper *whisper, gg_whisper_state *state, int segment) {
    return (double)whisper->whisper_full_get_segment_t1_from_state(state->state, segment) / 100.0;
}

const char *gg_whisper_segment_text(gg_whisper *whisper, gg_whisper_state *state, int segment) {
    return whisper->whisper_full_get_segment_text_from_state(state->state, segment);
}

float gg_whisper_segment_no_speech(gg_whisper *whisper, gg_whisper_state *state, int segment) {
    return whisper->whisper_full_get_segment_no_speech_prob_from_state(state->state, segment);
}

const char *gg_whisper_language(gg_whisper *whisper, gg_whisper_state *state) {
    return whisper->whisper_lang_str(whisper->whisper_full_lang_id_from_state(state->state));
}

#else

bool gg_whisper_compiled(void) { return false; }

const char *gg_whisper_header_version(void) { return ""; }

int gg_whisper_probe(const char *library, char *version, size_t version_size, char *path, size_t path_size,
                     bool *exact_beam, char *error, size_t error_size) {
    (void)library; (void)version; (void)version_size; (void)path; (void)path_size; (void)exact_beam;
    snprintf(error, error_size, "gg-transcribe was built with GG_WITHOUT_WHISPER=1 (sphinx only): run scripts/setup-whisper, then build without it");
    return -1;
}

gg_whisper *gg_whisper_open(const char *library, const char *model, char *error, size_t error_size) {
    (void)library;
    (void)model;
    snprintf(error, error_size, "gg-transcribe was built with GG_WITHOUT_WHISPER=1 (sphinx only): run scripts/setup-whisper, then build without it");
    return NULL;
}

void gg_whisper_close(gg_whisper *whisper) { (void)whisper; }
bool gg_whisper_multilingual(const gg_whisper *whisper) { (void)whisper; return false; }
gg_whisper_state *gg_whisper_state_new(gg_whisper *whisper) { (void)whisper; return NULL; }
void gg_whisper_state_free(gg_whisper *whisper, gg_whisper_state *state) { (void)whisper; (void)state; }
int gg_whisper_run(gg_whisper *w, gg_whisper_state *s, const float *p, int n, int t, const char *l, int b, long u, bool e, double *a,
                   float *lp, bool *x, const volatile int32_t *c) {
    (void)w; (void)s; (void)p; (void)n; (void)t; (void)l; (void)b; (void)u; (void)e; (void)a; (void)lp; (void)x; (void)c;
    return -1;
}
int gg_whisper_segment_count(gg_whisper *w, gg_whisper_state *s) { (void)w; (void)s; return 0; }
double gg_whisper_segment_start(gg_whisper *w, gg_whisper_state *s, int i) { (void)w; (void)s; (void)i; return 0; }
double gg_whisper_segment_end(gg_whisper *w, gg_whisper_state *s, int i) { (void)w; (void)s; (void)i; return 0; }
const char *gg_whisper_segment_text(gg_whisper *w, gg_whisper_state *s, int i) { (void)w; (void)s; (void)i; return ""; }
float gg_whisper_segment_no_speech(gg_whisper *w, gg_whisper_state *s, int i) { (void)w; (void)s; (void)i; return 1; }
const char *gg_whisper_language(gg_whisper *w, gg_whisper_state *s) { (void)w; (void)s; return ""; }

#endif
