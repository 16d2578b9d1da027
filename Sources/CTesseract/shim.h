#ifndef GG_CTESSERACT_SHIM_H
#define GG_CTESSERACT_SHIM_H
#include <leptonica/allheaders.h>
#include <tesseract/capi.h>

static inline int gg_pix_depth(PIX *p) { return (int)pixGetDepth(p); }
static inline int gg_pix_width(PIX *p) { return (int)pixGetWidth(p); }
static inline int gg_pix_height(PIX *p) { return (int)pixGetHeight(p); }
static inline void gg_pix_destroy(PIX *p) { PIX *q = p; pixDestroy(&q); }
static inline void gg_leptonica_quiet(void) { setMsgSeverity(L_SEVERITY_NONE); }
#endif
