// private_arena.h - a jemalloc arena of the calling thread's own, purged on demand: for a thread
// whose large allocations come in bursts (the password hashing thread: scrypt takes 16 MiB per
// hash), so that a burst reuses its pages but an idle server does not keep them. Without
// jemalloc (the sanitizer builds link glibc's malloc) every call is a no-op.
#pragma once

namespace im::core {

class PrivateArena {
 public:
  // Creates an arena and makes it the calling thread's; false without jemalloc.
  bool bind_this_thread();
  // Returns the arena's unused pages to the kernel.
  void purge();

 private:
  unsigned index_ = 0;
  bool bound_ = false;
};

}  // namespace im::core
