// Fuzz target: the metadata.csv parser (dataset/csv.h parse_csv).
//
// Input: the bytes of a CSV file. Each input is parsed twice, with the default limits and with
// tiny ones (so that the field and cell limits are reached), and checked:
//   - parsing stops early (complete == false) exactly when an unterminated quote or the cell
//     limit is reported; a kEmpty issue comes with an empty table;
//   - kept records have as many fields as the header, valid UTF-8 within the field limit, and
//     strictly increasing line numbers after the header's;
//   - every issue names the source and a line that exists;
//   - writing the kept header and records back out as RFC 4180 and parsing that again gives
//     the same header and records, with no record dropped.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "dataset/csv.h"
#include "fuzz_support.h"

namespace {

using xrs::CsvIssueKind;
using xrs::CsvLimits;
using xrs::CsvTable;

constexpr std::string_view kSource = "fuzz.csv";

// Physical lines: CRLF, lone CR and LF each end one.
int count_lines(std::string_view text) {
  int lines = 1;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\n' || (text[i] == '\r' && (i + 1 == text.size() || text[i + 1] != '\n'))) {
      ++lines;
    }
  }
  return lines;
}

bool has_issue(const CsvTable& table, CsvIssueKind kind) {
  for (const auto& issue : table.issues) {
    if (issue.kind == kind) return true;
  }
  return false;
}

std::string quoted_row(const std::vector<std::string>& fields) {
  std::string out;
  for (size_t i = 0; i < fields.size(); ++i) {
    if (i > 0) out += ',';
    out += '"';
    for (char c : fields[i]) {
      if (c == '"') out += '"';
      out += c;
    }
    out += '"';
  }
  return out + "\r\n";
}

void check_table(std::string_view text, const CsvTable& table, const CsvLimits& limits) {
  const bool stopped = has_issue(table, CsvIssueKind::kUnterminatedQuote) ||
                       has_issue(table, CsvIssueKind::kTooManyCells);
  XRS_FUZZ_CHECK(table.complete == !stopped, "complete flag vs issues");
  if (has_issue(table, CsvIssueKind::kEmpty)) {
    XRS_FUZZ_CHECK(table.header.empty() && table.records.empty() && table.records_seen == 0,
                   "kEmpty with content");
  }
  if (table.header.empty()) {
    XRS_FUZZ_CHECK(has_issue(table, CsvIssueKind::kEmpty) || !table.complete,
                   "no header and no reason");
  }
  XRS_FUZZ_CHECK(table.records.size() <= static_cast<size_t>(table.records_seen),
                 "more records kept than seen");

  int previous_line = table.header_line;
  for (const auto& record : table.records) {
    XRS_FUZZ_CHECK(record.line > previous_line, "record lines must increase");
    previous_line = record.line;
    XRS_FUZZ_CHECK(record.fields.size() == table.header.size(), "field count");
    for (const std::string& field : record.fields) {
      XRS_FUZZ_CHECK(field.size() <= limits.max_field_bytes, "field over the limit kept");
      XRS_FUZZ_CHECK(xrs::fuzz::is_utf8(field), "kept field is not UTF-8");
    }
  }

  const int lines = count_lines(text);
  for (const auto& issue : table.issues) {
    XRS_FUZZ_CHECK(issue.line >= 1 && issue.line <= lines, issue.message);
    XRS_FUZZ_CHECK(issue.column >= 0, issue.message);
    XRS_FUZZ_CHECK(issue.message.starts_with(kSource), issue.message);
    XRS_FUZZ_CHECK(!xrs::csv_issue_code(issue.kind).empty(), issue.message);
  }
  for (size_t i = 0; i < table.header.size(); ++i) {
    const int found = table.column_index(table.header[i]);
    XRS_FUZZ_CHECK(found >= 0 && static_cast<size_t>(found) <= i, "column_index");
  }
}

// The kept header and records, written back out, must parse to themselves.
void check_round_trip(const CsvTable& table) {
  if (table.header.empty()) return;
  std::string text = quoted_row(table.header);
  for (const auto& record : table.records) text += quoted_row(record.fields);
  const CsvTable again = xrs::parse_csv(text, kSource);
  XRS_FUZZ_CHECK(again.complete, "re-encoded table incomplete");
  XRS_FUZZ_CHECK(again.header == table.header, "re-encoded header differs");
  XRS_FUZZ_CHECK(again.records.size() == table.records.size(), "re-encoded records dropped");
  for (size_t i = 0; i < table.records.size(); ++i) {
    XRS_FUZZ_CHECK(again.records[i].fields == table.records[i].fields, "re-encoded record differs");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);

  const CsvLimits defaults;
  const CsvTable table = xrs::parse_csv(text, kSource, defaults);
  xrs::fuzz::note("csv: " + std::to_string(table.header.size()) + " columns, " +
                  std::to_string(table.records.size()) + " records, " +
                  std::to_string(table.issues.size()) + " issues");
  check_table(text, table, defaults);
  check_round_trip(table);

  CsvLimits tiny;
  tiny.max_field_bytes = 8;
  tiny.max_cells = 64;
  check_table(text, xrs::parse_csv(text, kSource, tiny), tiny);
  return 0;
}
