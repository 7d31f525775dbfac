// The cleaning steps against Python itself: html.unescape, str.lower, str.strip/isspace,
// unicodedata.normalize and the `regex` module's classes (each code point, and tricky strings).
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

// Strings that exercise each step: entities, casing, spaces, marks, scripts, emoji, controls.
const std::vector<std::string>& tricky_strings() {
  static const std::vector<std::string> strings = {
      "",
      " ",
      "a",
      "chest X-ray",
      "  multiple   spaces\tand\nnewlines  ",
      "&amp;",
      "&amp",
      "&ampx",
      "&AMP;",
      "&AMP",
      "&lt;b&gt;bold&lt;/b&gt;",
      "a &amp;amp; b",
      "&#65;",
      "&#x41;",
      "&#X41",
      "&#65",
      "&#0;",
      "&#13;",
      "&#1;",
      "&#x7F;",
      "&#128;",
      "&#x81;",
      "&#x9F;",
      "&#xD800;",
      "&#xDFFF;",
      "&#x110000;",
      "&#99999999999999999999999;",
      "&#xFFFE;",
      "&#x10FFFF;",
      "&#x1FFFF;",
      "&#xFDD0;",
      "&#x1F600;",
      "&#128;&#129;&#130;&#131;&#132;&#133;&#134;&#135;&#136;&#137;&#138;&#139;&#140;&#141;&#142;&#"
      "143;&#144;&#145;&#146;&#147;&#148;&#149;&#150;&#151;&#152;&#153;&#154;&#155;&#156;&#157;&#"
      "158;&#159;",
      "&#;",
      "&#x;",
      "&#xg;",
      "&;",
      "& amp;",
      "&&amp;",
      "a&b",
      "&notit;",
      "&notin;",
      "&noti",
      "&not",
      "&copy2024",
      "&Eacute;",
      "&EACUTE;",
      "&eacute",
      "&CounterClockwiseContourIntegral;",
      "&CounterClockwiseContourIntegralX;",
      "&abcdefghijklmnopqrstuvwxyzabcdefghijkl;",
      "&amp\xc3\xa9",
      "&lt\r",
      "&gt\t",
      "&quot",
      "&frac12;&frac12&frac1",
      "&nbsp;x&nbsp",
      "&NewLine;&Tab;",
      "&bne;",
      "&#x20AC;&euro;",
      "\xc4\xb0stanbul",
      "\xc4\xb0",
      "I\xcc\x87",
      "\xce\xa3",
      "\xce\x91\xce\xa3",
      "\xce\x91\xce\xa3 \xce\x91\xce\xa3\xce\x91",
      "\xce\x91\xce\xa3.",
      "\xce\x91.\xce\xa3",
      "\xce\x91'\xce\xa3'",
      "\xce\xa3\xce\x91",
      "a\xcc\x81\xce\xa3",
      "1\xce\xa3",
      "\xe1\xbd\x88\xce\xa3",
      "\xe2\x85\xa0\xce\xa3",
      "\xce\x91\xce\xa3\xcc\x81",
      "\xce\x91\xce\xa3\xe2\x80\x8b",
      "Stra\xc3\x9f"
      "e",
      "STRASSE \xe1\xba\x9e",
      "\xe2\x84\xaa\xe2\x84\xab\xe2\x84\xa6",
      "\xc7\x85\xc7\x88\xc7\x8b",
      "\xe1\xbe\x88\xe1\xbe\xbc",
      "\xe1\x8e\xa0\xe1\x8f\xb4",
      "\xe1\xb2\x90\xe1\xb2\xbf",
      "\xf0\x90\x90\x80\xf0\x90\x90\xa8",
      "\xe2\x93\x90\xe2\x92\xb6",
      "e\xcc\x81",
      "\xe1\xb8\x8b\xcc\xa3",
      "\xcd\x84",
      "\xe1\x84\x92\xe1\x85\xa1\xe1\x86\xab",
      "\xe2\x84\xab",
      "q\xcc\x87\xcc\xa3",
      "\xef\xac\x81",
      "\xef\xbc\xa1\xef\xbd\x81",
      "\xe8\x83\xb8\xe9\x83\xa8X\xe5\x85\x89\xe7\x89\x87",
      "\xf0\x9f\xa6\xb4 bone",
      "\xf0\x9f\x91\xa8\xe2\x80\x8d\xf0\x9f\x91\xa9",
      "a\xe2\x80\x8b"
      "b",
      "a\xe1\xa0\x8e"
      "b",
      "\x1c a \x1f",
      "\x1c\x1d\x1e\x1f",
      "\xc2\xa0x\xe3\x80\x80",
      "\xe2\x80\xa8\xe2\x80\xa9\xc2\x85",
      "a \t\n\r\x0b\x0c b",
      "\xe2\x80\x83"
      "em\xe2\x80\x8aspace\xe2\x80\xaf",
      "tab\there",
      "\xd8\xb5\xd9\x88\xd8\xb1\xd8\xa9",
      "\xd1\x80\xd0\xb5\xd0\xbd\xd1\x82\xd0\xb3\xd0\xb5\xd0\xbd",
      "\xc2\x85\xc2\x91quote\xc2\x92",
      "\x01\x02\x7f",
      "\xef\xbb\xbf"
      "bom",
  };
  return strings;
}

std::vector<std::string> apply(std::u32string (*fn)(std::u32string_view)) {
  std::vector<std::string> out;
  for (const std::string& s : tricky_strings()) out.push_back(utf8(fn(u32(s))));
  return out;
}

TEST(CleanVsPython, HtmlUnescape) {
  auto ref =
      run_python("html", "import html\nout([html.unescape(s) for s in data])\n", tricky_strings());
  XRS_PYTHON_OR_SKIP(ref);
  EXPECT_EQ(apply(clip_text::html_unescape), ref.output.get<std::vector<std::string>>());
}

TEST(CleanVsPython, LowerStripNormalize) {
  auto ref = run_python("lower",
                        "import unicodedata as u\n"
                        "out([[s.lower(), s.strip(), u.normalize('NFC', s), u.normalize('NFKC', s)]"
                        " for s in data])\n",
                        tricky_strings());
  XRS_PYTHON_OR_SKIP(ref);
  const std::vector<std::string> lower = apply(clip_text::py_lower);
  const std::vector<std::string> strip = apply(clip_text::py_strip);
  const auto& strings = tricky_strings();
  for (size_t i = 0; i < strings.size(); ++i) {
    SCOPED_TRACE("string #" + std::to_string(i) + " '" + strings[i] + "'");
    EXPECT_EQ(lower[i], ref.output[i][0].get<std::string>());
    EXPECT_EQ(strip[i], ref.output[i][1].get<std::string>());
    EXPECT_EQ(utf8(clip_text::normalize(u32(strings[i]))), ref.output[i][2].get<std::string>());
    EXPECT_EQ(utf8(clip_text::normalize(u32(strings[i]), true)),
              ref.output[i][3].get<std::string>());
  }
}

// Every code point Python 3.11 knows (Unicode 14): lower(), isspace() and NFC of it alone.
TEST(CleanVsPython, EveryCodePoint) {
  auto ref = run_python("codepoints", R"PY(
import unicodedata as u
assigned, changed, spaces, nfc = [], {}, [], {}
for c in range(0x110000):
    ch = chr(c)
    if 0xD800 <= c <= 0xDFFF or u.category(ch) == 'Cn':
        continue
    if assigned and assigned[-1][1] == c - 1: assigned[-1][1] = c
    else: assigned.append([c, c])
    if ch.lower() != ch: changed[c] = ch.lower()
    if ch.isspace(): spaces.append(c)
    if u.normalize('NFC', ch) != ch: nfc[c] = u.normalize('NFC', ch)
out({'assigned': assigned, 'lower': changed, 'spaces': spaces, 'nfc': nfc})
)PY",
                        nullptr);
  XRS_PYTHON_OR_SKIP(ref);
  const auto& lower = ref.output["lower"];
  const auto& nfc = ref.output["nfc"];
  std::vector<bool> space(0x110000, false);
  for (const auto& c : ref.output["spaces"]) space[c.get<uint32_t>()] = true;
  size_t checked = 0;
  size_t lower_mismatch = 0;
  size_t nfc_mismatch = 0;
  for (const auto& range : ref.output["assigned"]) {
    for (auto c = range[0].get<char32_t>(); c <= range[1].get<char32_t>(); ++c) {
      ++checked;
      const std::u32string one(1, c);
      const std::string key = std::to_string(static_cast<uint32_t>(c));
      const std::string want_lower =
          lower.contains(key) ? lower[key].get<std::string>() : utf8(one);
      if (utf8(clip_text::py_lower(one)) != want_lower && ++lower_mismatch < 10) {
        ADD_FAILURE() << "lower of U+" << std::hex << static_cast<uint32_t>(c);
      }
      const std::string want_nfc = nfc.contains(key) ? nfc[key].get<std::string>() : utf8(one);
      if (utf8(clip_text::normalize(one)) != want_nfc && ++nfc_mismatch < 10) {
        ADD_FAILURE() << "NFC of U+" << std::hex << static_cast<uint32_t>(c);
      }
      EXPECT_EQ(clip_text::is_py_space(c), space[c]) << "isspace U+" << std::hex << uint32_t(c);
    }
  }
  EXPECT_EQ(lower_mismatch, 0u);
  EXPECT_EQ(nfc_mismatch, 0u);
  EXPECT_GT(checked, 280000u);
}

// Final sigma needs Cased and Case_Ignorable: probe both for every code point through lower().
TEST(CleanVsPython, FinalSigmaContextForEveryCodePoint) {
  auto ref = run_python("sigma", R"PY(
import unicodedata as u
res = []
for c in range(0x110000):
    ch = chr(c)
    if 0xD800 <= c <= 0xDFFF or u.category(ch) == 'Cn':
        continue
    res.append([c, ('A' + ch + '\u03a3').lower()[-1], ('A\u03a3' + ch).lower()[1]])
out(res)
)PY",
                        nullptr);
  XRS_PYTHON_OR_SKIP(ref);
  size_t mismatches = 0;
  for (const auto& row : ref.output) {
    const auto c = row[0].get<char32_t>();
    const std::u32string before = clip_text::py_lower(std::u32string{U'A', c, 0x3A3});
    const std::u32string after = clip_text::py_lower(std::u32string{U'A', 0x3A3, c});
    if ((utf8(before.substr(before.size() - 1)) != row[1].get<std::string>() ||
         utf8(after.substr(1, 1)) != row[2].get<std::string>()) &&
        ++mismatches < 10) {
      ADD_FAILURE() << "final sigma next to U+" << std::hex << static_cast<uint32_t>(c);
    }
  }
  EXPECT_EQ(mismatches, 0u);
}

// The pattern's classes under IGNORECASE, per code point, from the regex module itself.
TEST(CleanVsPython, PatternClassesForEveryCodePoint) {
  auto ref = run_python("classes", R"PY(
regex = need('regex')
L = regex.compile(r'[\p{L}]', regex.I)
N = regex.compile(r'[\p{N}]', regex.I)
S = regex.compile(r'\s')
O = regex.compile(r'[^\s\p{L}\p{N}]', regex.I)
cls = []
for c in range(0x110000):
    ch = chr(c)
    if 0xD800 <= c <= 0xDFFF: cls.append('-'); continue
    cls.append('S' if S.match(ch) else 'L' if L.match(ch) else 'N' if N.match(ch) else
               'O' if O.match(ch) else '-')
out(''.join(cls))
)PY",
                        nullptr);
  XRS_PYTHON_OR_SKIP(ref);
  const std::string cls = ref.output.get<std::string>();
  ASSERT_EQ(cls.size(), 0x110000u);
  size_t mismatches = 0;
  for (char32_t c = 0; c < 0x110000; ++c) {
    if (c >= 0xD800 && c <= 0xDFFF) continue;
    const std::u32string one(1, c);
    char mine = '-';
    if (clip_text::is_white_space(c)) {
      mine = 'S';
    } else if (clip_text::is_letter(c)) {
      mine = 'L';
    } else if (clip_text::is_number(c)) {
      mine = 'N';
    } else if (!clip_text::pretokenize(one).empty()) {
      mine = 'O';
    }
    if (mine != cls[c] && ++mismatches < 10) {
      ADD_FAILURE() << "U+" << std::hex << static_cast<uint32_t>(c) << ": regex says " << cls[c]
                    << ", we say " << mine;
    }
  }
  EXPECT_EQ(mismatches, 0u);
}

TEST(CleanVsPython, WhitespaceClean) {
  auto ref = run_python("ws",
                        "regex = need('regex')\n"
                        "out([regex.sub(r'\\s+', ' ', s).strip() for s in data])\n",
                        tricky_strings());
  XRS_PYTHON_OR_SKIP(ref);
  EXPECT_EQ(apply(clip_text::whitespace_clean), ref.output.get<std::vector<std::string>>());
}

// basic_clean + whitespace_clean + lower, with the real ftfy when it is installed.
TEST(CleanVsPython, WholeCleaningWithFtfy) {
  auto ref = run_python("clean",
                        "import html\nregex = need('regex')\nftfy = need('ftfy')\n"
                        "def clean(t):\n"
                        "    t = html.unescape(html.unescape(ftfy.fix_text(t))).strip()\n"
                        "    return regex.sub(r'\\s+', ' ', t).strip().lower()\n"
                        "out([clean(s) for s in data])\n",
                        tricky_strings());
  XRS_PYTHON_OR_SKIP(ref);
  EXPECT_EQ(apply(clip_text::clean), ref.output.get<std::vector<std::string>>());
}

TEST(Utf8, RejectsMalformedInput) {
  for (const std::string bad : {"\x80", "\xc3", "\xc0\xaf", "\xe0\x80\xaf", "\xed\xa0\x80",
                                "\xf4\x90\x80\x80", "\xf8\x88\x80\x80\x80", "ok\xff"}) {
    StatusOr<std::u32string> r = clip_text::utf8_to_u32(bad);
    EXPECT_FALSE(r.is_ok()) << ::testing::PrintToString(bad);
    if (!r.is_ok()) {
      EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
      EXPECT_NE(r.status().message().find("UTF-8"), std::string::npos);
    }
  }
  EXPECT_EQ(utf8(u32("\xf4\x8f\xbf\xbf")), "\xf4\x8f\xbf\xbf");
}

}  // namespace
}  // namespace xrs
