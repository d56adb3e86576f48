// private_arena.cc - see private_arena.h. mallctl is declared weak: it resolves to jemalloc's
// when imserver links jemalloc and stays null otherwise.
#include "core/private_arena.h"

#include <cstddef>
#include <cstdio>

extern "C" int mallctl(const char* name, void* oldp, size_t* oldlenp, void* newp, size_t newlen)
    __attribute__((weak));

namespace im::core {

bool PrivateArena::bind_this_thread() {
  if (!mallctl) return false;
  unsigned index = 0;
  size_t len = sizeof(index);
  if (mallctl("arenas.create", &index, &len, nullptr, 0) != 0) return false;
  if (mallctl("thread.arena", nullptr, nullptr, &index, sizeof(index)) != 0) return false;
  index_ = index;
  bound_ = true;
  return true;
}

void PrivateArena::purge() {
  if (!bound_) return;
  char name[32];
  std::snprintf(name, sizeof(name), "arena.%u.purge", index_);
  mallctl(name, nullptr, nullptr, nullptr, 0);
}

}  // namespace im::core
