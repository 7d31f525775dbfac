// The pre-tokenizer against re.findall of CLIP's pattern with the `regex` module (IGNORECASE).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "python_ref.h"
#include "tokenizer/text_clean.h"

namespace xrs {
namespace {

using testing::run_python;
using testing::u32;
using testing::utf8;

// Random mixes of single characters of every class and of pattern fragments.
std::vector<std::string> random_mixes() {
  const std::vector<std::string> pool = {"a",
                                         "Z",
                                         "\xc3\xa9",
                                         "\xce\xa3",
                                         "\xe8\x83\xb8",
                                         "1",
                                         "\xd9\xa3",
                                         "\xe2\x85\xa0",
                                         "\xc2\xb2",
                                         " ",
                                         "\t",
                                         "\n",
                                         "\xc2\xa0",
                                         "\xe3\x80\x80",
                                         "\x1c",
                                         "'",
                                         "'s",
                                         "'S",
                                         "'ll",
                                         "'l",
                                         "'\xc5\xbf",
                                         "<|startoftext|>",
                                         "<|endoftext|>",
                                         "<|",
                                         "|>",
                                         "-",
                                         "!!",
                                         "#",
                                         "\xcc\x81",
                                         "\xcd\x85",
                                         "\xe2\x80\x8b",
                                         "\xf0\x9f\xa6\xb4",
                                         "\xe2\x93\x90",
                                         "\xef\xbc\x81",
                                         "\xe0\xa4\xbf"};
  std::vector<std::string> out;
  uint32_t state = 2024;
  for (int n = 0; n < 400; ++n) {
    std::string t;
    for (int k = 0; k < 1 + n % 11; ++k) {
      state = state * 1103515245u + 12345u;  // a fixed LCG: the same texts every run
      t += pool[(state >> 8) % pool.size()];
    }
    out.push_back(t);
  }
  return out;
}

const std::vector<std::string>& strings() {
  static const std::vector<std::string> s = [] {
    std::vector<std::string> v = {
        "it's a hand",
        "don't",
        "we'll see",
        "i'd say they're fine",
        "you've",
        "i'm",
        "she'll",
        "'s't're've'm'll'd",
        "''s",
        "'S 'T 'RE 'Ll",
        "'sa 'll 'lx 'dd 're'",
        "o'neill's",
        "'\xc5\xbf '\xc5\xbftuff",
        "<|startoftext|>",
        "<|endoftext|>",
        "<|STARTOFTEXT|>",
        "<|\xc5\xbftartoftext|>",
        "a<|endoftext|>b",
        "<|endoftext|",
        "<<|endoftext|>>",
        "x<|startoftext|><|endoftext|>y",
        "3.14159",
        "1,024 pixels",
        "123abc456",
        "x\xc2\xb2 \xe2\x85\xa0\xe2\x85\xa1",
        "\xd9\xa1\xd9\xa2\xd9\xa3",
        "C++ and C#",
        "@user #tag",
        "... ??? !!!",
        "a/b\\c",
        "(parenthesis) [brackets] {braces}",
        "50% off",
        "$100",
        "e-mail",
        "state-of-the-art",
        "\xf0\x9f\xa6\xb4 bone",
        "\xf0\x9f\x99\x82\xf0\x9f\x99\x82",
        "\xe8\x83\xb8\xe9\x83\xa8X\xe5\x85\x89",
        "i\xcc\x87stanbul",
        "e\xcc\x81t\xc3\xa9",
        "a\xcd\x85"
        "b",
        "\xce\xb1\xcd\x85",
        "\xe2\x80\x8b|\xe2\x80\x8c",
        "tab\there",
        "a\xc2\xa0"
        "b\xe3\x80\x80"
        "c",
        "a\x1c"
        "b",
        "\xc2\x85x\xc2\x85y",
        "\xe2\x93\x90\xe2\x92\xb6!",
        "\xef\xbc\xa1\xef\xbc\x81",
        "\xf0\x9d\x90\x80\xf0\x9d\x9f\x8e",
        "\xe0\xa4\xb9\xe0\xa4\xbf\xe0\xa4\x82",
        "\xe0\xb8\x81\xe0\xb8\xb2\xe0\xb8\xa3",
        "\xea\xb0\x80\xeb\x82\x98",
        "'",
        "",
        "  ",
    };
    for (std::string& m : random_mixes()) v.push_back(std::move(m));
    return v;
  }();
  return s;
}

TEST(PretokenizeVsRegex, FindallPieces) {
  auto ref = run_python("findall", R"PY(
regex = need('regex')
pat = regex.compile(r"""<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+""", regex.IGNORECASE)
out([regex.findall(pat, s) for s in data] + [regex.findall(pat, s.lower()) for s in data])
)PY",
                        strings());
  XRS_PYTHON_OR_SKIP(ref);
  const auto& s = strings();
  ASSERT_EQ(ref.output.size(), 2 * s.size());
  for (size_t i = 0; i < 2 * s.size(); ++i) {
    const std::u32string text =
        i < s.size() ? u32(s[i]) : clip_text::py_lower(u32(s[i - s.size()]));
    std::vector<std::string> mine;
    for (std::u32string_view piece : clip_text::pretokenize(text)) mine.push_back(utf8(piece));
    EXPECT_EQ(mine, ref.output[i].get<std::vector<std::string>>()) << "text '" << utf8(text) << "'";
  }
}

// Independent of Python: the pieces the pattern must give, from its definition.
TEST(Pretokenize, KnownPieces) {
  auto pieces = [](const std::string& s) {
    const std::u32string text = u32(s);
    std::vector<std::string> out;
    for (std::u32string_view p : clip_text::pretokenize(text)) out.push_back(utf8(p));
    return out;
  };
  using V = std::vector<std::string>;
  EXPECT_EQ(pieces("it's 2nd x-ray!!"), (V{"it", "'s", "2", "nd", "x", "-", "ray", "!!"}));
  EXPECT_EQ(pieces("<|endoftext|>abc"), (V{"<|endoftext|>", "abc"}));
  EXPECT_EQ(pieces("'lx"), (V{"'", "lx"}));
  EXPECT_EQ(pieces("a \t b"), (V{"a", "b"}));
  EXPECT_TRUE(pieces("").empty());
}

}  // namespace
}  // namespace xrs
