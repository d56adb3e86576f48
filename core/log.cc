// log.cc - the stderr logger behind log.h.
#include "core/log.h"

#include <atomic>
#include <cstdio>
#include <ctime>

namespace im::core {
namespace {
std::atomic<int> g_level{static_cast<int>(LogLevel::Info)};
thread_local const char* t_name = "main";
const char kLevelChar[] = {'D', 'I', 'W', 'E'};
}  // namespace

void set_log_level(LogLevel level) {
  g_level.store(static_cast<int>(level));
}
bool log_enabled(LogLevel level) {
  return static_cast<int>(level) >= g_level.load();
}
void set_thread_log_name(const char* name) {
  t_name = name;
}

void log_line(LogLevel level, const char* fmt, ...) {
  char text[1024];
  va_list args;
  va_start(args, fmt);
  vsnprintf(text, sizeof(text), fmt, args);
  va_end(args);
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  tm utc;
  gmtime_r(&ts.tv_sec, &utc);
  char when[32];
  strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &utc);
  std::fprintf(stderr, "%s.%03ldZ %c %s: %s\n", when, ts.tv_nsec / 1000000,
               kLevelChar[static_cast<int>(level)], t_name, text);
}

}  // namespace im::core
