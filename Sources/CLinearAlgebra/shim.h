// OpenBLAS and LAPACKE, loaded on first use (dlopen) instead of at program start.
//
// Linked normally, OpenBLAS starts its thread pool in a load-time constructor, sized by OPENBLAS_NUM_THREADS or
// the core count, and those threads spin (sched_yield) waiting for work: on a 2-core machine a `quiver merge-files`
// that never calls BLAS lost ~20% of its wall time to them, and every command paid for loading the libraries.
// Quiver runs BLAS single-threaded (its parallelism is across modules, and results must not depend on a thread
// count), so the first call sets OPENBLAS_NUM_THREADS=1 and then loads the libraries: no pool is ever started.
// The declarations below come from the system headers, so the pointers have exactly their types.
#include <cblas.h>
#include <lapacke.h>
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    __typeof__(cblas_sgemm) *sgemm;
    __typeof__(cblas_dsdot) *dsdot;
    __typeof__(LAPACKE_sgeqrf) *sgeqrf;
    __typeof__(LAPACKE_sorgqr) *sorgqr;
    __typeof__(LAPACKE_sgesdd) *sgesdd;
    char error[512];
} quiver_linear_algebra;

// Function-local statics: Swift emits the header's inline functions, not its file-scope variables.
static inline quiver_linear_algebra *quiver_la_state(void) {
    static quiver_linear_algebra state;
    return &state;
}

static inline pthread_once_t *quiver_la_once(void) {
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    return &once;
}

static inline void quiver_la_load_once(void) {
    quiver_linear_algebra *la = quiver_la_state();
    setenv("OPENBLAS_NUM_THREADS", "1", 1);
    void *blas = dlopen("libopenblas.so.0", RTLD_NOW | RTLD_GLOBAL);
    void *lapacke = blas ? dlopen("liblapacke.so.3", RTLD_NOW | RTLD_GLOBAL) : NULL;
    if (!blas || !lapacke) {
        const char *reason = dlerror();
        snprintf(la->error, sizeof la->error, "cannot load %s: %s", blas ? "liblapacke.so.3" : "libopenblas.so.0",
                 reason ? reason : "unknown error");
        return;
    }
    la->sgemm = (__typeof__(cblas_sgemm) *)dlsym(blas, "cblas_sgemm");
    la->dsdot = (__typeof__(cblas_dsdot) *)dlsym(blas, "cblas_dsdot");
    la->sgeqrf = (__typeof__(LAPACKE_sgeqrf) *)dlsym(lapacke, "LAPACKE_sgeqrf");
    la->sorgqr = (__typeof__(LAPACKE_sorgqr) *)dlsym(lapacke, "LAPACKE_sorgqr");
    la->sgesdd = (__typeof__(LAPACKE_sgesdd) *)dlsym(lapacke, "LAPACKE_sgesdd");
    if (!la->sgemm || !la->dsdot || !la->sgeqrf || !la->sorgqr || !la->sgesdd) {
        snprintf(la->error, sizeof la->error, "OpenBLAS or LAPACKE lacks a routine Quiver needs");
        la->sgemm = NULL;
        return;
    }
    // In case the pool was already started by someone else's earlier load.
    void (*set_threads)(int) = (void (*)(int))dlsym(blas, "openblas_set_num_threads");
    if (set_threads) set_threads(1);
}

/// Loads the libraries once; NULL when they are usable, else why not.
static inline const char *quiver_linear_algebra_load(void) {
    pthread_once(quiver_la_once(), quiver_la_load_once);
    return quiver_la_state()->sgemm ? NULL : quiver_la_state()->error;
}

static inline const quiver_linear_algebra *quiver_la(void) {
    const char *error = quiver_linear_algebra_load();
    if (error) {
        // Callers check quiver_linear_algebra_load() first and report a named error; reaching this is a bug.
        fprintf(stderr, "quiver: linear algebra unavailable: %s\n", error);
        abort();
    }
    return quiver_la_state();
}

static inline void quiver_cblas_sgemm(enum CBLAS_ORDER order, enum CBLAS_TRANSPOSE transA, enum CBLAS_TRANSPOSE transB,
                                      blasint m, blasint n, blasint k, float alpha, const float *a, blasint lda,
                                      const float *b, blasint ldb, float beta, float *c, blasint ldc) {
    quiver_la()->sgemm(order, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

static inline double quiver_cblas_dsdot(blasint n, const float *x, blasint incx, const float *y, blasint incy) {
    return quiver_la()->dsdot(n, x, incx, y, incy);
}

static inline lapack_int quiver_lapacke_sgeqrf(int layout, lapack_int m, lapack_int n, float *a, lapack_int lda, float *tau) {
    return quiver_la()->sgeqrf(layout, m, n, a, lda, tau);
}

static inline lapack_int quiver_lapacke_sorgqr(int layout, lapack_int m, lapack_int n, lapack_int k, float *a, lapack_int lda,
                                               const float *tau) {
    return quiver_la()->sorgqr(layout, m, n, k, a, lda, tau);
}

static inline lapack_int quiver_lapacke_sgesdd(int layout, char jobz, lapack_int m, lapack_int n, float *a, lapack_int lda,
                                               float *s, float *u, lapack_int ldu, float *vt, lapack_int ldvt) {
    return quiver_la()->sgesdd(layout, jobz, m, n, a, lda, s, u, ldu, vt, ldvt);
}
