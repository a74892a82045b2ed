/* cli_options.c - getopt_long with hptune's error style (see cli_options.h). */
#include "cli_options.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

int hp_edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 64 || lb > 64)
        return 100;
    int d[65][65];
    for (size_t i = 0; i <= la; i++)
        d[i][0] = (int)i;
    for (size_t j = 0; j <= lb; j++)
        d[0][j] = (int)j;
    for (size_t i = 1; i <= la; i++)
        for (size_t j = 1; j <= lb; j++) {
            int cost = a[i - 1] == b[j - 1] ? 0 : 1;
            int best = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < best)
                best = d[i][j - 1] + 1;
            if (d[i - 1][j - 1] + cost < best)
                best = d[i - 1][j - 1] + cost;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] && d[i - 2][j - 2] + 1 < best)
                best = d[i - 2][j - 2] + 1;
            d[i][j] = best;
        }
    return d[la][lb];
}

const char *hp_closest_name(const char *word, const char *const *names, int max_distance)
{
    const char *best = NULL;
    int best_distance = max_distance + 1;
    for (int i = 0; names[i]; i++) {
        int dist = hp_edit_distance(word, names[i]);
        if (dist < best_distance) {
            best_distance = dist;
            best = names[i];
        }
    }
    return best;
}

void hp_print_help(FILE *f, const char *help) { fputs(help, f); }

/* The usage lines: the help text up to its first blank line. */
static void print_usage_lines(FILE *f, const char *help)
{
    const char *end = strstr(help, "\n\n");
    fprintf(f, "%.*s\n", end ? (int)(end - help) : (int)strlen(help), help);
}

int hp_usage_error(const char *command, const char *help, const char *fmt, ...)
{
    char message[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    fprintf(stderr, "hptune: error: %s: %s\n", command, message);
    print_usage_lines(stderr, help);
    fprintf(stderr, "(see 'hptune %s --help')\n", command);
    return HP_EXIT_USAGE;
}

void hp_getopt_begin(void)
{
    optind = 0; /* glibc: start a fresh scan */
    opterr = 0; /* our messages, not getopt's */
}

/* "-x" and "--xyz" of the table, for messages and suggestions. */
static const char *option_spelling(const struct option *o, char *buf, size_t size)
{
    snprintf(buf, size, "--%s", o->name);
    return buf;
}

int hp_getopt(int argc, char **argv, const struct option *longopts, const char *help)
{
    /* the short options: those of the table with a printable val */
    char shortopts[128] = ":"; /* leading ':': a missing value returns ':' */
    size_t used = 1;
    for (const struct option *o = longopts; o->name && used + 3 < sizeof shortopts; o++)
        if (o->flag == NULL && o->val > ' ' && o->val < 127) {
            shortopts[used++] = (char)o->val;
            if (o->has_arg == required_argument)
                shortopts[used++] = ':';
        }
    shortopts[used] = '\0';
    int index = -1;
    int c = getopt_long(argc, argv, shortopts, longopts, &index);
    if (c != '?' && c != ':')
        return c;
    const char *command = argv[0];
    const char *arg = optind > 0 && optind <= argc ? argv[optind - 1] : "?";
    char spelled[96];
    if (c == ':') {
        for (const struct option *o = longopts; o->name; o++)
            if (o->val == optopt && o->has_arg == required_argument) {
                hp_usage_error(command, help, "%s needs a value", option_spelling(o, spelled, sizeof spelled));
                return '?';
            }
        hp_usage_error(command, help, "option '%s' needs a value", arg);
        return '?';
    }
    if (optopt && optopt != '?' && (arg[0] != '-' || arg[1] != '-')) { /* an unknown short option */
        hp_usage_error(command, help, "unknown option '-%c'", optopt);
        return '?';
    }
    /* a long option: unknown, ambiguous, or given a value it does not take */
    char name[128];
    snprintf(name, sizeof name, "%s", arg[0] == '-' && arg[1] == '-' ? arg + 2 : arg);
    char *eq = strchr(name, '=');
    if (eq)
        *eq = '\0';
    for (const struct option *o = longopts; o->name; o++)
        if (!strcmp(o->name, name) && o->has_arg == no_argument && eq) {
            hp_usage_error(command, help, "--%s takes no value", o->name);
            return '?';
        }
    const char *names[64];
    int n = 0, prefixed = 0;
    for (const struct option *o = longopts; o->name && n < 63; o++) {
        names[n++] = o->name;
        prefixed += strncmp(o->name, name, strlen(name)) == 0;
    }
    names[n] = NULL;
    if (prefixed > 1) {
        hp_usage_error(command, help, "option '--%s' is ambiguous; write it out", name);
        return '?';
    }
    const char *near = hp_closest_name(name, names, 3);
    if (near)
        hp_usage_error(command, help, "unknown option '--%s'; did you mean '--%s'?", name, near);
    else
        hp_usage_error(command, help, "unknown option '--%s'", name);
    return '?';
}

int hp_parse_int_option(const char *text, long min, long max, long *out)
{
    char *end = NULL;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (errno || !end || *end || end == text || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}
