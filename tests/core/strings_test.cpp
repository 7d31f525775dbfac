#include "core/strings.h"

#include <gtest/gtest.h>

#include <string>

namespace xrs {
namespace {

TEST(StringsTest, AsciiCaseFolding) {
  EXPECT_EQ(ascii_lower("Content-TYPE: Image/PNG"), "content-type: image/png");
  // Only A-Z change: UTF-8 (here "ÄÖ") and other bytes stay as they are.
  EXPECT_EQ(ascii_lower("\xC3\x84\xC3\x96Z@[`{"), "\xC3\x84\xC3\x96z@[`{");
  EXPECT_TRUE(iequals("Bearer", "bEARER"));
  EXPECT_FALSE(iequals("Bearer", "Bearer "));
  EXPECT_FALSE(iequals("\xC3\x84", "\xC3\xA4"));  // Ä and ä: not ASCII, compared as bytes
  EXPECT_TRUE(istarts_with("Content-Range: bytes 0-1/2", "content-range:"));
  EXPECT_FALSE(istarts_with("Content", "content-range:"));
  EXPECT_TRUE(istarts_with("x", ""));
}

// Known sequences (RFC 3629 section 10 and Markus Kuhn's UTF-8 decoder stress test).
TEST(StringsTest, Utf8KnownSequences) {
  char32_t c = 0;
  EXPECT_EQ(utf8_decode("A", 0, &c), 1u);
  EXPECT_EQ(c, U'A');
  EXPECT_EQ(utf8_decode("\xC2\xA9", 0, &c), 2u);  // ©
  EXPECT_EQ(c, U'\u00A9');
  EXPECT_EQ(utf8_decode("\xE2\x82\xAC", 0, &c), 3u);  // €
  EXPECT_EQ(c, U'\u20AC');
  EXPECT_EQ(utf8_decode("\xF0\x9F\x98\x80", 0, &c), 4u);  // U+1F600
  EXPECT_EQ(c, U'\U0001F600');
  EXPECT_EQ(utf8_decode("\xF4\x8F\xBF\xBF", 0, &c), 4u);  // U+10FFFF, the last code point
  EXPECT_EQ(c, char32_t{0x10FFFF});

  for (const char* bad : {
           "\x80",              // lone continuation byte
           "\xC0\xAF",          // overlong '/'
           "\xC1\xBF",          // overlong
           "\xE0\x80\xAF",      // overlong '/'
           "\xF0\x80\x80\xAF",  // overlong '/'
           "\xED\xA0\x80",      // U+D800, a surrogate
           "\xED\xBF\xBF",      // U+DFFF
           "\xF4\x90\x80\x80",  // U+110000
           "\xF5\x80\x80\x80",  // lead byte past F4
           "\xFE",              // never in UTF-8
           "\xE2\x82",          // cut short
           "\xC3(",             // continuation missing
       }) {
    SCOPED_TRACE(testing::PrintToString(std::string(bad)));
    EXPECT_EQ(utf8_decode(bad, 0, &c), 0u);
    EXPECT_FALSE(utf8_valid(bad));
  }
  EXPECT_EQ(utf8_error_offset("ok \xC3\xA9 then \xC3("), 11u);  // 3 + 2 + 6 bytes before it
  EXPECT_EQ(utf8_error_offset("fine \xE2\x82\xAC"), std::string_view::npos);
  EXPECT_TRUE(utf8_valid(""));
  // The view's end is respected even when the buffer behind it goes on.
  const std::string euro = "\xE2\x82\xAC";
  EXPECT_EQ(utf8_decode(std::string_view(euro.data(), 2), 0, &c), 0u);
}

// Every 2- and 3-byte sequence: exactly the code points the encoding defines decode, each once
// (1920 of two bytes, U+0080..U+07FF; 61440 of three, U+0800..U+FFFF without the 2048
// surrogates), and each decodes to the value the bit layout gives.
TEST(StringsTest, Utf8ExhaustiveTwoAndThreeBytes) {
  char32_t c = 0;
  size_t valid2 = 0;
  for (int a = 0; a < 256; ++a) {
    for (int b = 0; b < 256; ++b) {
      const char s[] = {static_cast<char>(a), static_cast<char>(b)};
      if (a < 0x80 || utf8_decode({s, 2}, 0, &c) != 2) continue;
      ++valid2;
      ASSERT_EQ(c, char32_t(((a & 0x1F) << 6) | (b & 0x3F)));
      ASSERT_GE(c, 0x80u);
    }
  }
  EXPECT_EQ(valid2, 1920u);
  size_t valid3 = 0;
  for (int a = 0xE0; a < 0xF0; ++a) {
    for (int b = 0; b < 256; ++b) {
      for (int d = 0; d < 256; ++d) {
        const char s[] = {static_cast<char>(a), static_cast<char>(b), static_cast<char>(d)};
        if (utf8_decode({s, 3}, 0, &c) != 3) continue;
        ++valid3;
        ASSERT_EQ(c, char32_t(((a & 0x0F) << 12) | ((b & 0x3F) << 6) | (d & 0x3F)));
        ASSERT_TRUE(c >= 0x800 && !(c >= 0xD800 && c <= 0xDFFF));
      }
    }
  }
  EXPECT_EQ(valid3, 61440u);
}

TEST(StringsTest, Utf8Length) {
  EXPECT_EQ(utf8_length(""), 0u);
  EXPECT_EQ(utf8_length("abc"), 3u);
  EXPECT_EQ(utf8_length("h\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80"), 4u);
}

TEST(StringsTest, ClipForMessage) {
  EXPECT_EQ(clip_for_message("short", 10), "short");
  EXPECT_EQ(clip_for_message("0123456789abc", 10), "0123456789...");
  // Never cuts inside a code point: "é" is two bytes at offsets 9 and 10.
  EXPECT_EQ(clip_for_message("012345678\xC3\xA9xyz", 10), "012345678...");
}

TEST(StringsTest, EscapeForMessage) {
  EXPECT_EQ(escape_for_message("a\nb\rc\td"), "a\\nb\\rc\\td");
  EXPECT_EQ(escape_for_message("it's a\\b"), "it\\'s a\\\\b");
  EXPECT_EQ(escape_for_message("\x1B[31m\x7F"), "\\x1B[31m\\x7F");
  EXPECT_EQ(escape_for_message("caf\xC3\xA9 \xFF\xC3"), "caf\xC3\xA9 \\xFF\\xC3");
  EXPECT_EQ(quote_for_message("x'y"), "'x\\'y'");
}

TEST(StringsTest, EscapeForLog) {
  EXPECT_EQ(escape_for_log("/api/search text\n%"), "/api/search%20text%0A%25");
  EXPECT_EQ(escape_for_log("\xC3\xA9"), "%C3%A9");
  EXPECT_EQ(escape_for_log("abcdef", 3), "abc...");
}

TEST(StringsTest, HtmlEscape) {
  EXPECT_EQ(html_escape(""), "");
  EXPECT_EQ(html_escape("<a href=\"x\">Tom & Jerry's</a>"),
            "&lt;a href=&quot;x&quot;&gt;Tom &amp; Jerry&#39;s&lt;/a&gt;");
  // Already-escaped text is escaped again (the function does not guess), UTF-8 passes through.
  EXPECT_EQ(html_escape("&amp;"), "&amp;amp;");
  EXPECT_EQ(html_escape("Th\xC3\xB6rax \xE2\x82\xAC\n"), "Th\xC3\xB6rax \xE2\x82\xAC\n");
}

// RFC 4648 section 10 test vectors.
TEST(StringsTest, Base64Rfc4648Vectors) {
  EXPECT_EQ(base64_encode(""), "");
  EXPECT_EQ(base64_encode("f"), "Zg==");
  EXPECT_EQ(base64_encode("fo"), "Zm8=");
  EXPECT_EQ(base64_encode("foo"), "Zm9v");
  EXPECT_EQ(base64_encode("foob"), "Zm9vYg==");
  EXPECT_EQ(base64_encode("fooba"), "Zm9vYmE=");
  EXPECT_EQ(base64_encode("foobar"), "Zm9vYmFy");
  // base64url (section 5) is the same without padding.
  EXPECT_EQ(base64url_encode(""), "");
  EXPECT_EQ(base64url_encode("f"), "Zg");
  EXPECT_EQ(base64url_encode("fo"), "Zm8");
  EXPECT_EQ(base64url_encode("foo"), "Zm9v");
  EXPECT_EQ(base64url_encode("foob"), "Zm9vYg");
  EXPECT_EQ(base64url_encode("fooba"), "Zm9vYmE");
  EXPECT_EQ(base64url_encode("foobar"), "Zm9vYmFy");
}

// Every byte value, against Python's base64.b64encode / urlsafe_b64encode (padding stripped)
// of bytes(range(256)): the two alphabets differ only in characters 62 and 63.
TEST(StringsTest, Base64EveryByte) {
  std::string all;
  for (int b = 0; b < 256; ++b) all += static_cast<char>(b);
  EXPECT_EQ(base64_encode(all),
            "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEyMzQ1Njc4OTo7PD0+"
            "P0BBQkNERUZHSElKS0xNTk9QUVJTVFVWV1hZWltcXV5fYGFiY2RlZmdoaWprbG1ub3BxcnN0dXZ3eHl6e3x9fn"
            "+AgYKDhIWGh4iJiouMjY6PkJGSk5SVlpeYmZqbnJ2en6ChoqOkpaanqKmqq6ytrq+wsbKztLW2t7i5uru8vb6/"
            "wMHCw8TFxsfIycrLzM3Oz9DR0tPU1dbX2Nna29zd3t/g4eLj5OXm5+jp6uvs7e7v8PHy8/T19vf4+fr7/P3+/"
            "w==");
  EXPECT_EQ(base64url_encode(all),
            "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEyMzQ1Njc4OTo7PD0-"
            "P0BBQkNERUZHSElKS0xNTk9QUVJTVFVWV1hZWltcXV5fYGFiY2RlZmdoaWprbG1ub3BxcnN0dXZ3eHl6e3x9fn"
            "-AgYKDhIWGh4iJiouMjY6PkJGSk5SVlpeYmZqbnJ2en6ChoqOkpaanqKmqq6ytrq-wsbKztLW2t7i5uru8vb6_"
            "wMHCw8TFxsfIycrLzM3Oz9DR0tPU1dbX2Nna29zd3t_g4eLj5OXm5-jp6uvs7e7v8PHy8_T19vf4-fr7_P3-_"
            "w");
  EXPECT_EQ(base64_encode("\xFB\xFF"), "+/8=");
  EXPECT_EQ(base64url_encode("\xFB\xFF"), "-_8");
}

}  // namespace
}  // namespace xrs
