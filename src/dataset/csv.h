// An RFC 4180 CSV reader that reports every problem with its physical line, instead of giving up
// at the first one.
//
// Accepted (RFC 4180 plus what spreadsheets write):
//   - fields separated by ',', records by CRLF, LF or a lone CR (mixed line ends are fine);
//   - quoted fields ("..."), with "" for a literal quote and commas, CR and LF kept verbatim
//     inside the quotes (a record may span several physical lines);
//   - a UTF-8 byte order mark at the start (dropped);
//   - blank lines anywhere (skipped; they are not records);
//   - a last record with or without a line end.
// The first record is the header; its names must be non-empty and distinct.
//
// Rejected, each as one CsvIssue naming the line (and byte column where one byte is at fault):
//   - a quote inside an unquoted field (`ab"c`), or anything but ',' or a line end after a
//     closing quote (`"ab"c`)                                         → the record is dropped;
//   - a record whose field count differs from the header's            → the record is dropped
//     (RFC 4180 §2.4: each line should contain the same number of fields; a short or long row
//     cannot be mapped to columns safely);
//   - bytes that are not UTF-8 (overlong forms, surrogates, stray continuation bytes, truncated
//     sequences; checked with utf8proc)                               → the record is dropped;
//   - a field longer than CsvLimits::max_field_bytes                 → the record is dropped
//     (the parser stops copying the field, so memory stays bounded);
//   - a quote that is never closed (reported at the line and column where it opened)
//   - more than CsvLimits::max_cells fields in the file               → parsing stops there;
//   - an empty or duplicate header name                               → the header is kept.
// Problems in the header are reported like any record's, but the header is kept, so that later
// records are still checked against it.
//
// Pure functions; safe from any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace xrs {

struct CsvLimits {
  // Larger files are refused before they are read (read_csv_file: kResourceExhausted).
  uint64_t max_file_bytes = 64ull << 20;
  // A longer field is reported (kFieldTooLong) and not copied.
  size_t max_field_bytes = 64u << 10;
  // Total fields in the file, header included: bounds the memory of many tiny fields
  // (each std::string costs ~32 bytes however short). Parsing stops past it (kTooManyCells).
  size_t max_cells = 10'000'000;
};

enum class CsvIssueKind {
  kEmpty,               // no header: the file is empty or holds only blank lines
  kUnterminatedQuote,   // a quoted field runs to the end of the file
  kStrayQuote,          // a quote in an unquoted field, or text after a closing quote
  kFieldCount,          // a record with more or fewer fields than the header
  kInvalidUtf8,         // bytes that are not UTF-8
  kFieldTooLong,        // a field over CsvLimits::max_field_bytes
  kTooManyCells,        // the file holds more than CsvLimits::max_cells fields
  kEmptyColumnName,     // a header name is empty
  kDuplicateColumnName  // two header names are equal (compared byte for byte)
};

// The stable snake_case code of a kind, used as the dataset Problem code: "csv_empty",
// "csv_syntax" (unterminated and stray quotes), "csv_field_count", "not_utf8", "csv_too_large"
// (field or cell limits), "empty_column", "duplicate_column".
std::string_view csv_issue_code(CsvIssueKind kind);

struct CsvIssue {
  CsvIssueKind kind;
  int line = 0;    // 1-based physical line (for a record: the line the record starts on)
  int column = 0;  // 1-based byte column within that line; 0 when the whole record is at fault
  // A sentence naming the source, line and what is wrong, e.g. "metadata.csv line 4: the quote
  // opened at byte 12 is never closed".
  std::string message;
};

struct CsvRecord {
  int line = 0;  // the physical line where the record starts
  std::vector<std::string> fields;
};

struct CsvTable {
  std::vector<std::string> header;  // empty only with a kEmpty issue
  int header_line = 0;
  // The data records that are well-formed: valid UTF-8, no syntax problem, as many fields as
  // the header. In file order.
  std::vector<CsvRecord> records;
  // Data records seen, dropped ones included (not counting the header or blank lines).
  int records_seen = 0;
  // Every problem, in file order.
  std::vector<CsvIssue> issues;
  // False when parsing stopped before the end (unterminated quote, kTooManyCells).
  bool complete = true;

  // Index of the header column named exactly `name`, or -1.
  int column_index(std::string_view name) const;
};

// Parses `text`. `source` names the input in issue messages ("metadata.csv"). Never fails:
// problems are issues in the result.
CsvTable parse_csv(std::string_view text, std::string_view source, const CsvLimits& limits = {});

// Reads and parses a file; `source` as above. Fails (before parsing) with kNotFound when the
// file does not exist, kInvalidArgument when it is not a regular file, kResourceExhausted when it
// is larger than limits.max_file_bytes and kIoError when it cannot be read; the message starts
// with the path.
StatusOr<CsvTable> read_csv_file(const std::string& path, std::string_view source,
                                 const CsvLimits& limits = {});

}  // namespace xrs
