/* gen_gait.h — synthetic test data for the sensor and gait suites, made at
 * test time: 6-axis walking with known step times, and joint-angle cycles
 * with known range of motion and asymmetry. Deterministic (own PRNG). */
#ifndef JOULE_GEN_GAIT_H
#define JOULE_GEN_GAIT_H

#include <stddef.h>

/* A deterministic PRNG (xorshift64*), uniform in [0, 1), and a normal. */
typedef struct gg_rng {
    unsigned long long s;
} gg_rng;
double gg_uniform(gg_rng *r);
double gg_normal(gg_rng *r);

/* One part of a walk: walking from cadence c0 to c1 (steps/min, varying
 * linearly), or standing still (cadence 0), for `seconds`. */
typedef struct gg_part {
    double seconds;
    double c0, c1;
    double turn; /* degrees turned (about the vertical) over the part */
} gg_part;

typedef struct gg_walk_opts {
    double rate;          /* Hz */
    const gg_part *parts;
    size_t n_parts;
    double yaw, pitch, roll;  /* carrying orientation, degrees */
    double amp;           /* vertical acceleration amplitude, m/s^2 */
    double asym;          /* left/right amplitude asymmetry, 0..1 */
    double noise;         /* white noise per axis, m/s^2 */
    double jitter;        /* step-time jitter SD, s */
    double ts_jitter;     /* timestamp jitter, as a fraction of 1/rate */
    unsigned long long seed;
    int time_unit;        /* timestamps in the file: 0 s, 1 ms, 2 us, 3 ns */
} gg_walk_opts;

/* Write a walk as CSV (header t,ax,ay,az,gx,gy,gz; acceleration includes
 * gravity, 9.80665 m/s^2) and return its step times (malloc'd, seconds
 * from the first sample) in *steps, their count in *n. */
void gg_walk_csv(const char *path, const gg_walk_opts *o, double **steps, size_t *n);

/* Joint-angle cycles. Columns: t (s), phase (0-100 %), then for each joint
 * J in {knee_flexion, hip_flexion}: J_angle_ipsi, J_angle_contra; `hs`, a
 * sharp pulse at each ipsilateral heel strike (for step detection); and
 * `cycle`, the cycle number (0 before the first, n + 1 after the last).
 * Cycle k runs [start_k, start_k + dur_k); each angle is a raised cosine
 * base + rom·(1 - cos 2πφ)/2 over the cycle (contra half a cycle later), so
 * its range of motion in the cycle is `rom`. */
typedef struct gg_cycle {
    double start, dur;
    double rom[4];   /* knee ipsi, knee contra, hip ipsi, hip contra */
    double base[4];
    int abnormal;
} gg_cycle;

typedef struct gg_angles_opts {
    double rate;
    size_t n_cycles;
    double rom[4], base[4];  /* nominal */
    double rom_var, base_var; /* uniform variation ± */
    const size_t *abnormal;   /* cycle indices (from 0) made abnormal */
    size_t n_abnormal;
    unsigned long long seed;
} gg_angles_opts;

/* Write the angles as CSV; returns the cycles (malloc'd). */
gg_cycle *gg_angles_csv(const char *path, const gg_angles_opts *o);

/* The determinism matrix (tu_invariance: chunk sizes 1, 7, 4096, 65536
 * with 1, 2 and 8 threads) for one input and one output file. Returns NULL
 * or a description of the first difference (static). `extra` is unused. */
const char *gg_invariance(const char *graph, const char *input, const char *out_name, const char *extra);

/* F1 score of detected times against true times, within ±tol seconds
 * (one-to-one greedy matching in time order). */
double gg_f1(const double *truth, size_t nt, const double *found, size_t nf, double tol);

#endif
