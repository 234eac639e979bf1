/*
 * progress.c - the text of a progress bar. The library never prints: the
 * run calls tf_options.on_progress in the caller's thread, and a program
 * that wants a bar on its terminal formats it here and writes it itself.
 */
#include "taskfarm.h"

#include <stdio.h>

#define BAR_WIDTH 24

static int format_eta(char *buf, size_t size, double seconds)
{
    /* Unknown, or too far to say (and to fit an int): no figure. */
    if (!(seconds >= 0) || seconds > 99 * 86400.0)
        return snprintf(buf, size, "ETA --");
    if (seconds < 60)
        return snprintf(buf, size, "ETA %.1f s", seconds);
    if (seconds < 3600)
        return snprintf(buf, size, "ETA %d min %02d s", (int)seconds / 60,
                        (int)seconds % 60);
    return snprintf(buf, size, "ETA %d h %02d min", (int)(seconds / 3600),
                    (int)seconds % 3600 / 60);
}

int tf_progress_format(char *buf, size_t size, size_t done, size_t total,
                       double elapsed)
{
    if (buf == NULL || size == 0)
        return 0;
    double frac = total > 0 ? (double)done / (double)total : 1.0;
    if (frac > 1)
        frac = 1;
    char bar[BAR_WIDTH + 1];
    int filled = (int)(frac * BAR_WIDTH);
    for (int i = 0; i < BAR_WIDTH; i++)
        bar[i] = i < filled ? '#' : ' ';
    bar[BAR_WIDTH] = '\0';
    double rate = elapsed > 0 ? (double)done / elapsed : 0;
    double eta = rate > 0 ? (double)(total - done) / rate : -1;
    char eta_text[32];
    format_eta(eta_text, sizeof eta_text, done >= total ? 0 : eta);
    return snprintf(buf, size, "[%s] %3d%%  %zu/%zu  %.0f/s  %s", bar,
                    (int)(frac * 100), done, total, rate, eta_text);
}
