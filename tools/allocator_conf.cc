// allocator_conf.cc - imserver's jemalloc settings, read by jemalloc at its first allocation
// (an operator's MALLOC_CONF environment variable still overrides them).
//
// oversize_threshold: jemalloc gives allocations above 8 MiB an arena of their own that returns
// their pages to the kernel as soon as they are freed. A password hash (scrypt, N = 16384,
// r = 8) allocates 16 MiB per call, so every login paid 4,096 fresh page faults: 90 instead of
// 33 ms of CPU per password login (docs/performance.md, "The allocator"). With the threshold
// at 64 MiB those buffers come from the ordinary arenas, whose freed pages stay mapped for the
// decay time (10 s) and are reused by the next hash.
//
// lg_extent_max_active_fit: a freed large buffer is reused for a request up to 2^12 times
// smaller (default 2^6). Connection send buffers grow by doubling and are freed and grown
// again with every burst; with the default, group-fanout kept mapping fresh extents instead
// of reusing the cached ones: 190,000 page faults instead of 45,000 per run (first touches
// cost ~15 us each here), 1.0 instead of 0.44 us of server CPU per delivery.
extern "C" {
// NOLINTNEXTLINE: the name and type are jemalloc's interface.
const char* malloc_conf = "oversize_threshold:67108864,lg_extent_max_active_fit:12";
}
