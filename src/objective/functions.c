/* functions.c - test functions of the HPO literature (formulas in functions.h). */
#include "functions.h"

#include <math.h>
#include <string.h>

#define PI 3.14159265358979323846

static const hp_function functions[] = {
    {"branin", 2, {-5, 0}, {10, 15}, 0, 0.39788735772973816, {PI, 2.275}},
    {"hartmann6", 6, {0, 0, 0, 0, 0, 0}, {1, 1, 1, 1, 1, 1}, 0, -3.3223680114155147,
     {0.20169, 0.150011, 0.476874, 0.275332, 0.311652, 0.6573}},
    {"branin_fidelity", 2, {-5, 0}, {10, 15}, 1, 0.39788735772973816, {PI, 2.275}},
    {"hartmann6_fidelity", 6, {0, 0, 0, 0, 0, 0}, {1, 1, 1, 1, 1, 1}, 1, -3.3223680114155147,
     {0.20169, 0.150011, 0.476874, 0.275332, 0.311652, 0.6573}},
};
#define N_FUNCTIONS (sizeof functions / sizeof functions[0])

const hp_function *hp_function_find(const char *name)
{
    for (size_t i = 0; i < N_FUNCTIONS; i++)
        if (strcmp(functions[i].name, name) == 0)
            return &functions[i];
    return NULL;
}

const char *hp_function_names(void) { return "branin, hartmann6, branin_fidelity, hartmann6_fidelity"; }

static double branin(const double *x, double z)
{
    double b = 5.1 / (4 * PI * PI) - 0.01 * (1 - z), c = 5 / PI - 0.1 * (1 - z), t = 1 / (8 * PI) + 0.05 * (1 - z);
    double u = x[1] - b * x[0] * x[0] + c * x[0] - 6;
    return u * u + 10 * (1 - t) * cos(x[0]) + 10;
}

static double hartmann6(const double *x, double z)
{
    static const double A[4][6] = {{10, 3, 17, 3.5, 1.7, 8},
                                   {0.05, 10, 17, 0.1, 8, 14},
                                   {3, 3.5, 1.7, 10, 17, 8},
                                   {17, 8, 0.05, 10, 0.1, 14}};
    static const double P[4][6] = {{0.1312, 0.1696, 0.5569, 0.0124, 0.8283, 0.5886},
                                   {0.2329, 0.4135, 0.8307, 0.3736, 0.1004, 0.9991},
                                   {0.2348, 0.1451, 0.3522, 0.2883, 0.3047, 0.6650},
                                   {0.4047, 0.8828, 0.8732, 0.5743, 0.1091, 0.0381}};
    double alpha[4] = {1.0 - 0.1 * (1 - z), 1.2, 3.0, 3.2};
    double sum = 0;
    for (int i = 0; i < 4; i++) {
        double inner = 0;
        for (int j = 0; j < 6; j++)
            inner += A[i][j] * (x[j] - P[i][j]) * (x[j] - P[i][j]);
        sum += alpha[i] * exp(-inner);
    }
    return -sum;
}

double hp_function_eval(const hp_function *f, const double *x, double z)
{
    if (!f->fidelity)
        z = 1.0;
    if (z < 0)
        z = 0;
    if (z > 1)
        z = 1;
    return f->n_dims == 2 ? branin(x, z) : hartmann6(x, z);
}
