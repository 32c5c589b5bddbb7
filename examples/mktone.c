/* mktone.c — write a test WAV: a stereo "programme" of tones, a sweep,
 * noise bursts and silence, so that examples have something to chew on
 * without any other tool installed.
 *
 *   mktone OUT.wav [SECONDS] [RATE]          (defaults: 30 s, 44100 Hz)
 */
#include <sndfile.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: mktone OUT.wav [SECONDS] [RATE]\n");
        return 2;
    }
    double seconds = argc > 2 ? atof(argv[2]) : 30.0;
    int rate = argc > 3 ? atoi(argv[3]) : 44100;
    if (!(seconds > 0) || rate < 1000) {
        fprintf(stderr, "mktone: bad length or rate\n");
        return 2;
    }
    SF_INFO info;
    memset(&info, 0, sizeof info);
    info.samplerate = rate;
    info.channels = 2;
    info.format = SF_FORMAT_WAV | SF_FORMAT_PCM_16;
    SNDFILE *sf = sf_open(argv[1], SFM_WRITE, &info);
    if (!sf) {
        fprintf(stderr, "mktone: %s: %s\n", argv[1], sf_strerror(NULL));
        return 1;
    }
    long n = (long)(seconds * rate);
    unsigned seed = 20261122u;
    float buf[2 * 1024];
    double phase = 0;
    for (long i = 0; i < n;) {
        int k = 0;
        for (; k < 1024 && i < n; k++, i++) {
            double t = (double)i / rate;
            int seg = (int)(t / 5.0) % 6; /* 5-second segments */
            double l, r;
            seed = seed * 1103515245u + 12345u;
            double noise = ((seed >> 8) & 0xFFFF) / 32768.0 - 1.0;
            switch (seg) {
            case 0: /* 440 Hz at -12 dBFS left, 880 Hz at -18 right */
                l = 0.251 * sin(2 * M_PI * 440 * t);
                r = 0.126 * sin(2 * M_PI * 880 * t);
                break;
            case 1: /* a logarithmic sweep 50 Hz .. 10 kHz */
                phase += 2 * M_PI * 50 * pow(200.0, fmod(t, 5.0) / 5.0) / rate;
                l = r = 0.3 * sin(phase);
                break;
            case 2: /* white noise bursts, 0.25 s on, 0.25 s off */
                l = r = fmod(t, 0.5) < 0.25 ? 0.2 * noise : 0.0;
                break;
            case 3: /* digital silence */
                l = r = 0.0;
                break;
            case 4: /* a chord with a tremolo */
                l = (0.1 * sin(2 * M_PI * 261.63 * t) + 0.1 * sin(2 * M_PI * 329.63 * t) +
                     0.1 * sin(2 * M_PI * 392.0 * t)) * (0.75 + 0.25 * sin(2 * M_PI * 4 * t));
                r = l * 0.5;
                break;
            default: /* a fade-in of 1 kHz */
                l = r = 0.5 * fmod(t, 5.0) / 5.0 * sin(2 * M_PI * 1000 * t);
                break;
            }
            buf[2 * k] = (float)l;
            buf[2 * k + 1] = (float)r;
        }
        if (sf_writef_float(sf, buf, k) != k) {
            fprintf(stderr, "mktone: %s: %s\n", argv[1], sf_strerror(sf));
            sf_close(sf);
            return 1;
        }
    }
    if (sf_close(sf)) {
        fprintf(stderr, "mktone: %s: cannot close\n", argv[1]);
        return 1;
    }
    return 0;
}
