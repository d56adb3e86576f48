// allocator_conf.cc - imserver's jemalloc settings, read by jemalloc at its first allocation
// (an operator's MALLOC_CONF environment variable still overrides them).
//
// oversize_threshold: jemalloc gives allocations above 8 MiB an arena of their own that returns
// their pages to the kernel as soon as they are freed. A password hash (scrypt, N = 16384,
// r = 8) allocates 16 MiB per call, so every login paid 4,096 fresh page faults: 90 instead of
// 33 ms of CPU per password login (docs/performance.md, "The allocator"). With the threshold
// at 64 MiB those buffers come from the ordinary arenas, whose freed pages stay mapped for the
// decay time (10 s) and are reused by the next hash.
extern "C" {
// NOLINTNEXTLINE: the name and type are jemalloc's interface.
const char* malloc_conf = "oversize_threshold:67108864";
}
