// Shard selection (index/shard.h): the shard of a name must be what the documented formula gives
// in any other language, here Python's hashlib (the expected values below were computed with
// `int(hashlib.sha256(name.encode()).hexdigest()[:16], 16) % n`), and K/N parsing.
#include "index/shard.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace xrs {
namespace {

TEST(ShardTest, ShardOfEqualsPythonHashlib) {
  struct Case {
    const char* name;
    int n;
    int shard;
  };
  const std::vector<Case> cases = {
      {"chest_001.png", 2, 1},
      {"chest_001.png", 3, 0},
      {"chest_001.png", 7, 0},
      {"hand-0042.jpg", 2, 0},
      {"hand-0042.jpg", 3, 0},
      {"hand-0042.jpg", 7, 6},
      {"dental x.png", 2, 0},
      {"dental x.png", 3, 0},
      {"dental x.png", 7, 3},
      {"\xc3\x9c"
       "n"
       "\xc3\xaf"
       "code.dcm",
       2, 1},
      {"\xc3\x9c"
       "n"
       "\xc3\xaf"
       "code.dcm",
       3, 1},
      {"\xc3\x9c"
       "n"
       "\xc3\xaf"
       "code.dcm",
       7, 5},
      {"a", 2, 0},
      {"a", 3, 1},
      {"a", 7, 4},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(shard_of(c.name, c.n), c.shard) << c.name << " of " << c.n;
    EXPECT_TRUE((ShardSpec{c.shard, c.n}.contains(c.name)));
    EXPECT_FALSE((ShardSpec{(c.shard + 1) % c.n, c.n}.contains(c.name)));
  }
  EXPECT_EQ(shard_of("anything", 1), 0);
  EXPECT_TRUE(ShardSpec{}.contains("anything"));
}

TEST(ShardTest, ShardsAreBalancedAndCoverEveryName) {
  for (int n : {2, 3, 10}) {
    std::vector<int> counts(n, 0);
    const int names = 30000;
    for (int i = 0; i < names; ++i) {
      const std::string name = "img_" + std::to_string(i) + ".png";
      int owners = 0;
      for (int k = 0; k < n; ++k) owners += ShardSpec{k, n}.contains(name) ? 1 : 0;
      ASSERT_EQ(owners, 1) << name;
      ++counts[shard_of(name, n)];
    }
    for (int k = 0; k < n; ++k) {
      EXPECT_NEAR(counts[k], names / n, names / n * 0.05) << k << " of " << n;
    }
  }
}

TEST(ShardTest, ParsesKOverN) {
  auto s = parse_shard("2/5");
  ASSERT_TRUE(s.is_ok()) << s.status().to_string();
  EXPECT_EQ(s->index, 2);
  EXPECT_EQ(s->count, 5);
  EXPECT_EQ(s->to_string(), "2/5");
  EXPECT_TRUE(s->sharded());
  auto whole = parse_shard("0/1");
  ASSERT_TRUE(whole.is_ok());
  EXPECT_FALSE(whole->sharded());
  for (const char* bad : {"", "3", "5/5", "-1/4", "1/0", "a/b", "1/2/3", "1 /2", "0/100001"}) {
    auto r = parse_shard(bad);
    ASSERT_FALSE(r.is_ok()) << bad;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << bad;
    EXPECT_NE(r.status().message().find(std::string("'") + bad + "'"), std::string::npos)
        << r.status().message();
  }
}

}  // namespace
}  // namespace xrs
