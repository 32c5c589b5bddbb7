/* truepeak.h — the true peak of interleaved float audio (ITU-R BS.1770-4
 * annex 2): the largest |y| of the signal oversampled 4 times below
 * 96 kHz, twice below 192 kHz, and of the samples themselves at 192 kHz
 * and above; over all channels, or per channel with the number of points
 * above full scale. Header-only, libc only (and SSE2/AVX2 intrinsics
 * where the compiler has them), like util.h. Both the loudness plugin
 * (its summary's true_peak, the largest over the channels) and the clip
 * plugin (true_peak_c and over_0dbtp_c per channel) measure with it, so
 * the two report the same figure for the same audio.
 *
 * The points. Sample n and the interpolated points y(n + k/4), k = 1, 2,
 * 3 (at 2x: the sample and y(n + 1/2)) for every sample n of the input;
 * samples before the first and after the last are taken as zeros (so an
 * abrupt start or end at full scale rings, as it would through a DAC). A
 * point is sum over i of x[i] g(n + k/4 - i) over the 32 samples
 * n - 15 .. n + 16, with g(t) = sinc(t) · Kaiser(β = 9) over |t| < 16,
 * each phase's 32 taps scaled to sum to 1 (a constant passes exactly).
 * The 2x point is the 4x filter's middle phase.
 *
 * Why this filter. Against sines of every phase it reads within 2.5e-5
 * of the sine's value (0.0002 dB) up to 0.4 × the sample rate (0.017 dB
 * at 0.42; no short filter resolves content nearer Nyquist), so a sine
 * peaking just under full scale does not read over it; what is left is
 * the grid itself, which misses a crest by up to cos(π/8) (0.69 dB) at
 * half the rate at 4x. libebur128's filter (a 49-tap Hann-windowed sinc,
 * 12 taps per phase, as ffmpeg's ebur128 uses) has gains of -0.017 and
 * -0.033 dB at a quarter of the rate and is 0.17 to 0.31 dB off a
 * 128-tap reference on 16-bit pink noise at 44.1 kHz, clean and clipped,
 * where this is within 0.07 dB. On tones, and on clipped sines whose
 * harmonics stay clear of Nyquist, the two agree within 0.05 dB; where
 * hard clipping, square or sawtooth waves put energy near Nyquist,
 * libebur128's filter reads lower (0.2 to 0.3 dB on sines clipped 4 to 8
 * times, 1 dB and more on clipped white noise) and this one is the nearer
 * to a 512-tap reference.
 *
 * Why it is fast:
 *  - Only the largest |y| (and, per channel, a count) is wanted, so no
 *    oversampled signal is stored: each vector of points is reduced at
 *    once, a block at a time.
 *  - The filter is symmetric (g is even): phase 2 is its own mirror and
 *    phases 1 and 3 are each other's. With s_t = x[t] + x[31 - t] and
 *    d_t = x[t] - x[31 - t] (x[t] the sample t frames before the newest
 *    tap, t < 16), y2 = sum c2[t] s_t and y1, y3 = P ± Q with P = sum
 *    p[t] s_t, Q = sum q[t] d_t: 48 multiplies for the three points
 *    instead of 96. At 2x the one phase is its own mirror: 16.
 *  - The channels stay interleaved, side by side: a vector lane is one
 *    (frame, channel) point and its taps lie a whole number of frames
 *    back, so one loop serves any channel count without mixing channels
 *    and without a copy.
 *  - A block whose points cannot change the result is not computed:
 *    |y| <= L1 · max|x| over its taps, L1 the largest sum of |taps| of a
 *    phase as computed (2.35; with a margin of 1/1024, far above the
 *    float rounding of the sums). Over all channels a block is skipped
 *    when that bound is at most the peak so far; per channel
 *    (JTP_CHANNELS) when, in every channel, the bound of that channel's
 *    taps is at most both its peak so far and 1.0 (no point can be an
 *    over). Programme material
 *    spends most of its time more than 7.4 dB under its peak, so most of
 *    the multiplies are never done. The results are then exactly what
 *    computing every point would give, whatever the blocks, the chunks or
 *    the order skipped.
 *
 * Chunking: every point is computed by the same vector code from the same
 * 32 samples whether they arrive in one chunk or several (the last 31
 * frames are kept; a partial vector is computed from a copy padded with
 * zeros and only its real lanes are kept, never by a scalar loop), so the
 * result does not depend on how the rows were split. The AVX2, SSE2 and
 * plain C kernels do the same operations per lane (no fused
 * multiply-add), in float, and give the same bits. */
#ifndef JOULE_PLUGINS_TRUEPEAK_H
#define JOULE_PLUGINS_TRUEPEAK_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__SSE2__)
#include <immintrin.h>
#define JTP_SSE2 1
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#define JTP_AVX2 1
#endif
#endif

#define JTP_BLOCK 64 /* frames per pruning block */
#define JTP_HALF 16  /* samples each side of a point */
#define JTP_TAPS 32  /* 2 · JTP_HALF */
#define JTP_BETA 9.0 /* the Kaiser window's */

/* jtp_init's flags */
enum {
    JTP_SIMD = 1,     /* the fastest kernel the CPU has (else plain C) */
    JTP_CHANNELS = 2, /* the peak and the overs of each channel */
};

typedef struct jtp jtp;
/* The points of n lanes from x: ym[i] the largest |y| of lane i, and, when
 * yc is not NULL, yc[i] how many of them are above 1.0. */
typedef void (*jtp_kernel)(const jtp *t, const float *x, size_t n, float *ym, float *yc);

struct jtp {
    uint32_t nch;
    uint32_t hist;   /* frames of history a point needs: 31 (4x, 2x), 0 */
    uint32_t flags;
    uint32_t lead;   /* frames still to come whose points lie before the first sample */
    uint32_t accw;   /* lanes of the per-channel accumulators: a multiple of nch, >= 8 */
    int ended;
    float c2[JTP_HALF], p[JTP_HALF], q[JTP_HALF];
    float bound;     /* largest |y| per unit of max|x| over the taps */
    float peak;      /* over all channels (without JTP_CHANNELS) */
    float *cpeak;    /* per channel (JTP_CHANNELS) */
    uint64_t *overs; /* per channel (JTP_CHANNELS) */
    float *past;     /* the last `hist` frames, interleaved, then room for as many more */
    float *ym, *yc;  /* a block's lanes */
    float *pad;      /* a partial vector's taps */
    float *acc;      /* accw accumulators, then nch maxima */
    uint32_t *cnt;   /* accw counters */
    jtp_kernel kernel;
};

/* I0, the zeroth-order modified Bessel function of the first kind, by its
 * power series (converges fast for x <= 9). */
static inline double jtp_i0(double x)
{
    double sum = 1, term = 1;
    for (int k = 1; k < 100 && term > 1e-17 * sum; k++) {
        double h = x / (2.0 * k);
        term *= h * h;
        sum += term;
    }
    return sum;
}

/* The interpolation kernel g(t) = sinc(t) · Kaiser(β)(t / 16), t not 0. */
static inline double jtp_g(double t)
{
    const double pi = 3.14159265358979323846;
    double u = t / JTP_HALF;
    return sin(pi * t) / (pi * t) * jtp_i0(JTP_BETA * sqrt(1.0 - u * u)) / jtp_i0(JTP_BETA);
}

/* ---- the points of one vector of lanes ---------------------------------

 * x points at the newest tap of the lanes; a tap t frames back is at
 * x - t·nch; the point is 16 frames back (+ k/4). */

#define JTP_4X(V, LOAD, SET1, MAX, ABS, GT1)                                                                \
    do {                                                                                                    \
        V y2 = SET1(0.0f), pp = SET1(0.0f), qq = SET1(0.0f);                                               \
        for (int k = 0; k < JTP_HALF; k++) {                                                                \
            V a = LOAD(x - (size_t)k * nch), b = LOAD(x - (size_t)(JTP_TAPS - 1 - k) * nch);              \
            V sum = a + b, dif = a - b;                                                                     \
            y2 += SET1(t->c2[k]) * sum;                                                                     \
            pp += SET1(t->p[k]) * sum;                                                                      \
            qq += SET1(t->q[k]) * dif;                                                                      \
        }                                                                                                   \
        V a1 = ABS(pp + qq), a2 = ABS(y2), a3 = ABS(pp - qq);                                              \
        out = MAX(MAX(a1, a2), a3);                                                                         \
        if (cnt)                                                                                            \
            cv = GT1(a1) + GT1(a2) + GT1(a3);                                                               \
    } while (0)

#define JTP_2X(V, LOAD, SET1, MAX, ABS, GT1)                                                                \
    do {                                                                                                    \
        V y = SET1(0.0f);                                                                                   \
        for (int k = 0; k < JTP_HALF; k++)                                                                  \
            y += SET1(t->c2[k]) * (LOAD(x - (size_t)k * nch) + LOAD(x - (size_t)(JTP_TAPS - 1 - k) * nch)); \
        out = ABS(y);                                                                                       \
        if (cnt)                                                                                            \
            cv = GT1(out);                                                                                  \
    } while (0)

/* The kernel over n lanes starting at x0 (history before x0 valid). Full
 * vectors are read in place; the last partial one from a copy padded with
 * zeros, of which only the real lanes are stored (a lane past the end
 * would mix real taps with padding). */
#define JTP_KERNEL(NAME, ATTR, V, W, LOAD, SET1, MAX, ABS, GT1, BODY)                                      \
    ATTR static void NAME(const jtp *t, const float *x0, size_t n, float *ym, float *yc)                    \
    {                                                                                                       \
        const size_t nch = t->nch, back = (size_t)t->hist * nch;                                           \
        const int cnt = yc != NULL;                                                                         \
        V out, cv = SET1(0.0f);                                                                             \
        size_t i = 0;                                                                                       \
        for (; i + W <= n; i += W) {                                                                        \
            const float *x = x0 + i;                                                                        \
            BODY(V, LOAD, SET1, MAX, ABS, GT1);                                                             \
            memcpy(ym + i, &out, sizeof out);                                                               \
            if (cnt)                                                                                        \
                memcpy(yc + i, &cv, sizeof cv);                                                             \
        }                                                                                                   \
        if (i < n) {                                                                                        \
            float *pad = t->pad;                                                                            \
            memcpy(pad, x0 + i - back, (back + (n - i)) * sizeof *pad);                                    \
            memset(pad + back + (n - i), 0, (W - (n - i)) * sizeof *pad);                                  \
            const float *x = pad + back;                                                                    \
            BODY(V, LOAD, SET1, MAX, ABS, GT1);                                                             \
            float lanes[W];                                                                                 \
            memcpy(lanes, &out, sizeof lanes);                                                              \
            memcpy(ym + i, lanes, (n - i) * sizeof *ym);                                                    \
            if (cnt) {                                                                                      \
                memcpy(lanes, &cv, sizeof lanes);                                                           \
                memcpy(yc + i, lanes, (n - i) * sizeof *yc);                                                \
            }                                                                                               \
        }                                                                                                   \
    }

/* Plain C: one lane. */
#define JTP_LOAD1(p) (*(p))
#define JTP_SET1(v) (v)
#define JTP_MAX1(a, b) ((b) > (a) ? (b) : (a))
#define JTP_ABS1(v) fabsf(v)
#define JTP_GT11(v) ((v) > 1.0f ? 1.0f : 0.0f)
JTP_KERNEL(jtp_4x_c, , float, 1, JTP_LOAD1, JTP_SET1, JTP_MAX1, JTP_ABS1, JTP_GT11, JTP_4X)
JTP_KERNEL(jtp_2x_c, , float, 1, JTP_LOAD1, JTP_SET1, JTP_MAX1, JTP_ABS1, JTP_GT11, JTP_2X)

#ifdef JTP_SSE2
typedef float jtp_v4 __attribute__((vector_size(16), aligned(16)));
static inline jtp_v4 jtp_load4(const float *p)
{
    jtp_v4 v;
    memcpy(&v, p, sizeof v);
    return v;
}
#define JTP_SET4(v) ((jtp_v4){(v), (v), (v), (v)})
#define JTP_MAX4(a, b) ((jtp_v4)_mm_max_ps((__m128)(a), (__m128)(b)))
#define JTP_ABS4(v) ((jtp_v4)_mm_andnot_ps(_mm_set1_ps(-0.0f), (__m128)(v)))
#define JTP_GT14(v) ((jtp_v4)_mm_and_ps(_mm_cmpgt_ps((__m128)(v), _mm_set1_ps(1.0f)), _mm_set1_ps(1.0f)))
JTP_KERNEL(jtp_4x_sse2, , jtp_v4, 4, jtp_load4, JTP_SET4, JTP_MAX4, JTP_ABS4, JTP_GT14, JTP_4X)
JTP_KERNEL(jtp_2x_sse2, , jtp_v4, 4, jtp_load4, JTP_SET4, JTP_MAX4, JTP_ABS4, JTP_GT14, JTP_2X)
#endif

#ifdef JTP_AVX2
typedef float jtp_v8 __attribute__((vector_size(32), aligned(32)));
__attribute__((target("avx2"))) static inline jtp_v8 jtp_load8(const float *p)
{
    jtp_v8 v;
    memcpy(&v, p, sizeof v);
    return v;
}
#define JTP_SET8(v) ((jtp_v8){(v), (v), (v), (v), (v), (v), (v), (v)})
#define JTP_MAX8(a, b) ((jtp_v8)_mm256_max_ps((__m256)(a), (__m256)(b)))
#define JTP_ABS8(v) ((jtp_v8)_mm256_andnot_ps(_mm256_set1_ps(-0.0f), (__m256)(v)))
#define JTP_GT18(v)                                                                                         \
    ((jtp_v8)_mm256_and_ps(_mm256_cmp_ps((__m256)(v), _mm256_set1_ps(1.0f), _CMP_GT_OQ), _mm256_set1_ps(1.0f)))
JTP_KERNEL(jtp_4x_avx2, __attribute__((target("avx2"))), jtp_v8, 8, jtp_load8, JTP_SET8, JTP_MAX8, JTP_ABS8,
           JTP_GT18, JTP_4X)
JTP_KERNEL(jtp_2x_avx2, __attribute__((target("avx2"))), jtp_v8, 8, jtp_load8, JTP_SET8, JTP_MAX8, JTP_ABS8,
           JTP_GT18, JTP_2X)
#endif

/* ---- the meter --------------------------------------------------------- */

static inline void jtp_free(jtp *t);

/* Start a meter for `nch` interleaved channels (at least 1) at `rate` Hz;
 * flags: JTP_SIMD, JTP_CHANNELS. Returns 0, or -1 when out of memory
 * (jtp_free is then still safe). */
static inline int jtp_init(jtp *t, uint32_t nch, unsigned long rate, int flags)
{
    memset(t, 0, sizeof *t);
    t->nch = nch;
    t->flags = (uint32_t)flags;
    const int simd = flags & JTP_SIMD;
    unsigned factor = rate < 96000 ? 4 : rate < 192000 ? 2 : 1;
    t->hist = factor > 1 ? JTP_TAPS - 1 : 0;
    t->lead = factor > 1 ? JTP_HALF : 0;
    double l1 = 1.0;
    if (factor > 1) {
        /* g1[b], g2[b]: the taps of phases 1 and 2 for the sample b frames
         * before the newest tap (the point is JTP_HALF frames back, + k/4),
         * each phase scaled to sum to 1 */
        double g[3][JTP_TAPS];
        for (int k = 1; k <= 2; k++) {
            double sum = 0;
            for (int b = 0; b < JTP_TAPS; b++) {
                g[k][b] = jtp_g(k / 4.0 - JTP_HALF + b);
                sum += g[k][b];
            }
            for (int b = 0; b < JTP_TAPS; b++)
                g[k][b] /= sum;
        }
        double a1 = 0, a2 = 0;
        for (int b = 0; b < JTP_HALF; b++) {
            t->c2[b] = (float)g[2][b];
            t->p[b] = (float)((g[1][b] + g[1][JTP_TAPS - 1 - b]) / 2);
            t->q[b] = (float)((g[1][b] - g[1][JTP_TAPS - 1 - b]) / 2);
            /* the L1 norms of the phases as computed: c2 taps b and 31 - b,
             * and p ± q for phases 1 and 3 */
            a2 += 2 * fabs(t->c2[b]);
            a1 += fabs((double)t->p[b] + t->q[b]) + fabs((double)t->p[b] - t->q[b]);
        }
        l1 = factor == 4 && a1 > a2 ? a1 : a2;
        t->kernel = factor == 4 ? jtp_4x_c : jtp_2x_c;
#ifdef JTP_SSE2
        if (simd)
            t->kernel = factor == 4 ? jtp_4x_sse2 : jtp_2x_sse2;
#endif
#ifdef JTP_AVX2
        __builtin_cpu_init();
        if (simd && __builtin_cpu_supports("avx2"))
            t->kernel = factor == 4 ? jtp_4x_avx2 : jtp_2x_avx2;
#endif
    }
    (void)simd;
    /* a margin far above the float rounding of the sums (a few 1e-6 of
     * L1 · max|x|) */
    t->bound = (float)(l1 * (1.0 + 1.0 / 1024));
    t->accw = nch >= 8 ? nch : nch * ((8 + nch - 1) / nch); /* 8 for 1, 2, 4 */
    t->acc = malloc(((size_t)t->accw + nch) * sizeof *t->acc);
    t->cnt = malloc((size_t)t->accw * sizeof *t->cnt);
    if (!t->acc || !t->cnt)
        return -1;
    if (flags & JTP_CHANNELS) {
        t->cpeak = calloc(nch, sizeof *t->cpeak);
        t->overs = calloc(nch, sizeof *t->overs);
        if (!t->cpeak || !t->overs)
            return -1;
    }
    if (t->hist) {
        t->past = calloc((size_t)2 * t->hist * nch, sizeof *t->past);
        t->ym = malloc((size_t)JTP_BLOCK * nch * sizeof *t->ym);
        t->yc = malloc((size_t)JTP_BLOCK * nch * sizeof *t->yc);
        t->pad = malloc(((size_t)t->hist * nch + 8) * sizeof *t->pad);
        if (!t->past || !t->ym || !t->yc || !t->pad)
            return -1;
    }
    return 0;
}

static inline void jtp_free(jtp *t)
{
    free(t->past);
    free(t->ym);
    free(t->yc);
    free(t->pad);
    free(t->acc);
    free(t->cnt);
    free(t->cpeak);
    free(t->overs);
    t->past = t->ym = t->yc = t->pad = t->acc = t->cpeak = NULL;
    t->overs = NULL;
    t->cnt = NULL;
}

/* The largest |x| of frames [f0, f1) of x (interleaved), and of m. */
static inline float jtp_absmax(const jtp *t, const float *x, ptrdiff_t f0, size_t f1, float m)
{
    float v[8] = {m, m, m, m, m, m, m, m};
    const float *p = x + f0 * (ptrdiff_t)t->nch;
    size_t n = (size_t)((ptrdiff_t)f1 - f0) * t->nch, k = 0;
    for (; k + 8 <= n; k += 8)
        for (int j = 0; j < 8; j++) {
            float a = fabsf(p[k + (size_t)j]);
            v[j] = a > v[j] ? a : v[j];
        }
    for (; k < n; k++) {
        float a = fabsf(p[k]);
        v[0] = a > v[0] ? a : v[0];
    }
    for (int j = 1; j < 8; j++)
        v[0] = v[j] > v[0] ? v[j] : v[0];
    return v[0];
}

/* The largest |x| of each channel over frames [f0, f1) of x, into
 * t->acc + t->accw (nch values). */
static inline float *jtp_absmax_ch(const jtp *t, const float *x, ptrdiff_t f0, size_t f1)
{
    const size_t nch = t->nch, w = t->accw;
    float *v = t->acc, *out = t->acc + w;
    const float *p = x + f0 * (ptrdiff_t)nch;
    size_t n = (size_t)((ptrdiff_t)f1 - f0) * nch, k = 0;
    for (size_t j = 0; j < w; j++)
        v[j] = 0.0f;
    /* w is a multiple of nch: accumulator j holds channel j % nch */
    if (w == 8) {
        float l[8] = {0};
        for (; k + 8 <= n; k += 8)
            for (size_t j = 0; j < 8; j++) {
                float a = fabsf(p[k + j]);
                l[j] = a > l[j] ? a : l[j];
            }
        memcpy(v, l, sizeof l);
    }
    for (; k + w <= n; k += w)
        for (size_t j = 0; j < w; j++) {
            float a = fabsf(p[k + j]);
            v[j] = a > v[j] ? a : v[j];
        }
    for (size_t j = 0; k + j < n; j++) {
        float a = fabsf(p[k + j]);
        v[j] = a > v[j] ? a : v[j];
    }
    for (size_t c = 0; c < nch; c++)
        out[c] = v[c];
    for (size_t j = nch; j < w; j++)
        out[j % nch] = v[j] > out[j % nch] ? v[j] : out[j % nch];
    return out;
}

/* Lanes (frame by frame, channel by channel) of largest |y| and count
 * into the channels' peaks and overs. */
static inline void jtp_fold(jtp *t, const float *ym, const float *yc, size_t n)
{
    const size_t nch = t->nch, w = t->accw;
    float *v = t->acc;
    size_t k = 0;
    for (size_t j = 0; j < w; j++)
        v[j] = 0.0f;
    if (w == 8) {
        float l[8] = {0}, lc[8] = {0};
        for (; k + 8 <= n; k += 8)
            for (size_t j = 0; j < 8; j++) {
                l[j] = ym[k + j] > l[j] ? ym[k + j] : l[j];
                lc[j] += yc[k + j];
            }
        memcpy(v, l, sizeof l);
        for (size_t j = 0; j < 8; j++)
            t->overs[j % nch] += (uint64_t)lc[j]; /* at most 3 · 64 · 64 / 8: exact */
    }
    for (size_t i = 0; k + i < n; i++) {
        size_t j = i % w;
        v[j] = ym[k + i] > v[j] ? ym[k + i] : v[j];
        t->overs[j % nch] += (uint64_t)yc[k + i];
    }
    for (size_t j = 0; j < w; j++)
        t->cpeak[j % nch] = v[j] > t->cpeak[j % nch] ? v[j] : t->cpeak[j % nch];
}

/* The points whose newest taps are frames [0, n) of x (the `hist` frames
 * before x readable), block by block, skipping the blocks that cannot
 * change the result. A tap bound that is not a number (bound = INFINITY,
 * times 0) computes the block. */
static inline void jtp_run(jtp *t, const float *x, size_t n)
{
    const size_t nch = t->nch;
    const float bound = t->bound;
    for (size_t b = 0; b < n; b += JTP_BLOCK) {
        size_t e = b + JTP_BLOCK < n ? b + JTP_BLOCK : n, lanes = (e - b) * nch;
        const ptrdiff_t f0 = (ptrdiff_t)b - (ptrdiff_t)t->hist;
        if (!(t->flags & JTP_CHANNELS)) {
            float in = jtp_absmax(t, x, f0, e, 0.0f), m = t->peak;
            /* all taps zero give points of zero; a peak so small that
             * float's gradual underflow would loosen the bound never skips */
            if (!(in * bound <= m) || (m < 1e-30f && in > 0)) {
                t->kernel(t, x + b * nch, lanes, t->ym, NULL);
                for (size_t i = 0; i < lanes; i++)
                    m = t->ym[i] > m ? t->ym[i] : m;
                t->peak = m;
            }
            continue;
        }
        const float *in = jtp_absmax_ch(t, x, f0, e);
        int need = 0;
        for (size_t c = 0; c < nch && !need; c++) {
            float m = t->cpeak[c], lim = m < 1.0f ? m : 1.0f;
            need = !(in[c] * bound <= lim) || (m < 1e-30f && in[c] > 0);
        }
        if (!need)
            continue;
        t->kernel(t, x + b * nch, lanes, t->ym, t->yc);
        jtp_fold(t, t->ym, t->yc, lanes);
    }
}

/* The samples themselves: points too (phase 0), each counted once. */
static inline void jtp_samples(jtp *t, const float *x, size_t n)
{
    if (!(t->flags & JTP_CHANNELS)) {
        t->peak = jtp_absmax(t, x, 0, n, t->peak);
        return;
    }
    /* accumulators as in jtp_absmax_ch, and counters, added up every 2^20
     * frames (a counter takes at most one sample of a frame) */
    const size_t nch = t->nch, w = t->accw;
    float *v = t->acc;
    uint32_t *o = t->cnt;
    while (n) {
        size_t take = n < ((size_t)1 << 20) ? n : ((size_t)1 << 20), len = take * nch, k = 0;
        for (size_t j = 0; j < w; j++) {
            v[j] = 0.0f;
            o[j] = 0;
        }
        if (w == 8) {
            float l[8] = {0};
            uint32_t lo[8] = {0};
            for (; k + 8 <= len; k += 8)
                for (size_t j = 0; j < 8; j++) {
                    float a = fabsf(x[k + j]);
                    l[j] = a > l[j] ? a : l[j];
                    lo[j] += a > 1.0f;
                }
            memcpy(v, l, sizeof l);
            memcpy(o, lo, sizeof lo);
        }
        for (; k + w <= len; k += w)
            for (size_t j = 0; j < w; j++) {
                float a = fabsf(x[k + j]);
                v[j] = a > v[j] ? a : v[j];
                o[j] += a > 1.0f;
            }
        for (size_t j = 0; k + j < len; j++) {
            float a = fabsf(x[k + j]);
            v[j] = a > v[j] ? a : v[j];
            o[j] += a > 1.0f;
        }
        for (size_t j = 0; j < w; j++) {
            size_t c = j % nch;
            t->cpeak[c] = v[j] > t->cpeak[c] ? v[j] : t->cpeak[c];
            t->overs[c] += o[j];
        }
        x += len;
        n -= take;
    }
}

/* Measure n more frames of x (interleaved, finite). */
static inline void jtp_feed(jtp *t, const float *x, size_t n)
{
    if (!n)
        return;
    jtp_samples(t, x, n);
    const size_t h = t->hist, nch = t->nch;
    if (!h)
        return;
    /* the first JTP_HALF frames of the stream complete the windows of
     * points before the first sample: not measured */
    size_t skip = t->lead < n ? t->lead : n;
    t->lead -= (uint32_t)skip;
    /* the first frames, whose taps reach into the history: past[] holds
     * the history, then those frames */
    size_t head = n < h ? n : h;
    memcpy(t->past + h * nch, x, head * nch * sizeof *x);
    if (skip < head)
        jtp_run(t, t->past + (h + skip) * nch, head - skip);
    /* the rest, in place: their taps are all in x */
    size_t from = skip > h ? skip : h;
    if (n > from)
        jtp_run(t, x + from * nch, n - from);
    /* the last h frames become the history */
    if (n >= h)
        memcpy(t->past, x + (n - h) * nch, h * nch * sizeof *x);
    else
        memmove(t->past, t->past + n * nch, h * nch * sizeof *x);
}

/* The end of the input: the points of the last JTP_HALF samples, whose
 * windows reach past it (zeros there). Once; feed nothing after. */
static inline void jtp_end(jtp *t)
{
    if (t->ended)
        return;
    t->ended = 1;
    if (!t->hist)
        return;
    /* the zeros go through jtp_feed like any frames: the same code, the
     * same bits; they are not samples of the input, but as points of
     * zero they change neither a peak nor a count */
    float z[256] = {0};
    size_t per = sizeof z / sizeof *z / t->nch, left = JTP_HALF;
    if (!per) {
        /* more than 256 channels: a frame of zeros at a time */
        float *one = calloc(t->nch, sizeof *one);
        for (; one && left; left--)
            jtp_feed(t, one, 1);
        free(one);
        return;
    }
    while (left) {
        size_t k = left < per ? left : per;
        jtp_feed(t, z, k);
        left -= k;
    }
}

/* The true peak (call jtp_end first): the largest |x| of the samples and
 * of the oversampled points, over all channels (linear; 0 for silence). */
static inline float jtp_peak(const jtp *t)
{
    if (!(t->flags & JTP_CHANNELS))
        return t->peak;
    float m = 0;
    for (uint32_t c = 0; c < t->nch; c++)
        m = t->cpeak[c] > m ? t->cpeak[c] : m;
    return m;
}

/* With JTP_CHANNELS: channel c's true peak (linear), and how many of its
 * points (samples and interpolated, after rounding to float) are above
 * 1.0 — a flat run at exactly 1.0 is none, the ringing at its edges is. */
static inline float jtp_channel_peak(const jtp *t, uint32_t c)
{
    return t->cpeak[c];
}

static inline uint64_t jtp_overs(const jtp *t, uint32_t c)
{
    return t->overs[c];
}

#endif
