/* page.c - hp_report_write_html(): validation, the page skeleton (head, CSS
 * with a print stylesheet, table of contents, footer, the table-sorting
 * script), the header section, and the atomic write (temporary file, checked
 * close, rename).  The plot sections live in history.c, curves.c, params.c
 * and tables.c.
 */
#include "report_page.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"

/* ----------------------------------------------------------- validate --- */

static int find_param(const hp_report *r, const char *name)
{
    for (int p = 0; p < r->n_params; p++)
        if (r->params[p].name && strcmp(r->params[p].name, name) == 0)
            return p;
    return -1;
}

static int unknown_param_error(const hp_report *r, const char *name)
{
    char list[1024] = "";
    size_t used = 0;
    for (int p = 0; p < r->n_params && used + 4 < sizeof list; p++) {
        int n = snprintf(list + used, sizeof list - used, "%s%s", p ? ", " : "",
                         r->params[p].name ? r->params[p].name : "?");
        if (n < 0)
            break;
        used += (size_t)n;
    }
    if (used >= sizeof list)
        used = sizeof list - 1;
    return HP_ERR("report: heat map parameter '%s' is not a parameter of the study; use two of: %s", name,
                  r->n_params ? list : "(the study has no parameters)");
}

static int validate(const hp_report *r)
{
    if (r->n_params < 0 || r->n_trials < 0)
        return HP_ERR("report: negative number of parameters (%d) or trials (%d)", r->n_params, r->n_trials);
    if (r->n_params > 0 && !r->params)
        return HP_ERR("report: %d parameters but no parameter list", r->n_params);
    if (r->n_trials > 0 && !r->trials)
        return HP_ERR("report: %d trials but no trial list", r->n_trials);
    if (!r->metric || !r->metric[0])
        return HP_ERR("report: the study metric has no name");
    if (r->metric_column < 0 || r->metric_column >= HP_REPORT_METRIC_COLS)
        return HP_ERR("report: metric column %d is not in 0..%d", r->metric_column, HP_REPORT_METRIC_COLS - 1);
    if (r->best < -1 || r->best >= r->n_trials)
        return HP_ERR("report: best trial index %d is not in -1..%d", r->best, r->n_trials - 1);
    if (r->n_rungs < 0 || (r->n_rungs > 0 && !r->rung_epochs))
        return HP_ERR("report: %d rungs but no rung epochs", r->n_rungs);
    for (int p = 0; p < r->n_params; p++) {
        const hp_report_param *prm = &r->params[p];
        if (!prm->name)
            return HP_ERR("report: parameter %d has no name", p);
        if (prm->scale == HP_REPORT_CATEGORICAL && prm->n_labels <= 0)
            return HP_ERR("report: categorical parameter '%s' has no values", prm->name);
    }
    for (int i = 0; i < r->n_trials; i++) {
        const hp_report_trial *t = &r->trials[i];
        if (t->n_epochs < 0 || (t->n_epochs > 0 && !t->metrics))
            return HP_ERR("report: trial %d has %d epochs but no metric rows", t->id, t->n_epochs);
        if (r->n_params > 0 && !t->params)
            return HP_ERR("report: trial %d has no parameter values", t->id);
    }
    if ((r->heatmap_a && find_param(r, r->heatmap_a) < 0))
        return unknown_param_error(r, r->heatmap_a);
    if ((r->heatmap_b && find_param(r, r->heatmap_b) < 0))
        return unknown_param_error(r, r->heatmap_b);
    if (r->heatmap_a && r->heatmap_b && strcmp(r->heatmap_a, r->heatmap_b) == 0)
        return HP_ERR("report: the heat map needs two different parameters, got '%s' twice", r->heatmap_a);
    return 0;
}

/* ------------------------------------------------------------ the page --- */

typedef struct ranked_value {
    double goodness; /* the value, negated when lower is better: higher = better */
    int index;
} ranked_value;

static int compare_ranked(const void *a, const void *b)
{
    const ranked_value *x = a, *y = b;
    if (x->goodness != y->goodness)
        return x->goodness > y->goodness ? -1 : 1;
    return (x->index > y->index) - (x->index < y->index);
}

static void rank_trials(rp_page *pg)
{
    const hp_report *r = pg->r;
    ranked_value *rv = hp_xcalloc((size_t)r->n_trials + 1, sizeof *rv);
    int n = 0;
    for (int i = 0; i < r->n_trials; i++)
        if (rp_has_value(&r->trials[i]))
            rv[n++] = (ranked_value){r->maximize ? r->trials[i].value : -r->trials[i].value, i};
    qsort(rv, (size_t)n, sizeof *rv, compare_ranked);
    for (int i = 0; i < n; i++)
        pg->ranked[i] = rv[i].index;
    free(rv);
    pg->n_valued = n;
    for (int i = 0; i < r->n_trials; i++)
        if (!rp_has_value(&r->trials[i]))
            pg->ranked[n++] = i;
}

int rp_page_init(rp_page *pg, FILE *f, const hp_report *r)
{
    memset(pg, 0, sizeof *pg);
    pg->f = f;
    pg->r = r;
    pg->ranked = hp_xcalloc((size_t)r->n_trials + 1, sizeof *pg->ranked);
    pg->importance = hp_xcalloc((size_t)r->n_params + 1, sizeof *pg->importance);
    rank_trials(pg);
    /* colour scale: best value .. 5 % quantile from the worst side, so a few
       diverged trials do not wash out the differences among the rest */
    pg->color_best = 1;
    pg->color_worst = 0;
    if (pg->n_valued > 0) {
        double *v = hp_xcalloc((size_t)pg->n_valued, sizeof *v);
        for (int i = 0; i < pg->n_valued; i++)
            v[i] = r->trials[pg->ranked[i]].value;
        rp_sort_doubles(v, pg->n_valued);
        pg->color_best = r->maximize ? v[pg->n_valued - 1] : v[0];
        pg->color_worst = rp_quantile_sorted(v, pg->n_valued, r->maximize ? 0.05 : 0.95);
        free(v);
    }
    if (hp_report_importance(r, pg->importance) != 0)
        return -1;
    hp_report_importance_basis(r, &pg->importance_epoch, &pg->importance_n);
    /* heat map parameters: the named ones, else the two most important */
    pg->heat_a = pg->heat_b = -1;
    if (r->n_params >= 2) {
        int a = r->heatmap_a ? find_param(r, r->heatmap_a) : -1;
        int b = r->heatmap_b ? find_param(r, r->heatmap_b) : -1;
        for (int pass = 0; pass < 2; pass++) {
            if ((pass == 0 && a >= 0) || (pass == 1 && b >= 0))
                continue;
            int pick = -1;
            for (int p = 0; p < r->n_params; p++) {
                if (p == a || p == b)
                    continue;
                if (pick < 0 || pg->importance[p] > pg->importance[pick])
                    pick = p;
            }
            if (pass == 0)
                a = pick;
            else
                b = pick;
        }
        pg->heat_a = a;
        pg->heat_b = b;
    }
    return 0;
}

void rp_page_release(rp_page *pg)
{
    free(pg->ranked);
    free(pg->importance);
    memset(pg, 0, sizeof *pg);
}

/* ---------------------------------------------------------- skeleton --- */

static const char *const page_css =
    ":root{--fg:#1d1d1f;--muted:#5b5b60;--line:#d6d6da;--soft:#f5f5f7}\n"
    "*{box-sizing:border-box}\n"
    "body{margin:0;color:var(--fg);background:#fff;"
    "font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,'Helvetica Neue','DejaVu Sans',Arial,sans-serif}\n"
    "main{max-width:1000px;margin:0 auto;padding:22px 20px 40px}\n"
    "h1{font-size:26px;margin:0 0 2px;overflow-wrap:anywhere}\n"
    "h2{font-size:19px;margin:34px 0 6px;padding-bottom:4px;border-bottom:2px solid #222}\n"
    "h3{font-size:15px;margin:18px 0 6px}\n"
    ".kicker{margin:0;color:var(--muted);font-size:12px;text-transform:uppercase;letter-spacing:.08em}\n"
    ".sub{color:var(--muted);margin:2px 0}\n"
    ".lead{margin:4px 0 10px;color:#333}\n"
    "nav.toc{margin:14px 0 0;font-size:13px}nav.toc a{margin-right:12px;color:#0a5fa0;text-decoration:none}\n"
    ".cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(215px,1fr));gap:12px;margin:16px 0 6px}\n"
    ".card{border:1px solid var(--line);border-radius:8px;padding:10px 12px;background:#fff}\n"
    ".card h3{margin:0 0 6px;font-size:11.5px;text-transform:uppercase;letter-spacing:.06em;color:var(--muted)}\n"
    ".big{font-size:22px;font-weight:650;line-height:1.2}\n"
    ".card dl{display:grid;grid-template-columns:auto 1fr;gap:1px 10px;margin:0}.card dt{color:var(--muted)}"
    ".card dd{margin:0;text-align:right;font-variant-numeric:tabular-nums}\n"
    ".chip{display:inline-block;padding:0 7px;border-radius:9px;margin:3px 4px 0 0;font-size:12px;"
    "border:1.5px solid;white-space:nowrap}\n"
    ".state{display:inline-block;padding:0 8px;border-radius:9px;font-size:12px;font-weight:600;color:#fff;"
    "background:#555}.state-finished{background:#0072B2}.state-running{background:#009E73}"
    ".state-interrupted{background:#D55E00}\n"
    ".kv{font-size:12.5px;margin-top:6px}.kv td{padding:1px 8px 1px 0;border:0}.kv td:first-child{color:var(--muted)}\n"
    "figure{margin:8px 0 20px;break-inside:avoid;page-break-inside:avoid}\n"
    "figcaption{color:var(--muted);font-size:12.5px;margin-top:4px;max-width:90ch}\n"
    "svg.plot{width:100%;height:auto;display:block}\n"
    "svg text{font-family:inherit}\n"
    ".grid{stroke:#ececef;stroke-width:1}.axis{stroke:#333;fill:none;stroke-width:1}\n"
    ".tick{font-size:11px;fill:#4a4a4f}.ptitle{font-size:13px;font-weight:600;fill:#1d1d1f}\n"
    ".alabel{font-size:12px;fill:#333}.lg{font-size:12px;fill:#333}.nodata{font-size:13px;fill:#8a8a8f}\n"
    ".small{font-size:10.5px;fill:#555}.cell{font-size:11px}\n"
    ".cv path,.ln{fill:none;stroke-linecap:round;stroke-linejoin:round}\n"
    "g[data-trial]:hover path{stroke-width:2.6;stroke-opacity:1}\n"
    "g.pcl path:hover{stroke-width:2.6;stroke-opacity:1}\n"
    ".pc-axis text{paint-order:stroke;stroke:#fff;stroke-width:3px;stroke-linejoin:round}\n"
    ".empty{border:1px dashed #b5b5ba;border-radius:8px;padding:16px;color:var(--muted);text-align:center;"
    "background:var(--soft);margin:8px 0 16px}\n"
    ".slices{display:grid;grid-template-columns:repeat(auto-fill,minmax(300px,1fr));gap:6px 14px}\n"
    ".slices figure{margin:0}\n"
    ".note{font-size:12.5px;color:#333;background:var(--soft);border-left:3px solid #0072B2;padding:6px 10px;"
    "margin:6px 0 10px}\n"
    "table{border-collapse:collapse;font-size:12.5px}\n"
    "th,td{border-bottom:1px solid #e4e4e8;padding:3px 8px;text-align:left;vertical-align:top}\n"
    "th{background:var(--soft);font-weight:600}\n"
    ".num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}\n"
    ".tablewrap{overflow-x:auto;max-width:100%}\n"
    "table.sortable th{cursor:pointer;user-select:none}"
    "table.sortable th[aria-sort=ascending]::after{content:' \\25B2'}"
    "table.sortable th[aria-sort=descending]::after{content:' \\25BC'}\n"
    "#trial-table td,#trial-table th{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}\n"
    "#trial-table td:nth-child(2),#trial-table th.l{text-align:left}\n"
    "#trial-table td:nth-child(2){white-space:normal;min-width:22ch;max-width:40ch}\n"
    "#trial-table small{display:block;color:#a33c00;font-size:11.5px;line-height:1.3;overflow-wrap:anywhere}\n"
    "tr.best td{background:#fff6d6}\n"
    ".cmwrap{display:flex;flex-wrap:wrap;gap:22px;align-items:flex-start}\n"
    "table.cm td{text-align:right;min-width:44px;border:1px solid #fff;font-variant-numeric:tabular-nums}\n"
    "table.cm th{font-size:11.5px}table.cm th.rot{white-space:nowrap}\n"
    "footer{margin-top:36px;padding-top:8px;border-top:1px solid var(--line);color:var(--muted);font-size:12px}\n"
    "@media print{\n"
    "  @page{margin:13mm}\n"
    "  body{font-size:10pt}main{max-width:none;padding:0}\n"
    "  .noprint,nav.toc{display:none}\n"
    "  h2,h3{break-after:avoid;page-break-after:avoid}\n"
    "  .card,figure,table.cm,tr{break-inside:avoid;page-break-inside:avoid}\n"
    "  *{-webkit-print-color-adjust:exact;print-color-adjust:exact}\n"
    "  .tablewrap{overflow:visible}table{font-size:8pt}\n"
    "  #trial-table td,#trial-table th{white-space:normal;padding:1px 4px}\n"
    "  tr.x{display:none}\n"
    "  a{color:inherit;text-decoration:none}\n"
    "}\n";

/* Sorts a table.sortable by the clicked column: numbers numerically, other
   text alphabetically, empty cells and the dash last. */
static const char *const page_script =
    "(function(){function key(c){var s=c.textContent.trim();if(s===''||s==='\\u2014')return null;"
    "var n=Number(s);return isNaN(n)?s.toLowerCase():n}"
    "document.querySelectorAll('table.sortable').forEach(function(t){var hs=t.tHead.rows[0].cells;"
    "Array.prototype.forEach.call(hs,function(th,c){th.title='sort';th.addEventListener('click',function(){"
    "var b=t.tBodies[0],d=th.getAttribute('aria-sort')==='ascending'?-1:1;"
    "var rs=Array.prototype.map.call(b.rows,function(r){return[key(r.cells[c]),r]});"
    "rs.sort(function(x,y){var a=x[0],e=y[0];if(a===null)return e===null?0:1;if(e===null)return -1;"
    "if(typeof a!==typeof e)return typeof a==='number'?-1:1;return a<e?-d:a>e?d:0});"
    "Array.prototype.forEach.call(hs,function(h){h.removeAttribute('aria-sort')});"
    "th.setAttribute('aria-sort',d>0?'ascending':'descending');var fr=document.createDocumentFragment();"
    "rs.forEach(function(x){fr.appendChild(x[1])});b.appendChild(fr)})})})})();\n";

static void write_head(rp_page *pg)
{
    FILE *f = pg->f;
    fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
          "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
          "style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:\">\n"
          "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
          "<meta name=\"generator\" content=\"hptune report\">\n<title>",
          f);
    rp_esc(f, pg->r->study_name ? pg->r->study_name : "study");
    fputs(" \xe2\x80\x94 hptune report</title>\n<style>\n", f);
    fputs(page_css, f);
    fputs("</style>\n</head>\n<body>\n<main>\n", f);
}

static void write_footer(rp_page *pg)
{
    FILE *f = pg->f;
    fputs("<footer>Generated by hptune", f);
    if (pg->r->version) {
        fputs(" ", f);
        rp_esc(f, pg->r->version);
    }
    if (pg->r->generated_at) {
        fputs(" on ", f);
        rp_esc(f, pg->r->generated_at);
    }
    fputs(". A self-contained page: no network access, fonts or libraries are needed to view or print it; "
          "the small script only sorts the trial table.</footer>\n</main>\n<script>\n",
          f);
    fputs(page_script, f);
    fputs("</script>\n</body>\n</html>\n", f);
}

/* ------------------------------------------------------------- header --- */

static const char *const known_statuses[] = {"completed", "stopped", "failed", "running",
                                             "paused", "pending", "interrupted"};
#define N_KNOWN_STATUSES (int)(sizeof known_statuses / sizeof known_statuses[0])

static void status_chip(FILE *f, const char *status, int count)
{
    fprintf(f, "<span class=\"chip\" style=\"border-color:%s\">", rp_status_color(status));
    rp_esc(f, status);
    fprintf(f, " <b>%d</b></span>", count);
}

static void write_status_chips(rp_page *pg)
{
    const hp_report *r = pg->r;
    for (int s = 0; s < N_KNOWN_STATUSES; s++) {
        int count = 0;
        for (int i = 0; i < r->n_trials; i++)
            count += r->trials[i].status && strcmp(r->trials[i].status, known_statuses[s]) == 0;
        if (count)
            status_chip(pg->f, known_statuses[s], count);
    }
    /* statuses outside the known list, each once, in order of appearance */
    for (int i = 0; i < r->n_trials; i++) {
        const char *st = r->trials[i].status ? r->trials[i].status : "unknown";
        int known = 0, seen = 0;
        for (int s = 0; s < N_KNOWN_STATUSES; s++)
            known |= strcmp(st, known_statuses[s]) == 0;
        for (int j = 0; j < i && !known && !seen; j++)
            seen = strcmp(r->trials[j].status ? r->trials[j].status : "unknown", st) == 0;
        if (known || seen)
            continue;
        int count = 0;
        for (int j = i; j < r->n_trials; j++)
            count += strcmp(r->trials[j].status ? r->trials[j].status : "unknown", st) == 0;
        status_chip(pg->f, st, count);
    }
}

void rp_section_header(rp_page *pg)
{
    const hp_report *r = pg->r;
    FILE *f = pg->f;
    char a[64], b[64];
    fputs("<header id=\"header\">\n<p class=\"kicker\">hptune study report</p>\n<h1>", f);
    rp_esc(f, r->study_name ? r->study_name : "(unnamed study)");
    fputs("</h1>\n<p class=\"sub\">", f);
    rp_esc(f, r->strategy_text ? r->strategy_text : "strategy unknown");
    fputs(" \xc2\xb7 metric <b>", f);
    rp_esc(f, r->metric ? r->metric : "?");
    fprintf(f, "</b> (%s) \xc2\xb7 ", r->maximize ? "higher is better" : "lower is better");
    const char *state = r->state ? r->state : "unknown";
    fputs("<span class=\"state state-", f);
    rp_esc(f, state);
    fputs("\">", f);
    rp_esc(f, state);
    fputs("</span></p>\n<div class=\"cards\">\n", f);

    /* trials */
    fprintf(f, "<div class=\"card\"><h3>Trials</h3><div class=\"big\">%d</div><div>", r->n_trials);
    if (r->n_trials == 0)
        fputs("none yet", f);
    write_status_chips(pg);
    fputs("</div></div>\n", f);

    /* budget */
    fputs("<div class=\"card\"><h3>Budget used</h3><dl>", f);
    fprintf(f, "<dt>epochs trained</dt><dd>%ld</dd>", r->total_epochs);
    fprintf(f, "<dt>wall time</dt><dd>%s</dd>", rp_fmt_duration(a, sizeof a, r->elapsed_seconds));
    fprintf(f, "<dt>core-hours</dt><dd>%s</dd>", isfinite(r->core_hours) ? (snprintf(b, sizeof b, "%.2f", r->core_hours), b) : "\xe2\x80\x94");
    fprintf(f, "<dt>workers</dt><dd>%d</dd></dl></div>\n", r->n_workers);

    /* best trial */
    fputs("<div class=\"card\"><h3>Best trial</h3>", f);
    if (r->best < 0) {
        fputs("<div>No trial has a value of the metric yet.</div>", f);
    } else {
        const hp_report_trial *t = &r->trials[r->best];
        fprintf(f, "<div class=\"big\">#%d \xc2\xb7 %s</div><div>", t->id, rp_fmt(a, sizeof a, t->value));
        rp_esc(f, r->metric);
        fprintf(f, " after %d epoch%s \xc2\xb7 ", t->n_epochs, t->n_epochs == 1 ? "" : "s");
        rp_esc(f, t->status);
        fputs("</div>", f);
        if (r->n_params > 0) {
            fputs("<table class=\"kv\">", f);
            for (int p = 0; p < r->n_params; p++) {
                fputs("<tr><td>", f);
                rp_esc(f, r->params[p].name);
                fputs("</td><td>", f);
                rp_esc(f, rp_fmt_param(a, sizeof a, &r->params[p], t->params[p]));
                fputs("</td></tr>", f);
            }
            fputs("</table>", f);
        }
    }
    fputs("</div>\n", f);

    /* test set */
    fputs("<div class=\"card\"><h3>Test set (best trial)</h3>", f);
    if (!r->has_test) {
        fputs("<div>Not evaluated on the test set.</div>", f);
    } else {
        fprintf(f, "<div class=\"big\">%s</div><div>accuracy on %d images</div><dl>",
                isfinite(r->test_accuracy) ? (snprintf(a, sizeof a, "%.2f %%", 100 * r->test_accuracy), a) : "\xe2\x80\x94",
                r->test_images);
        fprintf(f, "<dt>loss</dt><dd>%s</dd>", rp_fmt(a, sizeof a, r->test_loss));
        fprintf(f, "<dt>macro F1</dt><dd>%s</dd></dl>", rp_fmt(a, sizeof a, r->test_f1));
    }
    fputs("</div>\n</div>\n", f);

    fputs("<nav class=\"toc\"><a href=\"#history\">History</a><a href=\"#curves\">Learning curves</a>"
          "<a href=\"#importance\">Importance</a><a href=\"#parallel\">Parallel coordinates</a>"
          "<a href=\"#slices\">Slices</a><a href=\"#heatmap\">Heat map</a>"
          "<a href=\"#confusion\">Confusion matrix</a><a href=\"#trials\">All trials</a></nav>\n"
          "</header>\n",
          f);
}

/* -------------------------------------------------------------- write --- */

int hp_report_write_html(const hp_report *r, const char *path)
{
    if (!r || !path)
        HP_PANIC("hp_report_write_html: NULL report or path");
    if (validate(r) != 0)
        return -1;
    char *temp = hp_xasprintf("%s.tmp", path);
    FILE *f = fopen(temp, "w");
    if (!f) {
        int rc = HP_ERR("%s: cannot write the report: %s (choose another output file, e.g. --out FILE)", path,
                        strerror(errno));
        free(temp);
        return rc;
    }
    rp_page pg;
    int rc = rp_page_init(&pg, f, r);
    if (rc == 0) {
        write_head(&pg);
        rp_section_header(&pg);
        rp_section_history(&pg);
        rp_section_curves(&pg);
        rp_section_overfit(&pg);
        rp_section_importance(&pg);
        rp_section_parallel(&pg);
        rp_section_slices(&pg);
        rp_section_heatmap(&pg);
        rp_section_confusion(&pg);
        rp_section_trials(&pg);
        write_footer(&pg);
    }
    rp_page_release(&pg);
    if (rc == 0 && (fflush(f) != 0 || ferror(f)))
        rc = HP_ERR("%s: cannot write the report: %s", path, strerror(errno));
    if (fclose(f) != 0 && rc == 0)
        rc = HP_ERR("%s: cannot write the report: %s", path, strerror(errno));
    if (rc == 0 && rename(temp, path) != 0)
        rc = HP_ERR("%s: cannot move the report into place: %s", path, strerror(errno));
    if (rc != 0)
        remove(temp);
    free(temp);
    return rc;
}
