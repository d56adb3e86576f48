// username.h - the username rule, checked where a name enters (register, login, lookup):
// 3..32 bytes of a-z 0-9 _ . -, starting with a letter, case-insensitive (stored lower
// case). docs/protocol.md states the same rule for client writers.
#pragma once

#include <string>
#include <string_view>

namespace im::core {

inline bool normalize_username(std::string_view in, std::string* out) {
  if (in.size() < 3 || in.size() > 32) return false;
  out->clear();
  for (char ch : in) {
    char c = (ch >= 'A' && ch <= 'Z') ? char(ch - 'A' + 'a') : ch;
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
    if (!ok) return false;
    out->push_back(c);
  }
  return (*out)[0] >= 'a' && (*out)[0] <= 'z';
}

}  // namespace im::core
