/* gen_gait.c — see gen_gait.h. */
#include "gen_gait.h"

#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define G0 9.80665

double gg_uniform(gg_rng *r)
{
    r->s ^= r->s >> 12;
    r->s ^= r->s << 25;
    r->s ^= r->s >> 27;
    return (double)((r->s * 2685821657736338717ull) >> 11) / 9007199254740992.0;
}

double gg_normal(gg_rng *r)
{
    double u = gg_uniform(r), v = gg_uniform(r);
    if (u < 1e-300)
        u = 1e-300;
    return sqrt(-2.0 * log(u)) * cos(2.0 * M_PI * v);
}

/* Rotation matrix from yaw (z), pitch (y), roll (x), degrees. */
static void rot(double yaw, double pitch, double roll, double R[3][3])
{
    double a = yaw * M_PI / 180, b = pitch * M_PI / 180, c = roll * M_PI / 180;
    double ca = cos(a), sa = sin(a), cb = cos(b), sb = sin(b), cc = cos(c), sc = sin(c);
    R[0][0] = ca * cb;
    R[0][1] = ca * sb * sc - sa * cc;
    R[0][2] = ca * sb * cc + sa * sc;
    R[1][0] = sa * cb;
    R[1][1] = sa * sb * sc + ca * cc;
    R[1][2] = sa * sb * cc - ca * sc;
    R[2][0] = -sb;
    R[2][1] = cb * sc;
    R[2][2] = cb * cc;
}

static void mul(double R[3][3], const double v[3], double out[3])
{
    for (int i = 0; i < 3; i++)
        out[i] = R[i][0] * v[0] + R[i][1] * v[1] + R[i][2] * v[2];
}

void gg_walk_csv(const char *path, const gg_walk_opts *o, double **steps_out, size_t *n_out)
{
    gg_rng rng = {o->seed ? o->seed : 88172645463325252ull};
    double total = 0;
    for (size_t p = 0; p < o->n_parts; p++)
        total += o->parts[p].seconds;
    /* step times: the phase advances at the cadence; a step where it
     * crosses a whole number */
    size_t cap = (size_t)(total * 4) + 16, n = 0;
    double *st = malloc(cap * sizeof *st);
    double t = 0, phase = 0.5; /* the first step half a period in */
    const double dt = 1e-4;
    for (size_t p = 0; p < o->n_parts; p++) {
        const gg_part *q = &o->parts[p];
        double t1 = t + q->seconds;
        if (q->c0 <= 0) {
            t = t1;
            phase = 0.5;
            continue;
        }
        for (; t < t1 - 1e-12; t += dt) {
            double c = q->c0 + (q->c1 - q->c0) * (t1 - q->seconds > t ? 0 : (t - (t1 - q->seconds)) / q->seconds);
            double before = phase;
            phase += c / 60.0 * dt;
            if (floor(phase) > floor(before) && n < cap)
                st[n++] = t + dt * (floor(phase) - before) / (phase - before);
        }
        t = t1;
        phase = 0.5;
    }
    for (size_t i = 0; i < n; i++)
        st[i] += o->jitter * gg_normal(&rng);
    for (size_t i = 1; i < n; i++)
        if (st[i] < st[i - 1] + 0.2)
            st[i] = st[i - 1] + 0.2;
    /* samples */
    FILE *f = fopen(path, "w");
    if (!f) {
        perror(path);
        exit(99);
    }
    static const char *const tunit[] = {"t", "t [ms]", "t [us]", "t [ns]"};
    fprintf(f, "%s,ax,ay,az,gx,gy,gz\n", tunit[o->time_unit & 3]);
    double R[3][3];
    rot(o->yaw, o->pitch, o->roll, R);
    size_t ns = (size_t)(total * o->rate);
    size_t k0 = 0; /* first step that can matter */
    for (size_t k = 0; k < ns; k++) {
        double tk = k / o->rate;
        if (o->ts_jitter > 0 && k > 0)
            tk += (gg_uniform(&rng) - 0.5) * 2 * o->ts_jitter / o->rate;
        /* which part, and the heading */
        double acc_t = 0, heading = 0, turn_rate = 0;
        int walking = 0;
        for (size_t p = 0; p < o->n_parts; p++) {
            const gg_part *q = &o->parts[p];
            if (tk < acc_t + q->seconds || p + 1 == o->n_parts) {
                double frac = (tk - acc_t) / q->seconds;
                heading += q->turn * (frac < 0 ? 0 : frac > 1 ? 1 : frac);
                turn_rate = q->turn / q->seconds;
                walking = q->c0 > 0;
                break;
            }
            heading += q->turn;
            acc_t += q->seconds;
        }
        /* vertical: a pulse per step; sway at the stride frequency */
        while (k0 < n && st[k0] < tk - 1.0)
            k0++;
        double av = 0;
        for (size_t i = k0; i < n && st[i] < tk + 1.0; i++) {
            double tau = tk - st[i], A = o->amp * (1.0 + o->asym * ((i & 1) ? 1.0 : -1.0));
            av += A * (exp(-tau * tau / (2 * 0.07 * 0.07)) - 0.35 * exp(-(tau - 0.2) * (tau - 0.2) / (2 * 0.08 * 0.08)));
        }
        double ml = 0, ap = 0, sway = 0;
        if (walking && n) {
            /* step phase between the surrounding steps */
            size_t i = k0;
            while (i + 1 < n && st[i + 1] <= tk)
                i++;
            if (i + 1 < n && st[i] <= tk) {
                double ph = i + (tk - st[i]) / (st[i + 1] - st[i]);
                ml = 0.4 * o->amp * sin(M_PI * ph);
                ap = 0.3 * o->amp * sin(2 * M_PI * ph + 1.0);
                sway = 0.3 * sin(M_PI * ph);
            }
        }
        double h = heading * M_PI / 180;
        double aw[3] = {ap * cos(h) - ml * sin(h), ap * sin(h) + ml * cos(h), av + G0};
        double wb[3] = {sway * cos(h), sway * sin(h), turn_rate * M_PI / 180};
        double ad[3], gd[3];
        mul(R, aw, ad);
        mul(R, wb, gd);
        for (int j = 0; j < 3; j++) {
            ad[j] += o->noise * gg_normal(&rng);
            gd[j] += 0.01 * gg_normal(&rng);
        }
        switch (o->time_unit) {
        case 1: fprintf(f, "%.4f", tk * 1e3); break;
        case 2: fprintf(f, "%lld", (long long)llround(tk * 1e6)); break;
        case 3: fprintf(f, "%lld", 263239144953734ll + (long long)llround(tk * 1e9)); break;
        default: fprintf(f, "%.7f", tk); break;
        }
        fprintf(f, ",%.6f,%.6f,%.6f,%.6f,%.6f,%.6f\n", ad[0], ad[1], ad[2], gd[0], gd[1], gd[2]);
    }
    fclose(f);
    *steps_out = st;
    *n_out = n;
}

gg_cycle *gg_angles_csv(const char *path, const gg_angles_opts *o)
{
    gg_rng rng = {o->seed ? o->seed : 2463534242ull};
    size_t n = o->n_cycles;
    gg_cycle *cy = calloc(n, sizeof *cy);
    double t = 0.37;
    for (size_t k = 0; k < n; k++) {
        cy[k].start = t;
        cy[k].dur = 1.1 + (gg_uniform(&rng) - 0.5) * 0.1;
        for (int j = 0; j < 4; j++) {
            cy[k].rom[j] = o->rom[j] + (gg_uniform(&rng) - 0.5) * 2 * o->rom_var;
            cy[k].base[j] = o->base[j] + (gg_uniform(&rng) - 0.5) * 2 * o->base_var;
        }
        for (size_t a = 0; a < o->n_abnormal; a++)
            if (o->abnormal[a] == k) {
                cy[k].abnormal = 1;
                switch (a % 3) {
                case 0: cy[k].rom[0] *= 0.5; break;          /* stiff knee */
                case 1: cy[k].base[2] += 25; break;          /* hip flexed */
                default: cy[k].rom[1] *= 1.6; break;         /* contra knee */
                }
            }
        t += cy[k].dur;
    }
    double end = t + 0.4;
    FILE *f = fopen(path, "w");
    if (!f) {
        perror(path);
        exit(99);
    }
    fputs("t,phase,knee_flexion_angle_ipsi,knee_flexion_angle_contra,hip_flexion_angle_ipsi,"
          "hip_flexion_angle_contra,hs,cycle\n",
          f);
    size_t ns = (size_t)(end * o->rate);
    size_t k = 0;
    for (size_t i = 0; i < ns; i++) {
        double tk = i / o->rate;
        while (k < n && tk >= cy[k].start + cy[k].dur)
            k++;
        double ph;
        const gg_cycle *c;
        gg_cycle pre;
        if (tk < cy[0].start) { /* the end of a cycle before the first */
            pre = cy[0];
            pre.start = cy[0].start - cy[0].dur;
            c = &pre;
        } else if (k < n) {
            c = &cy[k];
        } else { /* a partial cycle after the last */
            pre = cy[n - 1];
            pre.start = cy[n - 1].start + cy[n - 1].dur;
            c = &pre;
        }
        ph = (tk - c->start) / c->dur;
        double v[4];
        for (int j = 0; j < 4; j++) {
            double p = (j & 1) ? ph - 0.5 : ph;
            v[j] = c->base[j] + c->rom[j] * (1 - cos(2 * M_PI * p)) / 2;
        }
        double hs = 0;
        for (size_t q = 0; q <= n; q++) { /* the starts, and the end of the last */
            double tau = tk - (q < n ? cy[q].start : cy[n - 1].start + cy[n - 1].dur);
            hs += 10 * exp(-tau * tau / (2 * 0.03 * 0.03));
        }
        int cnum = tk < cy[0].start ? 0 : k < n ? (int)k + 1 : (int)n + 1;
        fprintf(f, "%.4f,%.4f,%.5f,%.5f,%.5f,%.5f,%.5f,%d\n", tk, 100 * ph, v[0], v[1], v[2], v[3], hs, cnum);
    }
    fclose(f);
    return cy;
}

const char *gg_invariance(const char *graph, const char *input, const char *out_name, const char *extra)
{
    static char msg[1024];
    (void)extra;
    char g[512], in[600];
    snprintf(g, sizeof g, "%s", graph); /* tu_path's buffers are recycled */
    snprintf(in, sizeof in, "'%s'", input);
    const char *outs[1] = {out_name};
    char *why = tu_invariance(g, in, outs, 1);
    if (!why)
        return NULL;
    snprintf(msg, sizeof msg, "%s", why);
    free(why);
    return msg;
}

double gg_f1(const double *truth, size_t nt, const double *found, size_t nf, double tol)
{
    size_t i = 0, j = 0, tp = 0;
    while (i < nt && j < nf) {
        if (fabs(found[j] - truth[i]) <= tol) {
            tp++;
            i++;
            j++;
        } else if (found[j] < truth[i]) {
            j++;
        } else {
            i++;
        }
    }
    if (!nt && !nf)
        return 1.0;
    double prec = nf ? (double)tp / nf : 0, rec = nt ? (double)tp / nt : 0;
    return prec + rec > 0 ? 2 * prec * rec / (prec + rec) : 0;
}
