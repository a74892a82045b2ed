/* cli_options.h - one command-line style for every hptune command.
 *
 * Every command parses its options with getopt_long through hp_getopt:
 * `--opt value` and `--opt=value` both work, long options may be shortened
 * to any unique prefix, options and arguments may come in any order, and
 * `--` ends the options.  Every usage error looks the same:
 *
 *   hptune: error: export: unknown option '--formt'; did you mean '--format'?
 *   usage: hptune export DIR [--format csv|json] [--per epoch|trial] [--output FILE]
 *   (see 'hptune export --help')
 *
 * on stderr, and the command exits with status 2 (HP_EXIT_USAGE).  Each
 * command's help text starts with its "usage:" lines and a blank line; the
 * error shows those lines only, --help (stdout, exit 0) all of it.
 * Exit statuses of every command: 0 success, 1 failure (a message says
 * why), 2 usage error.
 */
#ifndef HPTUNE_CLI_OPTIONS_H
#define HPTUNE_CLI_OPTIONS_H

#include <getopt.h>
#include <stdio.h>

#define HP_EXIT_USAGE 2

/* getopt_long over argv (argv[0] is the command's name).  Returns what
 * getopt_long returns (the option's val, or -1 at the end), or '?' after
 * printing the usage error (unknown option with a did-you-mean, missing or
 * unexpected value): the caller returns HP_EXIT_USAGE.  Starts a fresh scan
 * when optind is 0: each command calls hp_getopt_begin() before its first
 * hp_getopt (the unit tests call commands more than once). */
int hp_getopt(int argc, char **argv, const struct option *longopts, const char *help);
void hp_getopt_begin(void);

/* Print "hptune: error: CMD: <message>" and the usage lines of help to
 * stderr; returns HP_EXIT_USAGE. */
int hp_usage_error(const char *command, const char *help, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Print the help text (all of it) to f. */
void hp_print_help(FILE *f, const char *help);

/* The name in names (NULL-terminated) closest to word within edit distance
 * max_distance (optimal string alignment: Levenshtein plus adjacent swaps),
 * first on ties; NULL if none. */
const char *hp_closest_name(const char *word, const char *const *names, int max_distance);
int hp_edit_distance(const char *a, const char *b);

/* A whole number in [min, max] from an option's value; -1 if it is not one
 * (the caller reports it with hp_usage_error). */
int hp_parse_int_option(const char *text, long min, long max, long *out);

#endif
