#include "bench/imbench/workloads.h"
namespace im::bench {
int run_history(const Options&, Report*) { return 2; }
}
