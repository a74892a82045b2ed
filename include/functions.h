/* functions.h - standard test functions of the HPO literature, as an objective.
 *
 * `objective: {type: function, name: NAME}` evaluates one of these instead of
 * training a network (for tests and `make bench-search`; no data needed).
 * The space names the coordinates x1..xd (config keys x1..x6); the value is
 * reported as train_loss and val_loss every epoch, and the study minimises
 * val_loss.  All are minimised.
 *
 *   branin      d = 2, x1 in [-5, 10], x2 in [0, 15]
 *               f = a (x2 - b x1^2 + c x1 - r)^2 + s (1 - t) cos(x1) + s,
 *               a = 1, b = 5.1/(4 pi^2), c = 5/pi, r = 6, s = 10, t = 1/(8 pi)
 *               min f = 0.397887 at (-pi, 12.275), (pi, 2.275), (9.42478, 2.475)
 *   hartmann6   d = 6, x in [0, 1]^6
 *               f = -sum_i alpha_i exp(-sum_j A_ij (x_j - P_ij)^2)
 *               alpha = (1, 1.2, 3, 3.2), A and P as in Surjanovic & Bingham's
 *               library (also Dixon & Szegoe 1978)
 *               min f = -3.32237 at (0.20169, 0.150011, 0.476874, 0.275332, 0.311652, 0.6573)
 *   branin_fidelity, hartmann6_fidelity
 *               the multi-fidelity versions of Kandasamy et al., "Multi-fidelity
 *               Bayesian optimisation with continuous approximations" (ICML 2017,
 *               BOCA), with fidelity z = epoch / epochs of the trial's budget (ASHA
 *               and BOHB: max_epochs): z = 1 is the function above, smaller z a
 *               biased approximation:
 *               branin:    b(z) = b - 0.01 (1 - z), c(z) = c - 0.1 (1 - z),
 *                          t(z) = t + 0.05 (1 - z)
 *               hartmann6: alpha_1(z) = alpha_1 - 0.1 (1 - z) (the other alphas
 *                          unchanged)
 *               so low-fidelity rankings resemble but do not equal the final
 *               ones, as short training runs do.
 */
#ifndef HPTUNE_FUNCTIONS_H
#define HPTUNE_FUNCTIONS_H

#define HP_FUNCTION_MAX_DIMS 6

typedef struct hp_function {
    const char *name;
    int n_dims;
    double low[HP_FUNCTION_MAX_DIMS], high[HP_FUNCTION_MAX_DIMS]; /* the domain of x1..xd */
    int fidelity;          /* the value depends on the epoch */
    double minimum;        /* the known global minimum (at z = 1) */
    double argmin[HP_FUNCTION_MAX_DIMS]; /* one of its minimisers */
} hp_function;

/* The function with this name, or NULL.  hp_function_names(): "a, b, c". */
const hp_function *hp_function_find(const char *name);
const char *hp_function_names(void);
/* f(x) at fidelity z in [0, 1] (z is ignored by functions without fidelity). */
double hp_function_eval(const hp_function *f, const double *x, double z);

#endif
