// log.h - leveled logging to stderr: "2026-11-23T10:00:00.123Z W worker-1: text".
// One fprintf per line (stdio locks, so lines from threads never interleave). Nothing is
// logged per message at the default level (info).
#pragma once

#include <cstdarg>

#include "core/config.h"

namespace im::core {

void set_log_level(LogLevel level);
bool log_enabled(LogLevel level);
void log_line(LogLevel level, const char* fmt, ...) __attribute__((format(printf, 2, 3)));
void set_thread_log_name(const char* name);

}  // namespace im::core

#define IM_LOG(level, ...)                                            \
  do {                                                                \
    if (::im::core::log_enabled(::im::core::LogLevel::level))         \
      ::im::core::log_line(::im::core::LogLevel::level, __VA_ARGS__); \
  } while (0)
#define LOG_DEBUG(...) IM_LOG(Debug, __VA_ARGS__)
#define LOG_INFO(...) IM_LOG(Info, __VA_ARGS__)
#define LOG_WARN(...) IM_LOG(Warn, __VA_ARGS__)
#define LOG_ERROR(...) IM_LOG(Error, __VA_ARGS__)
