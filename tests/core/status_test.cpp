#include "core/status.h"

#include <gtest/gtest.h>

namespace xrs {
namespace {

StatusOr<int> parse_positive(int v) {
  if (v <= 0) return Status::invalid_argument("value " + std::to_string(v) + " is not positive");
  return v;
}

StatusOr<int> doubled(int v) {
  XRS_ASSIGN_OR_RETURN(int x, parse_positive(v));
  return 2 * x;
}

Status check(int v) {
  XRS_RETURN_IF_ERROR(parse_positive(v).status());
  return Status::ok();
}

TEST(StatusTest, OkAndErrorsCarryCodeAndMessage) {
  EXPECT_TRUE(Status::ok().is_ok());
  Status s = Status::not_found("model.safetensors: tensor 'visual.proj' missing");
  EXPECT_FALSE(s.is_ok());
  EXPECT_EQ(s.code(), StatusCode::kNotFound);
  EXPECT_EQ(s.to_string(), "not_found: model.safetensors: tensor 'visual.proj' missing");
  EXPECT_EQ(s.with_context("loading").message(),
            "loading: model.safetensors: tensor 'visual.proj' missing");
  EXPECT_EQ(status_code_name(StatusCode::kResourceExhausted), "resource_exhausted");
}

TEST(StatusTest, MacrosPropagate) {
  EXPECT_EQ(doubled(4).value(), 8);
  StatusOr<int> bad = doubled(-1);
  ASSERT_FALSE(bad.is_ok());
  EXPECT_EQ(bad.status().message(), "value -1 is not positive");
  EXPECT_TRUE(check(3).is_ok());
  EXPECT_EQ(check(0).code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace xrs
