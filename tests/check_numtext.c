/* check_numtext.c — plugins/numtext.h: its tables (powers of ten, decimal
 * exponents) against ones recomputed here with schoolbook big-number arithmetic, and its
 * output against printf's %.*g, byte for byte, on random floats, on every
 * float around each power of ten, on subnormals and on the largest
 * floats, for every digit count. */
#include "numtext.h"

#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- a small unsigned big number: 32-bit limbs, least significant first */
#define LIMBS 16
typedef struct big {
    uint32_t l[LIMBS];
} big;

static void big_set_pow2(big *x, int k)
{
    memset(x, 0, sizeof *x);
    x->l[k / 32] = 1u << (k % 32);
}

static void big_mul_small(big *x, uint32_t m)
{
    uint64_t carry = 0;
    for (int i = 0; i < LIMBS; i++) {
        uint64_t v = (uint64_t)x->l[i] * m + carry;
        x->l[i] = (uint32_t)v;
        carry = v >> 32;
    }
    ck_assert_uint_eq(carry, 0);
}

/* x /= d; returns whether the division was exact */
static int big_div_small(big *x, uint32_t d)
{
    uint64_t rem = 0;
    for (int i = LIMBS - 1; i >= 0; i--) {
        uint64_t v = (rem << 32) | x->l[i];
        x->l[i] = (uint32_t)(v / d);
        rem = v % d;
    }
    return rem == 0;
}

/* x >>= k (k >= 0); returns whether no set bit was shifted out */
static int big_shr(big *x, int k)
{
    int exact = 1;
    for (int s = 0; s < k; s++) {
        exact &= !(x->l[0] & 1);
        for (int i = 0; i < LIMBS; i++)
            x->l[i] = (x->l[i] >> 1) | (i + 1 < LIMBS ? x->l[i + 1] << 31 : 0);
    }
    return exact;
}

START_TEST(test_table)
{
    for (int s = JP_POW10_MIN; s <= JP_POW10_MAX; s++) {
        const jp_pow10 *t = &jp_pow10_table[s - JP_POW10_MIN];
        /* floor(10^s / 2^b), computed two ways depending on signs */
        big x;
        int exact = 1;
        if (s >= 0) {
            big_set_pow2(&x, t->b < 0 ? -t->b : 0);
            for (int i = 0; i < s; i++)
                big_mul_small(&x, 10);
            if (t->b > 0)
                exact &= big_shr(&x, t->b);
        } else {
            ck_assert_int_lt(t->b, 0);
            big_set_pow2(&x, -t->b);
            for (int i = 0; i < -s; i++)
                exact &= big_div_small(&x, 10);
        }
        for (int i = 2; i < LIMBS; i++)
            ck_assert_msg(x.l[i] == 0, "1e%d: the significand is wider than 64 bits", s);
        uint64_t c = ((uint64_t)x.l[1] << 32) | x.l[0];
        ck_assert_msg(c == t->c, "1e%d: 0x%016llx in the table, 0x%016llx recomputed", s, (unsigned long long)t->c,
                      (unsigned long long)c);
        ck_assert_msg(c >> 63, "1e%d: not normalised", s);
        ck_assert_int_eq(t->exact, exact);
    }
}
END_TEST

static int big_cmp(const big *a, const big *b)
{
    for (int i = LIMBS - 1; i >= 0; i--)
        if (a->l[i] != b->l[i])
            return a->l[i] < b->l[i] ? -1 : 1;
    return 0;
}

/* The sign of m * 2^e - 10^k, exactly (e >= -149, k >= -46), both sides
 * scaled by 2^149 * 10^46 to be integers. */
static int cmp_pow10(uint32_t m, int e, int k)
{
    big a, b;
    big_set_pow2(&a, e + 149);
    big_mul_small(&a, m);
    for (int i = 0; i < 46; i++)
        big_mul_small(&a, 10);
    big_set_pow2(&b, 149);
    for (int i = 0; i < k + 46; i++)
        big_mul_small(&b, 10);
    return big_cmp(&a, &b);
}

/* A positive float's bits as m * 2^e. */
static void split(uint32_t bits, uint32_t *m, int *e)
{
    uint32_t ef = bits >> 23;
    *m = (bits & 0x7fffff) | (ef ? 1u << 23 : 0);
    *e = ef ? (int)ef - 150 : -149;
}

START_TEST(test_exponent_table)
{
    for (int l2 = -149; l2 <= 127; l2++) {
        int low = jp_exp10_low[l2 + 149];
        uint32_t up = jp_exp10_up[l2 + 149];
        /* 10^low <= 2^l2 < 10^(low+1) */
        ck_assert_msg(cmp_pow10(1, l2, low) >= 0 && cmp_pow10(1, l2, low + 1) < 0, "2^%d: low %d", l2, low);
        /* the floats with this l2: [first, last] */
        uint32_t first = l2 >= -126 ? (uint32_t)(l2 + 127) << 23 : 1u << (l2 + 149);
        uint32_t last = l2 >= -126 ? first | 0x7fffff : (first << 1) - 1;
        uint32_t m;
        int e;
        if (up == 0xffffffffu) {
            split(last, &m, &e);
            ck_assert_msg(cmp_pow10(m, e, low + 1) < 0, "2^%d: a float reaches 1e%d", l2, low + 1);
        } else {
            ck_assert_msg(up >= first && up <= last, "2^%d: up outside its floats", l2);
            split(up, &m, &e);
            ck_assert_msg(cmp_pow10(m, e, low + 1) >= 0, "2^%d: up below 1e%d", l2, low + 1);
            split(up - 1, &m, &e);
            ck_assert_msg(up == first || cmp_pow10(m, e, low + 1) < 0, "2^%d: up not the smallest", l2);
        }
    }
}
END_TEST

/* Comparisons count mismatches and keep the first: an assertion per value
 * would cost Check a write to its pipe each. */
static unsigned long long checked, mismatched;
static char first_mismatch[256];

static void same_as_printf(float v, int digits)
{
    char got[64], want[64];
    size_t n = jp_put_float(got, v, digits);
    got[n < 63 ? n : 63] = '\0';
    snprintf(want, sizeof want, "%.*g", digits, (double)v);
    if (n > 16 || strcmp(got, want)) {
        if (!mismatched++)
            snprintf(first_mismatch, sizeof first_mismatch, "%a with %d digits: \"%s\", printf writes \"%s\"",
                     (double)v, digits, got, want);
    }
    checked++;
}

static void no_mismatch(void)
{
    ck_assert_msg(mismatched == 0, "%llu of %llu differ from printf; the first: %s", mismatched, checked,
                  first_mismatch);
}

static uint64_t rng = 0x9e3779b97f4a7c15u;
static uint64_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

START_TEST(test_random_bits)
{
    /* every bit pattern is a float: NaNs and infinities included, which go
     * to printf; how often the fast path gives up is counted */
    unsigned long long undecided = 0, finite = 0;
    for (int i = 0; i < 1000000; i++) {
        uint32_t b = (uint32_t)next();
        float v;
        memcpy(&v, &b, sizeof v);
        same_as_printf(v, 9);
        same_as_printf(v, 1 + (int)(next() % 9));
        if (isfinite(v) && v != 0) {
            uint32_t n;
            int x;
            finite++;
            undecided += jp_round_float(fabsf(v), 9, &n, &x) != 0;
        }
    }
    /* the fast path must be the path: a broken bound would send every value
     * to printf and still pass the comparisons above */
    ck_assert_msg(undecided * 10000 < finite, "%llu of %llu undecided", undecided, finite);
    no_mismatch();
}
END_TEST

START_TEST(test_signal_values)
{
    /* values as signals and features have them: uniform in a few decades */
    for (int i = 0; i < 300000; i++) {
        double u = (double)(next() >> 11) / 9007199254740992.0;
        float v = (float)((u * 2 - 1) * pow(10.0, (int)(next() % 12) - 6));
        for (int d = 1; d <= 9; d++)
            same_as_printf(v, d);
    }
    no_mismatch();
}
END_TEST

START_TEST(test_powers_of_ten)
{
    /* where the exponent estimate and the carry into a new decade matter */
    for (int e = -45; e <= 38; e++) {
        float c = (float)pow(10.0, e);
        for (int dir = 0; dir < 2; dir++) {
            float v = c;
            for (int k = 0; k < 3000 && v > 0 && isfinite(v); k++) {
                for (int d = 1; d <= 9; d++) {
                    same_as_printf(v, d);
                    same_as_printf(-v, d);
                }
                v = nextafterf(v, dir ? INFINITY : 0);
            }
        }
    }
    no_mismatch();
}
END_TEST

START_TEST(test_extremes)
{
    for (uint32_t b = 1; b < 300000; b++) { /* the smallest subnormals */
        float v;
        memcpy(&v, &b, sizeof v);
        same_as_printf(v, 9);
        same_as_printf(v, 1 + b % 9);
    }
    for (uint32_t b = 0x7f7fffffu; b > 0x7f7fffffu - 300000; b--) { /* up to FLT_MAX */
        float v;
        memcpy(&v, &b, sizeof v);
        same_as_printf(v, 9);
        same_as_printf(v, 1 + b % 9);
    }
    /* half-way cases: exact ties, which round to even as printf does */
    static const float ties[] = {0.5f, 1.5f, 2.5f, 0.125f, 0.375f, 1234567.5f, 8388607.5f, 16777215.0f, 9.5f, 95.0f};
    for (size_t i = 0; i < sizeof ties / sizeof ties[0]; i++)
        for (int d = 1; d <= 9; d++)
            same_as_printf(ties[i], d);
    /* what does not go through the fast path */
    same_as_printf(0.0f, 9);
    same_as_printf(-0.0f, 9);
    same_as_printf(INFINITY, 9);
    same_as_printf(-INFINITY, 3);
    same_as_printf(NAN, 9);
    ck_assert_uint_gt(checked, 0);
    no_mismatch();
}
END_TEST

int main(void)
{
    Suite *s = suite_create("numtext");
    TCase *tc = tcase_create("numtext");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_table);
    tcase_add_test(tc, test_exponent_table);
    tcase_add_test(tc, test_random_bits);
    tcase_add_test(tc, test_signal_values);
    tcase_add_test(tc, test_powers_of_ten);
    tcase_add_test(tc, test_extremes);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
