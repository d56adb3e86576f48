// codes_test.cc - every status code in im.fbs has a name (the schema's), a description,
// and is retryable exactly when it is a 5xx code.
#include "protocol/codes.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace im::protocol {
namespace {

TEST(Codes, EveryCodeHasTheSchemaNameAndADescription) {
  std::set<std::string> names;
  std::set<std::string> descriptions;
  for (Code code : im::proto::EnumValuesCode()) {
    std::string name = code_name(code);
    EXPECT_EQ(name, im::proto::EnumNameCode(code));
    EXPECT_NE(name, "Unknown");
    std::string description = code_description(code);
    EXPECT_FALSE(description.empty()) << name;
    EXPECT_NE(description, "unknown status code") << name;
    names.insert(name);
    descriptions.insert(description);
  }
  size_t count = sizeof(im::proto::EnumValuesCode()) / sizeof(Code);
  EXPECT_EQ(names.size(), count);
  EXPECT_EQ(descriptions.size(), count) << "two codes share a description";
}

TEST(Codes, RetryableExactlyFor5xx) {
  for (Code code : im::proto::EnumValuesCode()) {
    int value = static_cast<int>(code);
    EXPECT_EQ(code_is_retryable(code), value >= 500 && value < 600) << code_name(code);
  }
  EXPECT_TRUE(code_is_retryable(Code::StorageFull));
  EXPECT_TRUE(code_is_retryable(Code::Overloaded));
  EXPECT_FALSE(code_is_retryable(Code::Ok));
  EXPECT_FALSE(code_is_retryable(Code::AuthFailed));
  EXPECT_FALSE(code_is_retryable(Code::BadRequest));
}

TEST(Codes, NumberOutsideTheListIsUnknown) {
  auto stray = static_cast<Code>(499);
  EXPECT_STREQ(code_name(stray), "Unknown");
  EXPECT_STREQ(code_description(stray), "unknown status code");
  EXPECT_FALSE(code_is_retryable(stray));
  EXPECT_TRUE(code_is_retryable(static_cast<Code>(599)));  // a future 5xx is still retryable
}

}  // namespace
}  // namespace im::protocol
