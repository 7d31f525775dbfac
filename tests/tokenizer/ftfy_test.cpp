// Our part of ftfy.fix_text: ftfy's own documented examples and test expectations (always), and
// the real ftfy with fix_encoding=False (the part we leave out) where /usr/bin/python3 has it.
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

std::string fix_text(const std::string& s) {
  return utf8(clip_text::ftfy_fix_text(u32(s)));
}
std::string unescape(const std::string& s) {
  return utf8(clip_text::ftfy_unescape_html(u32(s)));
}

// Examples from ftfy's docstrings and tests/test_entities.py / test_characters.py, whose
// expected outputs do not involve mojibake repair.
TEST(FtfyDocumented, FixText) {
  EXPECT_EQ(fix_text("Broken text&hellip; it&#x2019;s \xef\xac\x82ubberi\xef\xac\x81"
                     "c!"),
            "Broken text\xe2\x80\xa6 it's flubberific!");
  EXPECT_EQ(fix_text("\xef\xbc\xac\xef\xbc\xaf\xef\xbc\xb5\xef\xbc\xa4\xe3\x80\x80\xef\xbc\xae"
                     "\xef\xbc\xaf\xef\xbc\xa9\xef\xbc\xb3\xef\xbc\xa5\xef\xbc\xb3"),
            "LOUD NOISES");
  EXPECT_EQ(fix_text("\xef\xbc\xb5\xef\xbe\x80\xef\xbd\xb0\xef\xbe\x9d"),
            "U\xe3\x82\xbf\xe3\x83\xbc\xe3\x83\xb3");
  EXPECT_EQ(fix_text("\xe2\x80\x9chere\xe2\x80\x99s a test\xe2\x80\x9d"), "\"here's a test\"");
  EXPECT_EQ(fix_text("\xef\xac\x82u\xef\xac\x83"
                     "e\xef\xac\x86"),
            "fluffiest");
  EXPECT_EQ(fix_text("Content-type: text/plain\r\n\r\nHi."), "Content-type: text/plain\n\nHi.");
  EXPECT_EQ(fix_text("This is how Microsoft \r trolls Mac users"),
            "This is how Microsoft \n trolls Mac users");
  EXPECT_EQ(fix_text("two things:\xe2\x80\xa9"
                     "1. Unicode\xe2\x80\xa8"
                     "2. Spite"),
            "two things:\n1. Unicode\n2. Spite");
  EXPECT_EQ(fix_text("\x01\x1b[36;44mfoo"), "foo");
  EXPECT_EQ(fix_text("\x1b[36;44mI'm blue, da ba dee da ba doo...\x1b[0m"),
            "I'm blue, da ba dee da ba doo...");
  EXPECT_EQ(fix_text("\xef\xbb\xbfSometimes, \xef\xbf\xbc"
                     "bad ideas \x7f\xef\xbf\xba"
                     "like these characters\xef\xbf\xbb \xe2\x81\xaaget standardized.\r\n"),
            "Sometimes, bad ideas like these characters get standardized.\n");
  const std::string welsh =
      "This flag has a dragon on it \xf0\x9f\x8f\xb4\xf3\xa0\x81\xa7\xf3\xa0\x81\xa2\xf3\xa0\x81"
      "\xb7\xf3\xa0\x81\xac\xf3\xa0\x81\xb3\xf3\xa0\x81\xbf";
  EXPECT_EQ(fix_text(welsh), welsh);
}

TEST(FtfyDocumented, Entities) {
  EXPECT_EQ(fix_text("&amp;\n<html>\n&amp;"), "&\n<html>\n&amp;");
  EXPECT_EQ(fix_text("&lt;&gt;"), "<>");
  EXPECT_EQ(fix_text("jednocze&sacute;nie"), "jednocze\xc5\x9bnie");
  EXPECT_EQ(fix_text("JEDNOCZE&Sacute;NIE"), "JEDNOCZE\xc5\x9aNIE");
  EXPECT_EQ(fix_text("broken&#x81;"), "broken\xc2\x81");
  EXPECT_EQ(fix_text("&amp;amp;amp;"), "&");
  EXPECT_EQ(fix_text("this is just informal english &not html"),
            "this is just informal english &not html");
  EXPECT_EQ(unescape("euro &#x80;"), "euro \xe2\x82\xac");
  EXPECT_EQ(unescape("EURO &EURO;"), "EURO \xe2\x82\xac");
  EXPECT_EQ(unescape("not an entity &#20x6;"), "not an entity &#20x6;");
  EXPECT_EQ(unescape("JEDNOCZE&SACUTE;NIE"), "JEDNOCZE\xc5\x9aNIE");
  EXPECT_EQ(unescape("V&SCARON;ICHNI"), "V\xc5\xa0ICHNI");
  EXPECT_EQ(unescape("&#xffff;"), "");
  EXPECT_EQ(unescape("&#xffffffff;"), "\xef\xbf\xbd");
  EXPECT_EQ(unescape("&lt;tag&gt;"), "<tag>");
  EXPECT_EQ(unescape("&Jscr;ohn &HilbertSpace;ancock"),
            "\xf0\x9d\x92\xa5ohn \xe2\x84\x8b"
            "ancock");
  EXPECT_EQ(unescape("&checkmark;"), "\xe2\x9c\x93");
  EXPECT_EQ(unescape("P&eacute;rez"), "P\xc3\xa9rez");
  EXPECT_EQ(unescape("P&EACUTE;REZ"), "P\xc3\x89REZ");
  EXPECT_EQ(unescape("BUNDESSTRA&SZLIG;E"), "BUNDESSTRASSE");
  EXPECT_EQ(unescape("&ntilde; &Ntilde; &NTILDE; &nTILDE;"), "\xc3\xb1 \xc3\x91 \xc3\x91 &nTILDE;");
}

// Strings built from pieces that each fixer handles, compared with ftfy.fix_text(s,
// fix_encoding=False): the same configuration less the step we leave out.
TEST(FtfyVsPython, DeterministicFixers) {
  const std::vector<std::string> pieces = {"abc",
                                           " ",
                                           "&amp;",
                                           "&amp;amp;",
                                           "&lt;",
                                           "&gt;",
                                           "&#x2019;",
                                           "&#133;",
                                           "&#x81;",
                                           "&#0;",
                                           "&#65",
                                           "&EACUTE;",
                                           "&SZLIG;",
                                           "&nTILDE;",
                                           "&notit;",
                                           "&hellip;",
                                           "<",
                                           "\n",
                                           "\r\n",
                                           "\r",
                                           "\xe2\x80\xa8",
                                           "\xc2\x85",
                                           "\xc2\x91",
                                           "\xc2\x80",
                                           "\xc2\x9d",
                                           "\xef\xac\x81",
                                           "\xc5\x89",
                                           "\xc7\x84",
                                           "\xef\xac\x85",
                                           "\xef\xbc\xa1",
                                           "\xef\xbd\xb6",
                                           "\xef\xbf\xa3",
                                           "\xe3\x80\x80",
                                           "\xe2\x80\x9c",
                                           "\xe2\x80\x9d",
                                           "\xca\xbc",
                                           "\xe2\x80\x9b",
                                           "\x1b[1;31m",
                                           "\x1b[m",
                                           "\x1b[x",
                                           "\x1b[\xd9\xa1m",
                                           "\x01",
                                           "\x7f",
                                           "\xef\xbb\xbf",
                                           "\xe2\x81\xaa",
                                           "\xef\xbf\xbc",
                                           "\xef\xbf\xbd",
                                           "e\xcc\x81",
                                           "\xcc\x81",
                                           "\xe1\x84\x92\xe1\x85\xa1",
                                           "\xe2\x80\x8d",
                                           "\t",
                                           "x-ray",
                                           "\xc3\xa9",
                                           "\xce\xa3",
                                           "\xf0\x9f\xa6\xb4",
                                           "\xef\xbd\xb6\xef\xbe\x9e",
                                           "\xe1\x86\xab",
                                           "\x1b[\x1b[0mm",
                                           "&#13;",
                                           "&#x2028;"};
  std::vector<std::string> texts;
  uint32_t state = 12345;
  for (int n = 0; n < 600; ++n) {
    std::string t;
    const int len = 1 + n % 9;
    for (int k = 0; k < len; ++k) {
      state = state * 1103515245u + 12345u;  // a fixed LCG: the same texts every run
      t += pieces[(state >> 8) % pieces.size()];
    }
    texts.push_back(t);
  }
  texts.insert(texts.end(), pieces.begin(), pieces.end());
  auto ref = run_python("ftfy",
                        "ftfy = need('ftfy')\nout([ftfy.fix_text(s, fix_encoding=False)"
                        " for s in data])\n",
                        texts);
  XRS_PYTHON_OR_SKIP(ref);
  ASSERT_EQ(ref.output.size(), texts.size());
  for (size_t i = 0; i < texts.size(); ++i) {
    EXPECT_EQ(fix_text(texts[i]), ref.output[i].get<std::string>())
        << "text " << ::testing::PrintToString(texts[i]);
  }
}

}  // namespace
}  // namespace xrs
