/* numtext.h — numbers as text for the shipped sinks: a float written with
 * N significant digits, byte for byte what printf("%.*g", N, (double)v)
 * writes, several times faster.
 *
 * Why not printf: a sink writing a spectral-feature table spends most of a
 * re-run served from the cache in printf's exact decimal conversion, which
 * works on any double with arbitrary precision. A float has a 24-bit
 * significand, so v * 10^s, scaled to N integer digits, is the product of
 * that significand and a 64-bit approximation of 10^s: exact to within
 * 2^-33 of a unit. Rounding is decided from that product; in the rare case
 * where the error could change it (the fraction is within the error of
 * one half), printf decides. So the output never differs from printf's,
 * and tests compare the two on millions of floats and on every float
 * around each power of ten.
 *
 * The table below holds 10^s for s in [-39, 55] as c * 2^b with c in
 * [2^63, 2^64), c rounded down, and whether it is exact: computed with
 * exact integer arithmetic (5^s for s >= 0; floor(2^k / 5^-s) otherwise),
 * and checked the same way by tests/check_numtext.c.
 *
 * Header-only and libc-only, like util.h. */
#ifndef JOULE_PLUGINS_NUMTEXT_H
#define JOULE_PLUGINS_NUMTEXT_H

#include <stdint.h>
#include <stdio.h>
#include <string.h>

typedef struct jp_pow10 {
    uint64_t c; /* 10^s = c * 2^b, c rounded down ... */
    int b;
    int exact;  /* ... or exactly                     */
} jp_pow10;

#define JP_POW10_MIN (-39)
#define JP_POW10_MAX 55

static const jp_pow10 jp_pow10_table[] = {
    {0xae397d8aa96c1b77u, -193, 0}, /* 1e-39 */
    {0xd9c7dced53c72255u, -190, 0}, /* 1e-38 */
    {0x881cea14545c7575u, -186, 0}, /* 1e-37 */
    {0xaa242499697392d2u, -183, 0}, /* 1e-36 */
    {0xd4ad2dbfc3d07787u, -180, 0}, /* 1e-35 */
    {0x84ec3c97da624ab4u, -176, 0}, /* 1e-34 */
    {0xa6274bbdd0fadd61u, -173, 0}, /* 1e-33 */
    {0xcfb11ead453994bau, -170, 0}, /* 1e-32 */
    {0x81ceb32c4b43fcf4u, -166, 0}, /* 1e-31 */
    {0xa2425ff75e14fc31u, -163, 0}, /* 1e-30 */
    {0xcad2f7f5359a3b3eu, -160, 0}, /* 1e-29 */
    {0xfd87b5f28300ca0du, -157, 0}, /* 1e-28 */
    {0x9e74d1b791e07e48u, -153, 0}, /* 1e-27 */
    {0xc612062576589ddau, -150, 0}, /* 1e-26 */
    {0xf79687aed3eec551u, -147, 0}, /* 1e-25 */
    {0x9abe14cd44753b52u, -143, 0}, /* 1e-24 */
    {0xc16d9a0095928a27u, -140, 0}, /* 1e-23 */
    {0xf1c90080baf72cb1u, -137, 0}, /* 1e-22 */
    {0x971da05074da7beeu, -133, 0}, /* 1e-21 */
    {0xbce5086492111aeau, -130, 0}, /* 1e-20 */
    {0xec1e4a7db69561a5u, -127, 0}, /* 1e-19 */
    {0x9392ee8e921d5d07u, -123, 0}, /* 1e-18 */
    {0xb877aa3236a4b449u, -120, 0}, /* 1e-17 */
    {0xe69594bec44de15bu, -117, 0}, /* 1e-16 */
    {0x901d7cf73ab0acd9u, -113, 0}, /* 1e-15 */
    {0xb424dc35095cd80fu, -110, 0}, /* 1e-14 */
    {0xe12e13424bb40e13u, -107, 0}, /* 1e-13 */
    {0x8cbccc096f5088cbu, -103, 0}, /* 1e-12 */
    {0xafebff0bcb24aafeu, -100, 0}, /* 1e-11 */
    {0xdbe6fecebdedd5beu, -97, 0}, /* 1e-10 */
    {0x89705f4136b4a597u, -93, 0}, /* 1e-9 */
    {0xabcc77118461cefcu, -90, 0}, /* 1e-8 */
    {0xd6bf94d5e57a42bcu, -87, 0}, /* 1e-7 */
    {0x8637bd05af6c69b5u, -83, 0}, /* 1e-6 */
    {0xa7c5ac471b478423u, -80, 0}, /* 1e-5 */
    {0xd1b71758e219652bu, -77, 0}, /* 1e-4 */
    {0x83126e978d4fdf3bu, -73, 0}, /* 1e-3 */
    {0xa3d70a3d70a3d70au, -70, 0}, /* 1e-2 */
    {0xccccccccccccccccu, -67, 0}, /* 1e-1 */
    {0x8000000000000000u, -63, 1}, /* 1e0 */
    {0xa000000000000000u, -60, 1}, /* 1e1 */
    {0xc800000000000000u, -57, 1}, /* 1e2 */
    {0xfa00000000000000u, -54, 1}, /* 1e3 */
    {0x9c40000000000000u, -50, 1}, /* 1e4 */
    {0xc350000000000000u, -47, 1}, /* 1e5 */
    {0xf424000000000000u, -44, 1}, /* 1e6 */
    {0x9896800000000000u, -40, 1}, /* 1e7 */
    {0xbebc200000000000u, -37, 1}, /* 1e8 */
    {0xee6b280000000000u, -34, 1}, /* 1e9 */
    {0x9502f90000000000u, -30, 1}, /* 1e10 */
    {0xba43b74000000000u, -27, 1}, /* 1e11 */
    {0xe8d4a51000000000u, -24, 1}, /* 1e12 */
    {0x9184e72a00000000u, -20, 1}, /* 1e13 */
    {0xb5e620f480000000u, -17, 1}, /* 1e14 */
    {0xe35fa931a0000000u, -14, 1}, /* 1e15 */
    {0x8e1bc9bf04000000u, -10, 1}, /* 1e16 */
    {0xb1a2bc2ec5000000u, -7, 1}, /* 1e17 */
    {0xde0b6b3a76400000u, -4, 1}, /* 1e18 */
    {0x8ac7230489e80000u, 0, 1}, /* 1e19 */
    {0xad78ebc5ac620000u, 3, 1}, /* 1e20 */
    {0xd8d726b7177a8000u, 6, 1}, /* 1e21 */
    {0x878678326eac9000u, 10, 1}, /* 1e22 */
    {0xa968163f0a57b400u, 13, 1}, /* 1e23 */
    {0xd3c21bcecceda100u, 16, 1}, /* 1e24 */
    {0x84595161401484a0u, 20, 1}, /* 1e25 */
    {0xa56fa5b99019a5c8u, 23, 1}, /* 1e26 */
    {0xcecb8f27f4200f3au, 26, 1}, /* 1e27 */
    {0x813f3978f8940984u, 30, 0}, /* 1e28 */
    {0xa18f07d736b90be5u, 33, 0}, /* 1e29 */
    {0xc9f2c9cd04674edeu, 36, 0}, /* 1e30 */
    {0xfc6f7c4045812296u, 39, 0}, /* 1e31 */
    {0x9dc5ada82b70b59du, 43, 0}, /* 1e32 */
    {0xc5371912364ce305u, 46, 0}, /* 1e33 */
    {0xf684df56c3e01bc6u, 49, 0}, /* 1e34 */
    {0x9a130b963a6c115cu, 53, 0}, /* 1e35 */
    {0xc097ce7bc90715b3u, 56, 0}, /* 1e36 */
    {0xf0bdc21abb48db20u, 59, 0}, /* 1e37 */
    {0x96769950b50d88f4u, 63, 0}, /* 1e38 */
    {0xbc143fa4e250eb31u, 66, 0}, /* 1e39 */
    {0xeb194f8e1ae525fdu, 69, 0}, /* 1e40 */
    {0x92efd1b8d0cf37beu, 73, 0}, /* 1e41 */
    {0xb7abc627050305adu, 76, 0}, /* 1e42 */
    {0xe596b7b0c643c719u, 79, 0}, /* 1e43 */
    {0x8f7e32ce7bea5c6fu, 83, 0}, /* 1e44 */
    {0xb35dbf821ae4f38bu, 86, 0}, /* 1e45 */
    {0xe0352f62a19e306eu, 89, 0}, /* 1e46 */
    {0x8c213d9da502de45u, 93, 0}, /* 1e47 */
    {0xaf298d050e4395d6u, 96, 0}, /* 1e48 */
    {0xdaf3f04651d47b4cu, 99, 0}, /* 1e49 */
    {0x88d8762bf324cd0fu, 103, 0}, /* 1e50 */
    {0xab0e93b6efee0053u, 106, 0}, /* 1e51 */
    {0xd5d238a4abe98068u, 109, 0}, /* 1e52 */
    {0x85a36366eb71f041u, 113, 0}, /* 1e53 */
    {0xa70c3c40a64e6c51u, 116, 0}, /* 1e54 */
    {0xd0cf4b50cfe20765u, 119, 0}, /* 1e55 */
};

/* The decimal exponent of a float from its binary one: for l2 =
 * floor(log2 v) in [-149, 127], 10^low <= 2^l2 < 10^(low + 1), and up is
 * the bit pattern of the smallest float >= 10^(low + 1) with that l2
 * (0xffffffff when there is none): floor(log10 v) = low + (bits >= up).
 * Computed with exact rational arithmetic; tests/check_numtext.c checks
 * them the same way. (A wrong entry would only cost time: the rounding
 * loop below corrects the exponent.) */
static const int8_t jp_exp10_low[] = {
    -45, -45, -45, -44, -44, -44, -44, -43, -43, -43, -42, -42, -42, -41, -41, -41, -41, -40, -40, -40, -39, -39,
    -39, -38, -38, -38, -38, -37, -37, -37, -36, -36, -36, -35, -35, -35, -35, -34, -34, -34, -33, -33, -33, -32,
    -32, -32, -32, -31, -31, -31, -30, -30, -30, -29, -29, -29, -28, -28, -28, -28, -27, -27, -27, -26, -26, -26,
    -25, -25, -25, -25, -24, -24, -24, -23, -23, -23, -22, -22, -22, -22, -21, -21, -21, -20, -20, -20, -19, -19,
    -19, -19, -18, -18, -18, -17, -17, -17, -16, -16, -16, -16, -15, -15, -15, -14, -14, -14, -13, -13, -13, -13,
    -12, -12, -12, -11, -11, -11, -10, -10, -10, -10, -9, -9, -9, -8, -8, -8, -7, -7, -7, -7, -6, -6, -6, -5, -5,
    -5, -4, -4, -4, -4, -3, -3, -3, -2, -2, -2, -1, -1, -1, 0, 0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 5, 5,
    5, 6, 6, 6, 6, 7, 7, 7, 8, 8, 8, 9, 9, 9, 9, 10, 10, 10, 11, 11, 11, 12, 12, 12, 12, 13, 13, 13, 14, 14, 14, 15,
    15, 15, 15, 16, 16, 16, 17, 17, 17, 18, 18, 18, 18, 19, 19, 19, 20, 20, 20, 21, 21, 21, 21, 22, 22, 22, 23, 23,
    23, 24, 24, 24, 24, 25, 25, 25, 26, 26, 26, 27, 27, 27, 27, 28, 28, 28, 29, 29, 29, 30, 30, 30, 31, 31, 31, 31,
    32, 32, 32, 33, 33, 33, 34, 34, 34, 34, 35, 35, 35, 36, 36, 36, 37, 37, 37, 37, 38
};
static const uint32_t jp_exp10_up[] = {
    0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu, 0x00000048u, 0xffffffffu,
    0xffffffffu, 0x000002cau, 0xffffffffu, 0xffffffffu, 0x00001be1u, 0xffffffffu, 0xffffffffu, 0xffffffffu,
    0x000116c3u, 0xffffffffu, 0xffffffffu, 0x000ae398u, 0xffffffffu, 0xffffffffu, 0x006ce3efu, 0xffffffffu,
    0xffffffffu, 0xffffffffu, 0x02081cebu, 0xffffffffu, 0xffffffffu, 0x03aa2425u, 0xffffffffu, 0xffffffffu,
    0x0554ad2eu, 0xffffffffu, 0xffffffffu, 0xffffffffu, 0x0704ec3du, 0xffffffffu, 0xffffffffu, 0x08a6274cu,
    0xffffffffu, 0xffffffffu, 0x0a4fb11fu, 0xffffffffu, 0xffffffffu, 0xffffffffu, 0x0c01ceb4u, 0xffffffffu,
    0xffffffffu, 0x0da24260u, 0xffffffffu, 0xffffffffu, 0x0f4ad2f8u, 0xffffffffu, 0xffffffffu, 0x10fd87b6u,
    0xffffffffu, 0xffffffffu, 0xffffffffu, 0x129e74d2u, 0xffffffffu, 0xffffffffu, 0x14461207u, 0xffffffffu,
    0xffffffffu, 0x15f79688u, 0xffffffffu, 0xffffffffu, 0xffffffffu, 0x179abe15u, 0xffffffffu, 0xffffffffu,
    0x19416d9bu, 0xffffffffu, 0xffffffffu, 0x1af1c901u, 0xffffffffu, 0xffffffffu, 0xffffffffu, 0x1c971da1u,
    0xffffffffu, 0xffffffffu, 0x1e3ce509u, 0xffffffffu, 0xffffffffu, 0x1fec1e4bu, 0xffffffffu, 0xffffffffu,
    0xffffffffu, 0x219392efu, 0xffffffffu, 0xffffffffu, 0x233877abu, 0xffffffffu, 0xffffffffu, 0x24e69595u,
    0xffffffffu, 0xffffffffu, 0xffffffffu, 0x26901d7du, 0xffffffffu, 0xffffffffu, 0x283424ddu, 0xffffffffu,
    0xffffffffu, 0x29e12e14u, 0xffffffffu, 0xffffffffu, 0xffffffffu, 0x2b8cbccdu, 0xffffffffu, 0xffffffffu,
    0x2d2fec00u, 0xffffffffu, 0xffffffffu, 0x2edbe6ffu, 0xffffffffu, 0xffffffffu, 0xffffffffu, 0x30897060u,
    0xffffffffu, 0xffffffffu, 0x322bcc78u, 0xffffffffu, 0xffffffffu, 0x33d6bf95u, 0xffffffffu, 0xffffffffu,
    0xffffffffu, 0x358637beu, 0xffffffffu, 0xffffffffu, 0x3727c5adu, 0xffffffffu, 0xffffffffu, 0x38d1b718u,
    0xffffffffu, 0xffffffffu, 0xffffffffu, 0x3a83126fu, 0xffffffffu, 0xffffffffu, 0x3c23d70bu, 0xffffffffu,
    0xffffffffu, 0x3dcccccdu, 0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu,
    0x41200000u, 0xffffffffu, 0xffffffffu, 0x42c80000u, 0xffffffffu, 0xffffffffu, 0x447a0000u, 0xffffffffu,
    0xffffffffu, 0xffffffffu, 0x461c4000u, 0xffffffffu, 0xffffffffu, 0x47c35000u, 0xffffffffu, 0xffffffffu,
    0x49742400u, 0xffffffffu, 0xffffffffu, 0xffffffffu, 0x4b189680u, 0xffffffffu, 0xffffffffu, 0x4cbebc20u,
    0xffffffffu, 0xffffffffu, 0x4e6e6b28u, 0xffffffffu, 0xffffffffu, 0xffffffffu, 0x501502f9u, 0xffffffffu,
    0xffffffffu, 0x51ba43b8u, 0xffffffffu, 0xffffffffu, 0x5368d4a6u, 0xffffffffu, 0xffffffffu, 0xffffffffu,
    0x551184e8u, 0xffffffffu, 0xffffffffu, 0x56b5e621u, 0xffffffffu, 0xffffffffu, 0x58635faau, 0xffffffffu,
    0xffffffffu, 0xffffffffu, 0x5a0e1bcau, 0xffffffffu, 0xffffffffu, 0x5bb1a2bdu, 0xffffffffu, 0xffffffffu,
    0x5d5e0b6cu, 0xffffffffu, 0xffffffffu, 0xffffffffu, 0x5f0ac724u, 0xffffffffu, 0xffffffffu, 0x60ad78ecu,
    0xffffffffu, 0xffffffffu, 0x6258d727u, 0xffffffffu, 0xffffffffu, 0xffffffffu, 0x64078679u, 0xffffffffu,
    0xffffffffu, 0x65a96817u, 0xffffffffu, 0xffffffffu, 0x6753c21cu, 0xffffffffu, 0xffffffffu, 0xffffffffu,
    0x69045952u, 0xffffffffu, 0xffffffffu, 0x6aa56fa6u, 0xffffffffu, 0xffffffffu, 0x6c4ecb90u, 0xffffffffu,
    0xffffffffu, 0xffffffffu, 0x6e013f3au, 0xffffffffu, 0xffffffffu, 0x6fa18f08u, 0xffffffffu, 0xffffffffu,
    0x7149f2cau, 0xffffffffu, 0xffffffffu, 0x72fc6f7du, 0xffffffffu, 0xffffffffu, 0xffffffffu, 0x749dc5aeu,
    0xffffffffu, 0xffffffffu, 0x7645371au, 0xffffffffu, 0xffffffffu, 0x77f684e0u, 0xffffffffu, 0xffffffffu,
    0xffffffffu, 0x799a130cu, 0xffffffffu, 0xffffffffu, 0x7b4097cfu, 0xffffffffu, 0xffffffffu, 0x7cf0bdc3u,
    0xffffffffu, 0xffffffffu, 0xffffffffu, 0x7e96769au, 0xffffffffu
};

/* The `k` digits of n (n < 10^k, leading zeros written) ending at `end`,
 * two at a time from the right. */
static inline void jp_digits(char *end, uint32_t n, int k)
{
    static const char pairs[] = "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
                                "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
                                "8081828384858687888990919293949596979899";
    while (k >= 2) {
        uint32_t q = n / 100, r = n - q * 100;
        end -= 2;
        memcpy(end, pairs + 2 * r, 2);
        n = q;
        k -= 2;
    }
    if (k)
        end[-1] = (char)('0' + n);
}

/* v rounded to `digits` significant digits: *n (10^(digits-1) <= *n <
 * 10^digits) and its decimal exponent *x, v ~ n * 10^(x - digits + 1).
 * v is finite and positive. Returns 0, or -1 when the rounding cannot be
 * decided from the approximation (then the caller asks printf). */
static inline int jp_round_float(float v, int digits, uint32_t *n, int *x)
{
    static const uint32_t p10[] = {1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000, 1000000000};
    uint32_t bits;
    memcpy(&bits, &v, sizeof bits);
    uint32_t ef = (bits >> 23) & 0xff;
    uint64_t m = bits & 0x7fffff;
    int e;
    if (ef) {
        m |= 1u << 23;
        e = (int)ef - 150;
    } else {
        e = -149;
    }
    int l2 = e + 63 - __builtin_clzll(m); /* floor(log2 v) */
    int E = jp_exp10_low[l2 + 149] + ((bits & 0x7fffffffu) >= jp_exp10_up[l2 + 149]);
    /* a second round only when rounding carries into the next decade */
    for (int round = 0; round < 3; round++) {
        int s = digits - 1 - E;
        if (s < JP_POW10_MIN || s > JP_POW10_MAX)
            return -1;
        const jp_pow10 *t = &jp_pow10_table[s - JP_POW10_MIN];
        unsigned __int128 prod = (unsigned __int128)m * t->c;
        int shift = -(e + t->b);
        if (shift <= 1 || shift >= 120)
            return -1;
        unsigned __int128 one = (unsigned __int128)1 << shift;
        unsigned __int128 frac = prod & (one - 1), half = one >> 1;
        uint64_t ip = (uint64_t)(prod >> shift);
        /* the exact product lies in [prod, prod + m) when 10^s is not
         * exact: undecidable if that interval holds the half */
        if (!t->exact && frac < half && half - frac <= m)
            return -1;
        uint64_t r = ip + (frac > half || (frac == half && (!t->exact || (ip & 1))));
        if (r >= p10[digits]) {
            E++;
            continue;
        }
        if (r < p10[digits - 1]) {
            E--;
            continue;
        }
        *n = (uint32_t)r;
        *x = E;
        return 0;
    }
    return -1;
}

/* v with `digits` (1..9) significant digits, as printf's %.*g writes it:
 * "0.25", "1e+10", "-3.40282347e+38". Writes at most 16 bytes, no NUL;
 * returns the length. */
static inline size_t jp_put_float(char *p, float v, int digits)
{
    uint32_t n;
    int x;
    if (digits < 1 || digits > 9 || !(v == v) || v == 0 || v - v != 0 ||
        jp_round_float(v < 0 ? -v : v, digits, &n, &x)) {
        char buf[48];
        int len = snprintf(buf, sizeof buf, "%.*g", digits, (double)v);
        memcpy(p, buf, (size_t)len);
        return (size_t)len;
    }
    static const uint32_t p10[] = {1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000};
    int k = digits;
    while (k > 1 && n % 10 == 0) { /* %g drops trailing zeros */
        n /= 10;
        k--;
    }
    char *start = p;
    if (v < 0)
        *p++ = '-';
    if (x < -4 || x >= digits) { /* d[.ddd]e+XX */
        uint32_t lead = n / p10[k - 1];
        *p++ = (char)('0' + lead);
        if (k > 1) {
            *p++ = '.';
            jp_digits(p + k - 1, n - lead * p10[k - 1], k - 1);
            p += k - 1;
        }
        *p++ = 'e';
        *p++ = x < 0 ? '-' : '+';
        int ax = x < 0 ? -x : x;
        if (ax >= 100)
            *p++ = (char)('0' + ax / 100);
        *p++ = (char)('0' + ax / 10 % 10);
        *p++ = (char)('0' + ax % 10);
    } else if (x >= 0) {
        int ip = x + 1; /* digits before the point */
        if (k <= ip) {
            jp_digits(p + k, n, k);
            memset(p + k, '0', (size_t)(ip - k));
            p += ip;
        } else {
            uint32_t whole = n / p10[k - ip];
            jp_digits(p + ip, whole, ip);
            p[ip] = '.';
            jp_digits(p + k + 1, n - whole * p10[k - ip], k - ip);
            p += k + 1;
        }
    } else { /* 0.000ddd */
        *p++ = '0';
        *p++ = '.';
        memset(p, '0', (size_t)(-x - 1));
        p += -x - 1;
        jp_digits(p + k, n, k);
        p += k;
    }
    return (size_t)(p - start);
}

#endif
