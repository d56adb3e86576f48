// storage_assert.h - IM_ASSERT for the storage layer, which may not include core/.
// Token-identical to core/assert.h so including both is harmless; stays on in release builds.
#pragma once

#include <cstdio>
#include <cstdlib>

#ifndef IM_ASSERT
#define IM_ASSERT(cond)                                                                   \
  do {                                                                                    \
    if (__builtin_expect(!(cond), 0)) {                                                   \
      std::fprintf(stderr, "assertion failed: %s at %s:%d\n", #cond, __FILE__, __LINE__); \
      std::abort();                                                                       \
    }                                                                                     \
  } while (0)
#endif
