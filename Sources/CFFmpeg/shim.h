#ifndef GG_CFFMPEG_SHIM_H
#define GG_CFFMPEG_SHIM_H
#include <string.h>
#include <libavformat/avformat.h>
#include <libavcodec/avcodec.h>
#include <libavutil/avutil.h>
#include <libavutil/imgutils.h>
#include <libavutil/opt.h>
#include <libavutil/channel_layout.h>
#include <libavutil/error.h>
#include <libavutil/display.h>
#include <libswscale/swscale.h>
#include <libswresample/swresample.h>

static inline int gg_averror_eof(void) { return AVERROR_EOF; }
static inline int gg_averror_eagain(void) { return AVERROR(EAGAIN); }
static inline int64_t gg_av_nopts_value(void) { return AV_NOPTS_VALUE; }
static inline int gg_av_time_base(void) { return AV_TIME_BASE; }
static inline const char *gg_av_err2str(int e, char *buf, size_t n) { return av_make_error_string(buf, n, e); }
static inline void gg_av_log_quiet(void) { av_log_set_level(AV_LOG_QUIET); }
static inline unsigned gg_version_major(unsigned v) { return AV_VERSION_MAJOR(v); }
static inline unsigned gg_version_minor(unsigned v) { return AV_VERSION_MINOR(v); }
static inline unsigned gg_version_micro(unsigned v) { return AV_VERSION_MICRO(v); }
static inline int gg_set_mono_layout(AVChannelLayout *l) { AVChannelLayout m = AV_CHANNEL_LAYOUT_MONO; return av_channel_layout_copy(l, &m); }
/// FFmpeg 6.1 (libavcodec 60.30) moved a stream's side data into its codec parameters and deprecated
/// AVStream's own; FFmpeg 8 removes it.
#if LIBAVCODEC_VERSION_INT >= AV_VERSION_INT(60, 30, 100)
#define GG_CODED_SIDE_DATA 1
#endif

/// A stream's display matrix (nine int32 values) and its size in bytes, or NULL.
static inline const uint8_t *gg_display_matrix(const AVStream *stream, size_t *size) {
#ifdef GG_CODED_SIDE_DATA
    const AVPacketSideData *data = av_packet_side_data_get(stream->codecpar->coded_side_data,
                                                           stream->codecpar->nb_coded_side_data, AV_PKT_DATA_DISPLAYMATRIX);
    if (!data) return NULL;
    *size = data->size;
    return data->data;
#else
    return av_stream_get_side_data(stream, AV_PKT_DATA_DISPLAYMATRIX, size);
#endif
}

/// Clockwise degrees (0, 90, 180, 270) a stream's display matrix turns its pictures, as fftools'
/// autorotate reads it; 0 without one.
static inline int gg_stream_rotation(const AVStream *stream) {
    size_t size = 0;
    const uint8_t *matrix = gg_display_matrix(stream, &size);
    if (!matrix || size < 9 * sizeof(int32_t)) return 0;
    double theta = -av_display_rotation_get((const int32_t *)matrix);
    if (theta != theta) return 0;
    int degrees = (int)(theta - 360 * (long)(theta / 360 + 0.9 / 360));
    degrees = ((degrees % 360) + 360) % 360;
    return ((degrees + 45) / 90 % 4) * 90;
}

/// Copies a stream's display matrix to another whose codec parameters were copied from it (a stream-copied
/// clip keeps its rotation); since FFmpeg 6.1 copying the parameters copied it.
static inline void gg_copy_display_matrix(const AVStream *from, AVStream *to) {
    size_t size = 0, held = 0;
    const uint8_t *matrix = gg_display_matrix(from, &size);
    if (!matrix || gg_display_matrix(to, &held)) return;
#ifdef GG_CODED_SIDE_DATA
    AVPacketSideData *copy = av_packet_side_data_new(&to->codecpar->coded_side_data, &to->codecpar->nb_coded_side_data,
                                                     AV_PKT_DATA_DISPLAYMATRIX, size, 0);
    if (copy) memcpy(copy->data, matrix, size);
#else
    uint8_t *copy = av_stream_new_side_data(to, AV_PKT_DATA_DISPLAYMATRIX, size);
    if (copy) memcpy(copy, matrix, size);
#endif
}
#endif
