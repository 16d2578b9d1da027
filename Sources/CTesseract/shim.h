#ifndef GG_CTESSERACT_SHIM_H
#define GG_CTESSERACT_SHIM_H
#include <leptonica/allheaders.h>
#include <tesseract/capi.h>

static inline int gg_pix_width(PIX *p) { return (int)pixGetWidth(p); }
static inline int gg_pix_height(PIX *p) { return (int)pixGetHeight(p); }
static inline void gg_pix_destroy(PIX *p) { PIX *q = p; pixDestroy(&q); }
/* Copies an 8-bit PIX into a row-major byte buffer of width*height bytes. */
static inline void gg_pix_copy_gray(PIX *p, unsigned char *out) {
    int w = (int)pixGetWidth(p), h = (int)pixGetHeight(p), wpl = (int)pixGetWpl(p);
    l_uint32 *data = pixGetData(p);
    for (int y = 0; y < h; y++) {
        l_uint32 *line = data + (size_t)y * wpl;
        for (int x = 0; x < w; x++) out[(size_t)y * w + x] = (unsigned char)GET_DATA_BYTE(line, x);
    }
}
/* A new 8-bit PIX holding a row-major byte buffer of width*height bytes. */
static inline PIX *gg_pix_from_gray(const unsigned char *bytes, int w, int h) {
    PIX *p = pixCreate(w, h, 8);
    if (!p) return NULL;
    int wpl = (int)pixGetWpl(p);
    l_uint32 *data = pixGetData(p);
    for (int y = 0; y < h; y++) {
        l_uint32 *line = data + (size_t)y * wpl;
        for (int x = 0; x < w; x++) SET_DATA_BYTE(line, x, bytes[(size_t)y * w + x]);
    }
    return p;
}
static inline void gg_leptonica_quiet(void) { setMsgSeverity(L_SEVERITY_NONE); }
#endif
