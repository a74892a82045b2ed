/* draw.c - drawing helpers for the report page: escaping, number formats,
 * scales and ticks, colours, plot panels, robust axis ranges.
 *
 * Ticks: "nice" steps 1, 2, 5 x 10^k (Heckbert, "Nice numbers for graph
 * labels", Graphics Gems 1990); log axes tick at powers of ten, adding 2 and 5
 * times them when the axis spans fewer than three decades.
 * Robust ranges: a few diverged values (loss 1e4) must not squash an axis,
 * but the steep start of a long learning curve is data, not an outlier.
 * Fences at median -/+ RP_FENCE x (median - 5 % quantile, 95 % quantile -
 * median); values beyond are cut off (and the plots say so) only if they are
 * at most 5 % of all: then they are rare and far away.
 * viridis: the 10 colours viridis(10) of R's viridisLite 0.4 (the matplotlib
 * colormap by van der Walt and Smith), linearly interpolated in sRGB.
 */
#include "report_page.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"

#define RP_FENCE 10.0

/* ------------------------------------------------------------- output --- */

static void esc_char(FILE *f, unsigned char c)
{
    switch (c) {
    case '&': fputs("&amp;", f); break;
    case '<': fputs("&lt;", f); break;
    case '>': fputs("&gt;", f); break;
    case '"': fputs("&quot;", f); break;
    case '\'': fputs("&#39;", f); break;
    case '\t':
    case '\n': putc(c, f); break;
    default:
        if (c < 0x20 || c == 0x7f)
            fputs("\xef\xbf\xbd", f); /* U+FFFD: control characters are not allowed in HTML text */
        else
            putc(c, f);
    }
}

void rp_esc(FILE *f, const char *s)
{
    if (!s)
        return;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        esc_char(f, *p);
}

void rp_esc_max(FILE *f, const char *s, size_t max_chars)
{
    if (!s)
        return;
    size_t len = strlen(s);
    if (len <= max_chars) {
        rp_esc(f, s);
        return;
    }
    /* cut at a UTF-8 character boundary (never inside a multi-byte sequence) */
    size_t cut = max_chars;
    while (cut > 0 && ((unsigned char)s[cut] & 0xC0) == 0x80)
        cut--;
    for (size_t i = 0; i < cut; i++)
        esc_char(f, (unsigned char)s[i]);
    fputs("\xe2\x80\xa6", f); /* ellipsis */
}

void rp_num(FILE *f, double v)
{
    if (!isfinite(v))
        HP_PANIC("non-finite SVG coordinate");
    if (fabs(v) < 0.05)
        v = 0; /* no "-0.0" */
    fprintf(f, "%.1f", v);
}

void rp_xy(FILE *f, double x, double y)
{
    rp_num(f, x);
    putc(',', f);
    rp_num(f, y);
}

const char *rp_fmt(char *buf, size_t n, double v)
{
    if (!isfinite(v))
        snprintf(buf, n, "%s", isnan(v) ? "\xe2\x80\x94" : (v > 0 ? "inf" : "-inf"));
    else
        snprintf(buf, n, "%.4g", v);
    return buf;
}

const char *rp_fmt_param(char *buf, size_t n, const hp_report_param *p, double v)
{
    if (isnan(v)) {
        snprintf(buf, n, "inactive");
    } else if (p->scale == HP_REPORT_CATEGORICAL) {
        int i = (int)lround(v);
        if (i >= 0 && i < p->n_labels && p->labels && p->labels[i])
            snprintf(buf, n, "%s", p->labels[i]);
        else
            snprintf(buf, n, "#%d", i);
    } else {
        rp_fmt(buf, n, v);
    }
    return buf;
}

const char *rp_fmt_duration(char *buf, size_t n, double s)
{
    if (!isfinite(s) || s < 0)
        snprintf(buf, n, "\xe2\x80\x94");
    else if (s < 60)
        snprintf(buf, n, "%.1f s", s);
    else if (s < 3600)
        snprintf(buf, n, "%d min %02d s", (int)(s / 60), (int)fmod(s, 60));
    else
        snprintf(buf, n, "%ld h %02d min", (long)(s / 3600), (int)fmod(s / 60, 60));
    return buf;
}

/* ------------------------------------------------------------- scales --- */

void rp_scale_numeric(rp_scale *s, hp_report_scale kind, double lo, double hi, double r0, double r1)
{
    memset(s, 0, sizeof *s);
    s->kind = kind == HP_REPORT_LOG ? HP_REPORT_LOG : HP_REPORT_LINEAR;
    if (s->kind == HP_REPORT_LOG && !(lo > 0 && hi > 0))
        s->kind = HP_REPORT_LINEAR; /* a log axis needs positive values */
    if (!isfinite(lo) || !isfinite(hi)) {
        lo = 0;
        hi = 1;
    }
    if (hi < lo) {
        double t = lo;
        lo = hi;
        hi = t;
    }
    if (hi == lo) { /* one value: give the axis some width around it */
        if (s->kind == HP_REPORT_LOG) {
            lo /= 2;
            hi *= 2;
        } else {
            double pad = lo != 0 ? fabs(lo) * 0.1 : 0.5;
            lo -= pad;
            hi += pad;
        }
    }
    s->lo = lo;
    s->hi = hi;
    s->r0 = r0;
    s->r1 = r1;
}

void rp_scale_categorical(rp_scale *s, int n_cat, const char *const *labels, double r0, double r1)
{
    memset(s, 0, sizeof *s);
    s->kind = HP_REPORT_CATEGORICAL;
    s->n_cat = n_cat > 0 ? n_cat : 1;
    s->labels = labels;
    s->lo = 0;
    s->hi = s->n_cat - 1;
    s->r0 = r0;
    s->r1 = r1;
}

static double nice_step(double span, int target)
{
    if (!(span > 0) || target < 1)
        return 1;
    double raw = span / target;
    double mag = pow(10, floor(log10(raw)));
    double norm = raw / mag;
    double m = norm < 1.5 ? 1 : norm < 3 ? 2 : norm < 7 ? 5 : 10;
    return m * mag;
}

void rp_scale_nice(rp_scale *s, int target)
{
    if (s->kind != HP_REPORT_LINEAR)
        return;
    double step = nice_step(s->hi - s->lo, target);
    if (s->integer && step < 1)
        step = 1;
    s->lo = floor(s->lo / step + 1e-9) * step;
    s->hi = ceil(s->hi / step - 1e-9) * step;
}

double rp_map(const rp_scale *s, double v)
{
    double t;
    if (s->kind == HP_REPORT_CATEGORICAL)
        t = (v + 0.5) / s->n_cat;
    else if (s->kind == HP_REPORT_LOG)
        t = (log10(v) - log10(s->lo)) / (log10(s->hi) - log10(s->lo));
    else
        t = (v - s->lo) / (s->hi - s->lo);
    return s->r0 + t * (s->r1 - s->r0);
}

double rp_map_clamped(const rp_scale *s, double v)
{
    double x = rp_map(s, v);
    double a = s->r0 < s->r1 ? s->r0 : s->r1, b = s->r0 < s->r1 ? s->r1 : s->r0;
    if (!(x >= a)) /* also NaN from log10 of a value <= 0 */
        x = a;
    if (x > b)
        x = b;
    return x;
}

int rp_ticks(const rp_scale *s, int target, double *ticks, int cap, double *step_out)
{
    int n = 0;
    *step_out = 1;
    if (s->kind == HP_REPORT_CATEGORICAL) {
        for (int i = 0; i < s->n_cat && n < cap; i++)
            ticks[n++] = i;
        return n;
    }
    if (s->kind == HP_REPORT_LOG) {
        double a = log10(s->lo), b = log10(s->hi);
        int d0 = (int)ceil(a - 1e-9), d1 = (int)floor(b + 1e-9);
        int every = (d1 - d0) / (target > 1 ? target : 1) + 1; /* skip decades on long axes */
        static const double minor[] = {1, 2, 5};
        int use_minor = b - a < 3;
        for (int d = (int)floor(a); d <= d1 && n < cap; d++) {
            for (int m = 0; m < (use_minor ? 3 : 1) && n < cap; m++) {
                double v = minor[m] * pow(10, d);
                if (v < s->lo * (1 - 1e-9) || v > s->hi * (1 + 1e-9))
                    continue;
                if (m == 0 && !use_minor && (d - d0) % every != 0)
                    continue;
                ticks[n++] = v;
            }
        }
        if (n >= 2)
            return n;
        n = 0; /* less than a decade with no 1/2/5 inside: fall back to linear ticks */
    }
    double step = nice_step(s->hi - s->lo, target);
    if (s->integer && step < 1)
        step = 1; /* no epoch 1.5 */
    *step_out = step;
    for (double v = ceil(s->lo / step - 1e-9) * step; v <= s->hi + step * 1e-9 && n < cap; v += step)
        ticks[n++] = fabs(v) < step * 1e-9 ? 0 : v;
    return n;
}

const char *rp_tick_label(const rp_scale *s, double v, double step, char *buf, size_t n)
{
    if (s->kind == HP_REPORT_CATEGORICAL) {
        int i = (int)lround(v);
        if (s->labels && i >= 0 && i < s->n_cat && s->labels[i])
            snprintf(buf, n, "%s", s->labels[i]);
        else
            snprintf(buf, n, "%d", i);
    } else if (s->kind == HP_REPORT_LOG && step == 1) {
        snprintf(buf, n, "%g", v);
    } else {
        double a = fabs(v);
        if (a != 0 && (a >= 1e6 || a < 1e-4)) {
            snprintf(buf, n, "%.3g", v);
        } else {
            int decimals = step >= 1 ? 0 : (int)ceil(-log10(step) - 1e-9);
            if (decimals > 8)
                decimals = 8;
            snprintf(buf, n, "%.*f", decimals, v);
        }
    }
    return buf;
}

void rp_scale_for_param(rp_scale *s, const hp_report *r, int p, double r0, double r1)
{
    const hp_report_param *prm = &r->params[p];
    if (prm->scale == HP_REPORT_CATEGORICAL) {
        rp_scale_categorical(s, prm->n_labels, prm->labels, r0, r1);
        return;
    }
    double lo = prm->low, hi = prm->high;
    for (int i = 0; i < r->n_trials; i++) {
        double v = r->trials[i].params[p];
        if (!isfinite(v) || (prm->scale == HP_REPORT_LOG && v <= 0))
            continue;
        if (!isfinite(lo) || v < lo)
            lo = v;
        if (!isfinite(hi) || v > hi)
            hi = v;
    }
    rp_scale_numeric(s, prm->scale, lo, hi, r0, r1);
}

static int compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

void rp_sort_doubles(double *v, int n)
{
    if (n > 1)
        qsort(v, (size_t)n, sizeof *v, compare_doubles);
}

double rp_quantile_sorted(const double *sorted, int n, double q)
{
    double pos = q * (n - 1);
    int i = (int)floor(pos);
    if (i >= n - 1)
        return sorted[n - 1];
    if (i < 0)
        return sorted[0];
    return sorted[i] + (pos - i) * (sorted[i + 1] - sorted[i]);
}

int rp_robust_domain(const double *values, int n, double *lo, double *hi)
{
    if (n <= 0) {
        *lo = 0;
        *hi = 1;
        return 0;
    }
    double *v = hp_xcalloc((size_t)n, sizeof *v);
    memcpy(v, values, (size_t)n * sizeof *v);
    rp_sort_doubles(v, n);
    double q05 = rp_quantile_sorted(v, n, 0.05), q50 = rp_quantile_sorted(v, n, 0.5),
           q95 = rp_quantile_sorted(v, n, 0.95);
    double fence_lo = q50 - RP_FENCE * (q50 - q05), fence_hi = q50 + RP_FENCE * (q95 - q50);
    /* only rare values are outliers: a fence that would cut more than 5 % is not used */
    int below = 0, above = 0;
    for (int i = 0; i < n; i++) {
        below += v[i] < fence_lo;
        above += v[i] > fence_hi;
    }
    int clip_lo = below > 0 && below <= n / 20, clip_hi = above > 0 && above <= n / 20;
    *lo = clip_lo ? fence_lo : v[0];
    *hi = clip_hi ? fence_hi : v[n - 1];
    if (clip_lo) /* the axis ends at the smallest value inside the fence */
        for (int i = 0; i < n; i++)
            if (v[i] >= fence_lo) {
                *lo = v[i];
                break;
            }
    if (clip_hi)
        for (int i = n - 1; i >= 0; i--)
            if (v[i] <= fence_hi) {
                *hi = v[i];
                break;
            }
    free(v);
    return clip_lo || clip_hi;
}

/* ------------------------------------------------------------- colours --- */

static const unsigned char viridis10[10][3] = {
    {0x44, 0x01, 0x54}, {0x48, 0x28, 0x78}, {0x3E, 0x4A, 0x89}, {0x31, 0x68, 0x8E}, {0x26, 0x82, 0x8E},
    {0x1F, 0x9E, 0x89}, {0x35, 0xB7, 0x79}, {0x6D, 0xCD, 0x59}, {0xB4, 0xDE, 0x2C}, {0xFD, 0xE7, 0x25}};

const char *rp_viridis(double t, char *buf)
{
    if (!(t >= 0))
        t = 0;
    if (t > 1)
        t = 1;
    double pos = t * 9;
    int i = (int)floor(pos);
    if (i > 8)
        i = 8;
    double u = pos - i;
    int c[3];
    for (int k = 0; k < 3; k++)
        c[k] = (int)lround(viridis10[i][k] + u * (viridis10[i + 1][k] - viridis10[i][k]));
    snprintf(buf, 8, "#%02x%02x%02x", c[0], c[1], c[2]);
    return buf;
}

/* Best maps to viridis(0) (dark purple), the worst end of the colour range to
 * viridis(0.85): the palest yellow is left out, it vanishes on white paper. */
#define RP_WORST_T 0.85

const char *rp_metric_color(const rp_page *pg, double value, char *buf)
{
    if (!isfinite(value)) {
        snprintf(buf, 8, "#9a9a9a");
        return buf;
    }
    double span = pg->color_best - pg->color_worst;
    double goodness = span != 0 ? (value - pg->color_worst) / span : 1; /* 1 = best */
    if (goodness > 1)
        goodness = 1;
    if (goodness < 0)
        goodness = 0;
    return rp_viridis((1 - goodness) * RP_WORST_T, buf);
}

const char *rp_status_color(const char *status)
{
    if (!status)
        return "#7f7f7f";
    if (strcmp(status, "completed") == 0)
        return "#0072B2"; /* blue */
    if (strcmp(status, "stopped") == 0)
        return "#E69F00"; /* orange */
    if (strcmp(status, "failed") == 0)
        return "#D55E00"; /* vermillion */
    if (strcmp(status, "running") == 0)
        return "#009E73"; /* bluish green */
    if (strcmp(status, "paused") == 0 || strcmp(status, "interrupted") == 0)
        return "#CC79A7"; /* reddish purple */
    return "#7f7f7f";     /* pending and anything else */
}

/* Rough width of n characters of 12 px text (for laying out legends). */
static double text_width(size_t n) { return 6.9 * (double)n; }

double rp_colorbar(rp_page *pg, double x, double y, double w)
{
    FILE *f = pg->f;
    int id = pg->next_id++;
    char col[8], tmp[40], worst[48], best[48];
    snprintf(worst, sizeof worst, "%s%s", pg->r->maximize ? "\xe2\x89\xa4" : "\xe2\x89\xa5",
             rp_fmt(tmp, sizeof tmp, pg->color_worst));
    rp_fmt(best, sizeof best, pg->color_best);
    fprintf(f, "<defs><linearGradient id=\"cb%d\" x1=\"0\" x2=\"1\" y1=\"0\" y2=\"0\">", id);
    for (int i = 0; i <= 10; i++) /* left = worse, right = better */
        fprintf(f, "<stop offset=\"%.1f\" stop-color=\"%s\"/>", i / 10.0, rp_viridis((1 - i / 10.0) * RP_WORST_T, col));
    fprintf(f, "</linearGradient></defs>");
    const char *metric = pg->r->metric ? pg->r->metric : "metric";
    size_t metric_len = strlen(metric) > 30 ? 30 : strlen(metric);
    double x_worst = x + text_width(metric_len + 1) + 6;
    double x_bar = x_worst + text_width(strlen(worst) - 2) + 6; /* the sign is 3 bytes, 1 glyph */
    fprintf(f, "<g class=\"colorbar\"><text class=\"lg\" x=\"");
    rp_num(f, x);
    fprintf(f, "\" y=\"");
    rp_num(f, y + 10);
    fprintf(f, "\">");
    rp_esc_max(f, metric, 30);
    fprintf(f, ":</text><text class=\"lg\" x=\"");
    rp_num(f, x_worst);
    fprintf(f, "\" y=\"");
    rp_num(f, y + 10);
    fprintf(f, "\">%s</text><rect x=\"", worst);
    rp_num(f, x_bar);
    fprintf(f, "\" y=\"");
    rp_num(f, y);
    fprintf(f, "\" width=\"");
    rp_num(f, w);
    fprintf(f, "\" height=\"12\" fill=\"url(#cb%d)\" stroke=\"#888\" stroke-width=\"0.5\"/><text class=\"lg\" x=\"", id);
    rp_num(f, x_bar + w + 6);
    fprintf(f, "\" y=\"");
    rp_num(f, y + 10);
    fprintf(f, "\">%s (best)</text></g>", best);
    return x_bar + w + 6 + text_width(strlen(best) + 7);
}

/* ------------------------------------------------------------- panels --- */

void rp_panel_place(rp_panel *p, double x, double y, double w, double h)
{
    p->x = x;
    p->y = y;
    p->w = w;
    p->h = h;
    p->sx.r0 = x;
    p->sx.r1 = x + w;
    p->sy.r0 = y + h;
    p->sy.r1 = y;
}

#define RP_MAX_TICKS 64

void rp_panel_frame(rp_page *pg, rp_panel *p, const char *title, const char *xlabel, const char *ylabel)
{
    FILE *f = pg->f;
    double ticks[RP_MAX_TICKS], step;
    char buf[96];
    p->clip = pg->next_id++;
    fprintf(f, "<defs><clipPath id=\"clip%d\"><rect x=\"", p->clip);
    rp_num(f, p->x - 3);
    fprintf(f, "\" y=\"");
    rp_num(f, p->y - 3);
    fprintf(f, "\" width=\"");
    rp_num(f, p->w + 6);
    fprintf(f, "\" height=\"");
    rp_num(f, p->h + 6);
    fprintf(f, "\"/></clipPath></defs>\n<g class=\"frame\">");
    /* x ticks and vertical grid lines */
    int target_x = p->w > 300 ? 8 : 5;
    int nx = rp_ticks(&p->sx, target_x, ticks, RP_MAX_TICKS, &step);
    int every = 1;
    if (p->sx.kind == HP_REPORT_CATEGORICAL && nx > 0) /* thin labels that would overlap */
        every = (int)ceil(nx * 46.0 / p->w) > 1 ? (int)ceil(nx * 46.0 / p->w) : 1;
    for (int i = 0; i < nx; i++) {
        double x = rp_map(&p->sx, ticks[i]);
        fprintf(f, "<line class=\"grid\" x1=\"");
        rp_num(f, x);
        fprintf(f, "\" x2=\"");
        rp_num(f, x);
        fprintf(f, "\" y1=\"");
        rp_num(f, p->y);
        fprintf(f, "\" y2=\"");
        rp_num(f, p->y + p->h);
        fprintf(f, "\"/>");
        if (i % every)
            continue;
        fprintf(f, "<text class=\"tick\" text-anchor=\"middle\" x=\"");
        rp_num(f, x);
        fprintf(f, "\" y=\"");
        rp_num(f, p->y + p->h + 14);
        fprintf(f, "\">");
        rp_esc_max(f, rp_tick_label(&p->sx, ticks[i], step, buf, sizeof buf), 12);
        fprintf(f, "</text>");
    }
    int ny = rp_ticks(&p->sy, p->h > 200 ? 6 : 4, ticks, RP_MAX_TICKS, &step);
    for (int i = 0; i < ny; i++) {
        double y = rp_map(&p->sy, ticks[i]);
        fprintf(f, "<line class=\"grid\" x1=\"");
        rp_num(f, p->x);
        fprintf(f, "\" x2=\"");
        rp_num(f, p->x + p->w);
        fprintf(f, "\" y1=\"");
        rp_num(f, y);
        fprintf(f, "\" y2=\"");
        rp_num(f, y);
        fprintf(f, "\"/><text class=\"tick\" text-anchor=\"end\" x=\"");
        rp_num(f, p->x - 5);
        fprintf(f, "\" y=\"");
        rp_num(f, y + 4);
        fprintf(f, "\">");
        rp_esc_max(f, rp_tick_label(&p->sy, ticks[i], step, buf, sizeof buf), 12);
        fprintf(f, "</text>");
    }
    /* axis lines: left and bottom */
    fprintf(f, "<path class=\"axis\" d=\"M");
    rp_xy(f, p->x, p->y);
    fprintf(f, "V");
    rp_num(f, p->y + p->h);
    fprintf(f, "H");
    rp_num(f, p->x + p->w);
    fprintf(f, "\"/>");
    if (title) {
        fprintf(f, "<text class=\"ptitle\" x=\"");
        rp_num(f, p->x);
        fprintf(f, "\" y=\"");
        rp_num(f, p->y - 8);
        fprintf(f, "\">");
        rp_esc_max(f, title, 70);
        fprintf(f, "</text>");
    }
    if (xlabel) {
        fprintf(f, "<text class=\"alabel\" text-anchor=\"middle\" x=\"");
        rp_num(f, p->x + p->w / 2);
        fprintf(f, "\" y=\"");
        rp_num(f, p->y + p->h + 32);
        fprintf(f, "\">");
        rp_esc_max(f, xlabel, 60);
        fprintf(f, "</text>");
    }
    if (ylabel) {
        fprintf(f, "<text class=\"alabel\" text-anchor=\"middle\" transform=\"translate(");
        rp_xy(f, p->x - 44, p->y + p->h / 2);
        fprintf(f, ") rotate(-90)\">");
        rp_esc_max(f, ylabel, 40);
        fprintf(f, "</text>");
    }
    fprintf(f, "</g>\n");
}

void rp_panel_empty(rp_page *pg, const rp_panel *p, const char *text)
{
    fprintf(pg->f, "<text class=\"nodata\" text-anchor=\"middle\" x=\"");
    rp_num(pg->f, p->x + p->w / 2);
    fprintf(pg->f, "\" y=\"");
    rp_num(pg->f, p->y + p->h / 2);
    fprintf(pg->f, "\">");
    rp_esc(pg->f, text);
    fprintf(pg->f, "</text>\n");
}

/* ---------------------------------------------------- trial selection --- */

int rp_thin(const int *eligible, int n, int all, int best, int spread, int *out)
{
    if (n <= all) {
        memcpy(out, eligible, (size_t)n * sizeof *out);
        return n;
    }
    int k = 0;
    for (int i = 0; i < best && i < n; i++)
        out[k++] = eligible[i];
    int rest = n - best;
    for (int j = 0; j < spread && rest > 0; j++) {
        int pos = best + (int)(((double)j + 0.5) * rest / spread);
        if (pos >= n)
            pos = n - 1;
        if (k > best && out[k - 1] == eligible[pos])
            continue;
        out[k++] = eligible[pos];
    }
    return k;
}

int rp_has_value(const hp_report_trial *t) { return isfinite(t->value); }

int rp_better(const hp_report *r, double a, double b) { return r->maximize ? a > b : a < b; }

double rp_metric_at(const hp_report_trial *t, int epoch, int column)
{
    if (epoch < 1 || epoch > t->n_epochs || !t->metrics || column < 0 || column >= HP_REPORT_METRIC_COLS)
        return NAN;
    return t->metrics[(size_t)(epoch - 1) * HP_REPORT_METRIC_COLS + (size_t)column];
}
