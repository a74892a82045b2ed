/* blas_setup.c - OpenBLAS threads and a description of the linked kernels. */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"

/* OpenBLAS extensions (declared in its cblas.h on Debian; repeated here for
 * other installs). */
extern void openblas_set_num_threads(int num_threads);
extern char *openblas_get_config(void);
extern char *openblas_get_corename(void);

void hp_blas_set_threads(int threads) { openblas_set_num_threads(threads < 1 ? 1 : threads); }

const char *hp_blas_description(void)
{
    static char buf[256];
    snprintf(buf, sizeof buf, "%s; kernels %s; OPENBLAS_CORETYPE=%s", openblas_get_config(),
             openblas_get_corename(), getenv("OPENBLAS_CORETYPE") ? getenv("OPENBLAS_CORETYPE") : "(unset)");
    return buf;
}
