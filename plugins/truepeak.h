/* truepeak.h — the true peak of interleaved float audio (ITU-R BS.1770-4
 * annex 2): the largest |x| of the signal oversampled 4 times below
 * 96 kHz, twice below 192 kHz, and of the samples themselves, over all
 * channels. Header-only, libc only (and SSE2/AVX2 intrinsics where the
 * compiler has them), like util.h.
 *
 * The interpolator is libebur128's (1.2.5 and later): a 49-tap
 * Hann-windowed sinc cut at the original Nyquist frequency, split into
 * polyphase branches; the sample at t and the interpolated points at
 * t + k/4 (k = 1, 2, 3) come from the 12 samples before t + 6. The same
 * coefficients and the same start (a history of zeros before the first
 * sample, no flush after the last) give the same figure as
 * ebur128_true_peak, to float rounding: libebur128 sums in double and
 * rounds each point to float, this sums in float.
 *
 * Why it is fast:
 *  - Only the largest |y| is wanted, so no oversampled signal is stored:
 *    each vector of points is reduced into a running maximum at once.
 *  - The filter is symmetric (h[j] = h[48 - j]): branch 2 is its own
 *    mirror and branches 1 and 3 are each other's. With s_t = x[n-t] +
 *    x[n-11+t] and d_t = x[n-t] - x[n-11+t] (t < 6), branch 2 is
 *    sum c2[t] s_t, and P = (y1 + y3)/2 = sum p[t] s_t and Q = (y1 - y3)/2
 *    = sum q[t] d_t give max(|y1|, |y3|) = |P| + |Q|: 18 multiplies per
 *    sample instead of 36. At 2x the one branch is its own mirror.
 *  - The channels stay interleaved, side by side: a vector lane is one
 *    (frame, channel) point and its taps lie a whole number of frames
 *    back, so one loop serves any channel count without mixing channels
 *    and without a copy.
 *  - A block of points whose inputs are all small cannot raise the
 *    maximum: |y| <= L1 · max|x| over the taps, L1 the largest sum of
 *    |coefficients| of a branch (1.86 at 4x, 2.31 at 2x). A block whose
 *    inputs' largest |x| times that bound (with a margin far above the
 *    float rounding of the sums) is below the maximum so far is skipped
 *    (programme material spends much of its time more than 5.4 dB under
 *    its peak). The
 *    maximum is then exactly what computing every point would give,
 *    whatever the blocks, the chunks or the order skipped.
 *
 * Chunking: every point is computed by the same vector code from the same
 * 12 (or 24) samples whether they arrive in one chunk or several (the
 * last history frames are kept; a partial vector is computed with its
 * lanes past the end masked out, never by a scalar loop), so the result
 * does not depend on how the rows were split. The AVX2 and SSE2 paths do
 * the same operations per lane (no fused multiply-add), and give the
 * same figure. */
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

typedef struct jtp jtp;
typedef float (*jtp_kernel)(const jtp *t, const float *x, size_t n, float m);

struct jtp {
    uint32_t nch;
    uint32_t hist;      /* frames of history a point needs: 11 (4x), 23 (2x), 0 */
    float s[12];        /* 4x: c2[0..5], p[0..5]; 2x: c[0..11] */
    float q[6];         /* 4x: q[0..5] */
    float bound;        /* largest |y| per unit of max|x| over the taps */
    float peak;         /* largest |x| or |y| so far */
    float *past;        /* the last `hist` frames, interleaved, then room for as many more */
    jtp_kernel kernel;
};

/* libebur128's interpolation filter (interp_create(49, factor)): tap j of
 * the 49-tap windowed sinc, for phase j % factor and delay j / factor. */
static inline double jtp_tap(unsigned j, unsigned factor)
{
    const double pi = 3.14159265358979323846;
    double m = (double)j - 24.0, c = 1.0;
    if (fabs(m) > 0.000001)
        c = sin(m * pi / factor) / (m * pi / factor);
    return c * 0.5 * (1 - cos(2 * pi * j / 48.0));
}

/* ---- the points of one vector of lanes ---------------------------------

 * x points at the newest sample of the lanes; a tap t frames back is at
 * x - t·nch. */

#define JTP_4X(V, LOAD, SET1, MAX, ABS)                                                                    \
    do {                                                                                                    \
        V y2 = SET1(0.0f), pp = SET1(0.0f), qq = SET1(0.0f);                                               \
        for (int k = 0; k < 6; k++) {                                                                       \
            V a = LOAD(x - (size_t)k * nch), b = LOAD(x - (size_t)(11 - k) * nch);                         \
            V sum = a + b, dif = a - b;                                                                     \
            y2 += SET1(t->s[k]) * sum;                                                                      \
            pp += SET1(t->s[6 + k]) * sum;                                                                  \
            qq += SET1(t->q[k]) * dif;                                                                      \
        }                                                                                                   \
        out = MAX(ABS(y2), ABS(pp) + ABS(qq));                                                              \
    } while (0)

#define JTP_2X(V, LOAD, SET1, MAX, ABS)                                                                    \
    do {                                                                                                    \
        V y = SET1(0.0f);                                                                                   \
        for (int k = 0; k < 12; k++)                                                                        \
            y += SET1(t->s[k]) * (LOAD(x - (size_t)k * nch) + LOAD(x - (size_t)(23 - k) * nch));            \
        out = ABS(y);                                                                                       \
    } while (0)

/* The kernel over n lanes starting at x (history before x valid), folded
 * into m. Full vectors are read in place; the last partial one from a
 * copy padded with zeros, its extra lanes cleared before the maximum (a
 * lane past the end would mix real taps with padding). */
#define JTP_KERNEL(NAME, ATTR, V, W, LOAD, SET1, MAX, ABS, BODY)                                           \
    ATTR static float NAME(const jtp *t, const float *x0, size_t n, float m0)                              \
    {                                                                                                       \
        const size_t nch = t->nch, back = (size_t)t->hist * nch;                                           \
        V m = SET1(m0), out;                                                                                \
        size_t i = 0;                                                                                       \
        for (; i + W <= n; i += W) {                                                                        \
            const float *x = x0 + i;                                                                        \
            BODY(V, LOAD, SET1, MAX, ABS);                                                                  \
            m = MAX(m, out);                                                                                \
        }                                                                                                   \
        if (i < n) {                                                                                        \
            float pad[24 * 64 + W];                                                                         \
            memcpy(pad, x0 + i - back, (back + (n - i)) * sizeof *pad);                                    \
            memset(pad + back + (n - i), 0, (W - (n - i)) * sizeof *pad);                                  \
            const float *x = pad + back;                                                                    \
            BODY(V, LOAD, SET1, MAX, ABS);                                                                  \
            float lanes[W], keep[W];                                                                        \
            memcpy(lanes, &out, sizeof lanes);                                                              \
            for (size_t k = 0; k < W; k++)                                                                  \
                keep[k] = k < n - i ? lanes[k] : 0.0f;                                                      \
            memcpy(&out, keep, sizeof out);                                                                 \
            m = MAX(m, out);                                                                                \
        }                                                                                                   \
        float lanes[W];                                                                                     \
        memcpy(lanes, &m, sizeof lanes);                                                                    \
        float r = lanes[0];                                                                                 \
        for (size_t k = 1; k < W; k++)                                                                      \
            r = lanes[k] > r ? lanes[k] : r;                                                                \
        return r;                                                                                           \
    }

/* Plain C: one lane. */
#define JTP_LOAD1(p) (*(p))
#define JTP_SET1(v) (v)
#define JTP_MAX1(a, b) ((b) > (a) ? (b) : (a))
#define JTP_ABS1(v) fabsf(v)
JTP_KERNEL(jtp_4x_c, , float, 1, JTP_LOAD1, JTP_SET1, JTP_MAX1, JTP_ABS1, JTP_4X)
JTP_KERNEL(jtp_2x_c, , float, 1, JTP_LOAD1, JTP_SET1, JTP_MAX1, JTP_ABS1, JTP_2X)

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
JTP_KERNEL(jtp_4x_sse2, , jtp_v4, 4, jtp_load4, JTP_SET4, JTP_MAX4, JTP_ABS4, JTP_4X)
JTP_KERNEL(jtp_2x_sse2, , jtp_v4, 4, jtp_load4, JTP_SET4, JTP_MAX4, JTP_ABS4, JTP_2X)
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
JTP_KERNEL(jtp_4x_avx2, __attribute__((target("avx2"))), jtp_v8, 8, jtp_load8, JTP_SET8, JTP_MAX8, JTP_ABS8,
           JTP_4X)
JTP_KERNEL(jtp_2x_avx2, __attribute__((target("avx2"))), jtp_v8, 8, jtp_load8, JTP_SET8, JTP_MAX8, JTP_ABS8,
           JTP_2X)
#endif

/* ---- the meter --------------------------------------------------------- */

/* Start a meter for `nch` interleaved channels (1 to 64) at `rate` Hz.
 * `simd`: 0 for the plain C kernel, 1 for the fastest the CPU has.
 * Returns 0, or -1 when out of memory (jtp_free is then still safe). */
static inline int jtp_init(jtp *t, uint32_t nch, unsigned long rate, int simd)
{
    memset(t, 0, sizeof *t);
    t->nch = nch;
    unsigned factor = rate < 96000 ? 4 : rate < 192000 ? 2 : 1;
    t->hist = factor == 4 ? 11 : factor == 2 ? 23 : 0;
    double l1 = 1.0;
    if (factor == 4) {
        /* branch f holds taps j = f + 4k, delay k = 0..11 */
        double h1[12], h2[12], a1 = 0, a2 = 0;
        for (unsigned k = 0; k < 12; k++) {
            h1[k] = jtp_tap(1 + 4 * k, 4);
            h2[k] = jtp_tap(2 + 4 * k, 4);
        }
        for (unsigned k = 0; k < 6; k++) {
            t->s[k] = (float)h2[k];
            t->s[6 + k] = (float)((h1[k] + h1[11 - k]) / 2);
            t->q[k] = (float)((h1[k] - h1[11 - k]) / 2);
            /* the L1 norms of the branches as computed: c2 taps k and
             * 11 - k, and p ± q for branches 1 and 3 (|P| + |Q| is the
             * larger of |y1| and |y3|) */
            a2 += 2 * fabs(t->s[k]);
            a1 += fabs((double)t->s[6 + k] + t->q[k]) + fabs((double)t->s[6 + k] - t->q[k]);
        }
        l1 = a1 > a2 ? a1 : a2;
        t->kernel = jtp_4x_c;
#ifdef JTP_SSE2
        if (simd)
            t->kernel = jtp_4x_sse2;
#endif
#ifdef JTP_AVX2
        __builtin_cpu_init();
        if (simd && __builtin_cpu_supports("avx2"))
            t->kernel = jtp_4x_avx2;
#endif
    } else if (factor == 2) {
        double a = 0;
        for (unsigned k = 0; k < 12; k++) {
            t->s[k] = (float)jtp_tap(1 + 2 * k, 2);
            a += 2 * fabs(t->s[k]);
        }
        l1 = a;
        t->kernel = jtp_2x_c;
#ifdef JTP_SSE2
        if (simd)
            t->kernel = jtp_2x_sse2;
#endif
#ifdef JTP_AVX2
        __builtin_cpu_init();
        if (simd && __builtin_cpu_supports("avx2"))
            t->kernel = jtp_2x_avx2;
#endif
    }
    /* a margin far above the float rounding of the sums (a few 1e-7 of
     * L1 · max|x|) */
    t->bound = (float)(l1 * (1.0 + 1.0 / 1024));
    if (t->hist) {
        t->past = calloc((size_t)2 * t->hist * nch, sizeof *t->past);
        if (!t->past)
            return -1;
    }
    return 0;
}

static inline void jtp_free(jtp *t)
{
    free(t->past);
    t->past = NULL;
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

/* The points of frames [0, n) of x, whose `hist` frames before x are
 * readable, block by block, skipping the blocks that cannot raise the
 * peak. */
static inline void jtp_run(jtp *t, const float *x, size_t n)
{
    float m = t->peak;
    for (size_t b = 0; b < n; b += JTP_BLOCK) {
        size_t e = b + JTP_BLOCK < n ? b + JTP_BLOCK : n;
        /* every tap of the block's points, and its samples */
        float in = jtp_absmax(t, x, (ptrdiff_t)b - (ptrdiff_t)t->hist, e, 0.0f);
        if (in > m)
            m = in;
        /* all inputs zero give points of zero; a peak so small that
         * float's gradual underflow would loosen the bound never skips */
        if (in * t->bound > m || (m < 1e-30f && in > 0))
            m = t->kernel(t, x + b * t->nch, (e - b) * t->nch, m);
    }
    t->peak = m;
}

/* Measure n more frames of x (interleaved, finite). */
static inline void jtp_feed(jtp *t, const float *x, size_t n)
{
    if (!n)
        return;
    const size_t h = t->hist, nch = t->nch;
    if (!h) {
        t->peak = jtp_absmax(t, x, 0, n, t->peak);
        return;
    }
    /* the first frames, whose taps reach into the history: past[] holds
     * the history, then those frames */
    size_t head = n < h ? n : h;
    memcpy(t->past + h * nch, x, head * nch * sizeof *x);
    jtp_run(t, t->past + h * nch, head);
    /* the rest, in place: their taps are all in x */
    if (n > head)
        jtp_run(t, x + h * nch, n - h);
    /* the last h frames become the history */
    if (n >= h)
        memcpy(t->past, x + (n - h) * nch, h * nch * sizeof *x);
    else
        memmove(t->past, t->past + n * nch, h * nch * sizeof *x);
}

/* The true peak so far: the largest |x| of the samples and of the
 * oversampled points, over all channels (linear; 0 for silence). */
static inline float jtp_peak(const jtp *t)
{
    return t->peak;
}

#endif
