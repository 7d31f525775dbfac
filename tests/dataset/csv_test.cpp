#include "dataset/csv.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "support/test_paths.h"

namespace xrs {
namespace {

using Fields = std::vector<std::string>;

// The issues as "kind-code@line:column" strings, for exact comparison.
std::vector<std::string> issue_keys(const CsvTable& t) {
  std::vector<std::string> out;
  for (const CsvIssue& i : t.issues) {
    out.push_back(std::string(csv_issue_code(i.kind)) + "@" + std::to_string(i.line) + ":" +
                  std::to_string(i.column));
  }
  return out;
}

std::vector<int> record_lines(const CsvTable& t) {
  std::vector<int> out;
  for (const CsvRecord& r : t.records) out.push_back(r.line);
  return out;
}

TEST(CsvTest, PlainFileWithTrailingNewline) {
  CsvTable t = parse_csv("a,b,c\n1,2,3\n4,5,6\n", "m.csv");
  EXPECT_TRUE(t.issues.empty());
  EXPECT_TRUE(t.complete);
  EXPECT_EQ(t.header, (Fields{"a", "b", "c"}));
  EXPECT_EQ(t.header_line, 1);
  ASSERT_EQ(t.records.size(), 2u);
  EXPECT_EQ(t.records[0].fields, (Fields{"1", "2", "3"}));
  EXPECT_EQ(t.records[1].fields, (Fields{"4", "5", "6"}));
  EXPECT_EQ(record_lines(t), (std::vector<int>{2, 3}));
  EXPECT_EQ(t.records_seen, 2);
  EXPECT_EQ(t.column_index("c"), 2);
  EXPECT_EQ(t.column_index("C"), -1);
}

TEST(CsvTest, NoTrailingNewlineAndEmptyFields) {
  CsvTable t = parse_csv("a,b,c\n,,\nx,,z", "m.csv");
  EXPECT_TRUE(t.issues.empty());
  ASSERT_EQ(t.records.size(), 2u);
  EXPECT_EQ(t.records[0].fields, (Fields{"", "", ""}));
  EXPECT_EQ(t.records[1].fields, (Fields{"x", "", "z"}));
}

TEST(CsvTest, BomAndCrlfAreAccepted) {
  CsvTable t = parse_csv("\xEF\xBB\xBFimage_name,category\r\na.png,chest\r\nb.png,hand\r\n", "m");
  EXPECT_TRUE(t.issues.empty());
  EXPECT_EQ(t.header, (Fields{"image_name", "category"}));
  ASSERT_EQ(t.records.size(), 2u);
  EXPECT_EQ(t.records[1].fields, (Fields{"b.png", "hand"}));
  EXPECT_EQ(record_lines(t), (std::vector<int>{2, 3}));
}

TEST(CsvTest, LoneCrAndMixedLineEnds) {
  CsvTable t = parse_csv("a,b\r1,2\n3,4\r\n5,6\r", "m");
  EXPECT_TRUE(t.issues.empty());
  EXPECT_EQ(record_lines(t), (std::vector<int>{2, 3, 4}));
  EXPECT_EQ(t.records[2].fields, (Fields{"5", "6"}));
}

TEST(CsvTest, BlankLinesAreSkippedButCounted) {
  CsvTable t = parse_csv("\n\na,b\n\n1,2\r\n\r\n\n3,4\n\n", "m");
  EXPECT_TRUE(t.issues.empty());
  EXPECT_EQ(t.header_line, 3);
  EXPECT_EQ(record_lines(t), (std::vector<int>{5, 8}));
  EXPECT_EQ(t.records_seen, 2);
}

TEST(CsvTest, QuotedFieldsWithCommasQuotesAndNewlines) {
  CsvTable t = parse_csv(
      "a,b,c\n"
      "\"x,y\",\"say \"\"hi\"\"\",\"line1\nline2\r\nline3\"\n"
      "\"\",\"\"\"\",plain\n"
      "after,the,multiline\n",
      "m");
  EXPECT_TRUE(t.issues.empty());
  ASSERT_EQ(t.records.size(), 3u);
  EXPECT_EQ(t.records[0].fields, (Fields{"x,y", "say \"hi\"", "line1\nline2\r\nline3"}));
  EXPECT_EQ(t.records[1].fields, (Fields{"", "\"", "plain"}));
  // The quoted field spans lines 2-4, so the next records start on lines 5 and 6.
  EXPECT_EQ(record_lines(t), (std::vector<int>{2, 5, 6}));
}

TEST(CsvTest, ErrorLinesAfterAMultilineFieldAreRight) {
  CsvTable t = parse_csv("a,b\n\"1\n2\n3\",x\nbad,row,here\n", "m.csv");
  EXPECT_EQ(issue_keys(t), (std::vector<std::string>{"csv_field_count@5:0"}));
  EXPECT_EQ(t.issues[0].message,
            "m.csv line 5: the record has 3 fields but the header has 2; the record is ignored");
}

TEST(CsvTest, UnterminatedQuoteReportsWhereItOpened) {
  CsvTable t = parse_csv("a,b\n1,2\n3,\"open\n4,5\n6,7\n", "m.csv");
  EXPECT_EQ(issue_keys(t), (std::vector<std::string>{"csv_syntax@3:3"}));
  EXPECT_FALSE(t.complete);
  EXPECT_EQ(record_lines(t), (std::vector<int>{2}));
  EXPECT_NE(t.issues[0].message.find("m.csv line 3, byte 3: the quote opened here is never closed"),
            std::string::npos);
}

TEST(CsvTest, StrayQuotesDropTheRecordAndParsingGoesOn) {
  CsvTable t = parse_csv("a,b\nab\"c,1\n\"ab\"c,2\nok,3\nx\"y\"z,\"q\"\"\n", "m");
  // Line 5: `x"y"z` has a stray quote; its second field `"q""` + newline never closes.
  EXPECT_EQ(issue_keys(t), (std::vector<std::string>{"csv_syntax@2:3", "csv_syntax@3:5",
                                                     "csv_syntax@5:2", "csv_syntax@5:7"}));
  EXPECT_EQ(record_lines(t), (std::vector<int>{4}));
  EXPECT_EQ(t.records_seen, 3);
}

TEST(CsvTest, WrongFieldCountsAreReportedAndDropped) {
  CsvTable t = parse_csv("a,b,c\n1,2\n1,2,3\n1,2,3,4\n1,2,3,\n", "m");
  EXPECT_EQ(issue_keys(t), (std::vector<std::string>{"csv_field_count@2:0", "csv_field_count@4:0",
                                                     "csv_field_count@5:0"}));
  EXPECT_EQ(record_lines(t), (std::vector<int>{3}));
  EXPECT_EQ(t.records_seen, 4);
}

TEST(CsvTest, InvalidUtf8ReportsLineAndByteColumn) {
  // Line 2: a lone continuation byte at byte 4; line 3: an overlong '/' (C0 AF) at byte 3;
  // line 4: valid two- and three-byte characters; line 6: a UTF-16 surrogate (ED A0 80) inside a
  // quoted field that began on line 5.
  CsvTable t = parse_csv(
      "a,b\n"
      "abc\x80,1\n"
      "x,\xC0\xAF\n"
      "\xC3\xA9t\xC3\xA9,\xE2\x82\xAC\n"
      "\"multi\n"
      "li\xED\xA0\x80ne\",2\n"
      "\xF0\x9F\x98\x80,\xF0\x9F\x98\n",
      "m");
  EXPECT_EQ(issue_keys(t), (std::vector<std::string>{"not_utf8@2:4", "not_utf8@3:3", "not_utf8@6:3",
                                                     "not_utf8@7:6"}));
  ASSERT_EQ(record_lines(t), (std::vector<int>{4}));
  EXPECT_EQ(t.records[0].fields, (Fields{"\xC3\xA9t\xC3\xA9", "\xE2\x82\xAC"}));
  EXPECT_NE(t.issues[0].message.find("m line 2, byte 4: invalid UTF-8 (byte 0x80)"),
            std::string::npos);
}

TEST(CsvTest, InvalidUtf8ColumnCountsFromAfterTheBom) {
  CsvTable t = parse_csv(
      "\xEF\xBB\xBF"
      "a\xFF,b\n",
      "m");
  EXPECT_EQ(issue_keys(t), (std::vector<std::string>{"not_utf8@1:2"}));
}

TEST(CsvTest, EmptyInputs) {
  for (const char* text : {"", "\n\r\n\n", "\xEF\xBB\xBF"}) {
    CsvTable t = parse_csv(text, "m.csv");
    EXPECT_EQ(issue_keys(t), (std::vector<std::string>{"csv_empty@1:0"})) << text;
    EXPECT_EQ(t.issues[0].message, "m.csv is empty: it has no header line");
    EXPECT_TRUE(t.header.empty());
  }
}

TEST(CsvTest, HeaderOnly) {
  CsvTable t = parse_csv("a,b,c", "m");
  EXPECT_TRUE(t.issues.empty());
  EXPECT_EQ(t.header, (Fields{"a", "b", "c"}));
  EXPECT_TRUE(t.records.empty());
  EXPECT_EQ(t.records_seen, 0);
}

TEST(CsvTest, DuplicateAndEmptyColumnNames) {
  CsvTable t = parse_csv("a,,b,a,\"\"\n1,2,3,4,5\n", "m");
  EXPECT_EQ(issue_keys(t), (std::vector<std::string>{"empty_column@1:0", "duplicate_column@1:0",
                                                     "empty_column@1:0"}));
  EXPECT_EQ(t.issues[1].message, "m line 1: the header names column 'a' twice (again as column 4)");
  EXPECT_EQ(t.records.size(), 1u);  // the header is kept, rows are still read against it
}

TEST(CsvTest, LongFieldIsRefusedWithoutBeingCopied) {
  CsvLimits limits;
  limits.max_field_bytes = 100;
  std::string text = "a,b\nshort,1\n" + std::string(5000, 'x') + ",2\n\"" + std::string(5000, 'y') +
                     "\",3\nnext,4\n";
  CsvTable t = parse_csv(text, "m", limits);
  EXPECT_EQ(issue_keys(t), (std::vector<std::string>{"csv_too_large@3:0", "csv_too_large@4:0"}));
  EXPECT_EQ(record_lines(t), (std::vector<int>{2, 5}));
  EXPECT_NE(t.issues[0].message.find("longer than the limit of 100 bytes"), std::string::npos);
}

TEST(CsvTest, TooManyCellsStopsParsing) {
  CsvLimits limits;
  limits.max_cells = 7;
  CsvTable t = parse_csv("a,b\n1,2\n3,4\n5,6\n7,8\n", "m", limits);
  EXPECT_EQ(issue_keys(t), (std::vector<std::string>{"csv_too_large@4:0"}));
  EXPECT_FALSE(t.complete);
  EXPECT_EQ(record_lines(t), (std::vector<int>{2, 3}));
}

TEST(CsvTest, HugeFileIsRefusedBeforeReading) {
  // A sparse 1 GiB file: refused from its size, nothing is allocated for it.
  std::string path = testing::scratch_dir("csv_huge") + "/metadata.csv";
  std::ofstream(path) << "image_name\n";
  ASSERT_EQ(::truncate(path.c_str(), 1ll << 30), 0);
  StatusOr<CsvTable> t = read_csv_file(path, "metadata.csv");
  ASSERT_FALSE(t.is_ok());
  EXPECT_EQ(t.status().code(), StatusCode::kResourceExhausted);
  EXPECT_NE(t.status().message().find(path), std::string::npos);
}

TEST(CsvTest, ReadFileErrors) {
  std::string dir = testing::scratch_dir("csv_read");
  EXPECT_EQ(read_csv_file(dir + "/absent.csv", "x").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(read_csv_file(dir, "x").status().code(), StatusCode::kInvalidArgument);
  std::ofstream(dir + "/ok.csv") << "a\r\n1\r\n";
  StatusOr<CsvTable> t = read_csv_file(dir + "/ok.csv", "x");
  ASSERT_TRUE(t.is_ok());
  EXPECT_EQ(t->records.size(), 1u);
}

}  // namespace
}  // namespace xrs
