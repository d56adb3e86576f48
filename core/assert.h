// assert.h - IM_ASSERT: invariants that hold if the code is right. Stays on in release
// builds (cheap checks only). A failure is a bug report, never a way to reject input.
#pragma once

#include <cstdio>
#include <cstdlib>

#define IM_ASSERT(cond)                                                                   \
  do {                                                                                    \
    if (__builtin_expect(!(cond), 0)) {                                                   \
      std::fprintf(stderr, "assertion failed: %s at %s:%d\n", #cond, __FILE__, __LINE__); \
      std::abort();                                                                       \
    }                                                                                     \
  } while (0)
