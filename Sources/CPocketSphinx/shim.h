#ifndef GG_CPOCKETSPHINX_SHIM_H
#define GG_CPOCKETSPHINX_SHIM_H
#include <pocketsphinx.h>
#include <sphinxbase/err.h>

/* cmd_ln_init is variadic: build a config from explicit model paths. */
static inline cmd_ln_t *gg_ps_config(const char *hmm, const char *lm, const char *dict) {
    return cmd_ln_init(NULL, ps_args(), TRUE, "-hmm", hmm, "-lm", lm, "-dict", dict,
                       "-logfn", "/dev/null", NULL);
}
static inline void gg_ps_quiet(void) { err_set_logfp(NULL); }
#endif
