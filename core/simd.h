/* simd: VEC_CLONES builds an element-wise function three times, for
 * AVX-512, AVX2+FMA and the x86-64 baseline, and the loader picks the one
 * the CPU runs (GCC function multi-versioning through ifunc). One portable
 * binary then uses the machine's widest vectors and libmvec's matching
 * vector math, where the default build alone stops at SSE2. Elsewhere it
 * is nothing. Each clone of a function gives the same results on a given
 * machine, so a seed still reproduces a run there. Not under
 * ThreadSanitizer: the loader runs ifunc resolvers before TSan's runtime
 * starts, and an instrumented resolver crashes the binary at load. */
#pragma once

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) &&         \
    defined(__linux__) && !defined(__SANITIZE_THREAD__)
#define VEC_CLONES                                                             \
    __attribute__((                                                            \
        target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define VEC_CLONES
#endif

/* For the static helpers of a VEC_CLONES function: inlined into each
 * clone, they are vectorised for its target (out of line, GCC keeps one
 * baseline copy). */
#define VEC_INLINE static inline __attribute__((always_inline))
