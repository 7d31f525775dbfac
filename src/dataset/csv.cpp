#include "dataset/csv.h"

#include <filesystem>
#include <set>

#include "core/file_util.h"
#include "dataset/text.h"

namespace xrs {

std::string_view csv_issue_code(CsvIssueKind kind) {
  switch (kind) {
    case CsvIssueKind::kEmpty:
      return "csv_empty";
    case CsvIssueKind::kUnterminatedQuote:
      return "csv_syntax";
    case CsvIssueKind::kStrayQuote:
      return "csv_syntax";
    case CsvIssueKind::kFieldCount:
      return "csv_field_count";
    case CsvIssueKind::kInvalidUtf8:
      return "not_utf8";
    case CsvIssueKind::kFieldTooLong:
      return "csv_too_large";
    case CsvIssueKind::kTooManyCells:
      return "csv_too_large";
    case CsvIssueKind::kEmptyColumnName:
      return "empty_column";
    case CsvIssueKind::kDuplicateColumnName:
      return "duplicate_column";
  }
  return "csv_syntax";
}

int CsvTable::column_index(std::string_view name) const {
  for (size_t i = 0; i < header.size(); ++i) {
    if (header[i] == name) return static_cast<int>(i);
  }
  return -1;
}

namespace {

constexpr std::string_view kBom = "\xEF\xBB\xBF";

std::string hex_byte(unsigned char c) {
  constexpr char kDigits[] = "0123456789ABCDEF";
  return std::string("0x") + kDigits[c >> 4] + kDigits[c & 15];
}

// A single pass over the text. Quotes, commas and line ends are ASCII and UTF-8 never uses
// ASCII bytes inside a multi-byte sequence, so the structure can be parsed byte-wise and UTF-8
// checked afterwards per record.
class Parser {
 public:
  Parser(std::string_view text, std::string_view source, const CsvLimits& limits)
      : s_(text), source_(source), limits_(limits) {}

  CsvTable run() {
    if (s_.starts_with(kBom)) pos_ = line_start_ = kBom.size();
    bool have_header = false;
    while (pos_ < s_.size() && table_.complete) {
      if (at_line_end()) {  // a blank line
        consume_line_end();
        continue;
      }
      parse_record();
      if (!table_.complete) break;
      if (!have_header) {
        have_header = true;
        accept_header();
      } else {
        ++table_.records_seen;
        accept_record();
      }
    }
    if (!have_header && table_.complete) {
      table_.issues.push_back(
          {CsvIssueKind::kEmpty, 1, 0, std::string(source_) + " is empty: it has no header line"});
    }
    return std::move(table_);
  }

 private:
  bool at_line_end() const { return s_[pos_] == '\n' || s_[pos_] == '\r'; }

  void consume_line_end() {
    if (s_[pos_] == '\r' && pos_ + 1 < s_.size() && s_[pos_ + 1] == '\n') ++pos_;
    ++pos_;
    ++line_;
    line_start_ = pos_;
  }

  int column_of(size_t offset) const { return static_cast<int>(offset - line_start_) + 1; }

  void add_issue(CsvIssueKind kind, int line, int column, const std::string& what) {
    std::string m = std::string(source_) + " line " + std::to_string(line);
    if (column > 0) m += ", byte " + std::to_string(column);
    m += ": " + what;
    table_.issues.push_back({kind, line, column, std::move(m)});
  }

  // Marks the current record as dropped, reporting the first reason only once per kind.
  void reject(CsvIssueKind kind, int line, int column, const std::string& what) {
    if (rejected_kinds_.insert(kind).second) add_issue(kind, line, column, what);
    rejected_ = true;
  }

  void append(std::string& field, std::string_view bytes) {
    if (field_too_long_) return;
    if (field.size() + bytes.size() > limits_.max_field_bytes) {
      field_too_long_ = true;
      reject(CsvIssueKind::kFieldTooLong, record_line_, 0,
             "a field is longer than the limit of " + std::to_string(limits_.max_field_bytes) +
                 " bytes");
      field.clear();
      field.shrink_to_fit();
      return;
    }
    field.append(bytes);
  }

  // Reads one record starting at a non-blank position; leaves pos_ after its line end.
  void parse_record() {
    record_line_ = line_;
    record_begin_ = pos_;
    record_line_start_ = line_start_;
    rejected_ = false;
    rejected_kinds_.clear();
    fields_.clear();
    while (true) {
      field_too_long_ = false;
      std::string field;
      // After a ',' at the very end of the text, pos_ == size: the last field is empty.
      if (pos_ < s_.size() && s_[pos_] == '"') {
        if (!parse_quoted(field)) return;
      } else {
        parse_unquoted(field);
      }
      if (++cells_ > limits_.max_cells) {
        add_issue(CsvIssueKind::kTooManyCells, record_line_, 0,
                  "the file holds more than " + std::to_string(limits_.max_cells) +
                      " fields; the rest is not read");
        table_.complete = false;
        return;
      }
      fields_.push_back(std::move(field));
      if (pos_ < s_.size() && s_[pos_] == ',') {
        ++pos_;
        continue;
      }
      break;
    }
    check_utf8(record_begin_, pos_);
    if (pos_ < s_.size()) consume_line_end();
  }

  // pos_ is on the opening quote. Returns false at an unterminated quote (parsing ends).
  bool parse_quoted(std::string& field) {
    const int open_line = line_;
    const int open_column = column_of(pos_);
    ++pos_;
    while (true) {
      if (pos_ >= s_.size()) {
        add_issue(CsvIssueKind::kUnterminatedQuote, open_line, open_column,
                  "the quote opened here is never closed (the field runs to the end of the "
                  "file)");
        table_.complete = false;
        return false;
      }
      const char c = s_[pos_];
      if (c == '"') {
        if (pos_ + 1 < s_.size() && s_[pos_ + 1] == '"') {
          append(field, "\"");
          pos_ += 2;
          continue;
        }
        ++pos_;
        break;
      }
      if (c == '\r' || c == '\n') {
        const size_t begin = pos_;
        consume_line_end();
        append(field, s_.substr(begin, pos_ - begin));
        continue;
      }
      append(field, s_.substr(pos_, 1));
      ++pos_;
    }
    if (pos_ < s_.size() && s_[pos_] != ',' && !at_line_end()) {
      reject(CsvIssueKind::kStrayQuote, line_, column_of(pos_),
             "unexpected text after the closing quote (a quoted field must end at ',' or the "
             "end of the line)");
      parse_unquoted(field);
    }
    return true;
  }

  void parse_unquoted(std::string& field) {
    const size_t begin = pos_;
    while (pos_ < s_.size() && s_[pos_] != ',' && !at_line_end()) {
      if (s_[pos_] == '"') {
        reject(CsvIssueKind::kStrayQuote, line_, column_of(pos_),
               "a quote inside an unquoted field (quote the whole field and double the quote: "
               "\"a\"\"b\")");
      }
      ++pos_;
    }
    append(field, s_.substr(begin, pos_ - begin));
  }

  // Reports the first invalid UTF-8 sequence in [begin, end) with its own line and column.
  void check_utf8(size_t begin, size_t end) {
    int line = record_line_;
    size_t line_start = record_line_start_;
    size_t i = begin;
    while (i < end) {
      const unsigned char c = static_cast<unsigned char>(s_[i]);
      if (c < 0x80) {
        if (c == '\n' || (c == '\r' && !(i + 1 < end && s_[i + 1] == '\n'))) {
          ++line;
          line_start = i + 1;
        }
        ++i;
        continue;
      }
      char32_t cp = 0;
      const size_t n = utf8_decode(std::string_view(s_.data(), end), i, &cp);
      if (n == 0) {
        reject(CsvIssueKind::kInvalidUtf8, line, static_cast<int>(i - line_start) + 1,
               "invalid UTF-8 (byte " + hex_byte(c) + "); save the file as UTF-8");
        return;
      }
      i += n;
    }
  }

  void accept_header() {
    table_.header = std::move(fields_);
    table_.header_line = record_line_;
    std::set<std::string_view> seen;
    for (size_t i = 0; i < table_.header.size(); ++i) {
      const std::string& name = table_.header[i];
      const std::string ordinal = "column " + std::to_string(i + 1);
      if (name.empty()) {
        add_issue(CsvIssueKind::kEmptyColumnName, record_line_, 0,
                  "the header's " + ordinal + " has no name");
      } else if (!seen.insert(name).second) {
        add_issue(CsvIssueKind::kDuplicateColumnName, record_line_, 0,
                  "the header names column " + quote_for_message(name) + " twice (again as " +
                      ordinal + ")");
      }
    }
  }

  void accept_record() {
    if (rejected_) return;
    if (fields_.size() != table_.header.size()) {
      add_issue(CsvIssueKind::kFieldCount, record_line_, 0,
                "the record has " + std::to_string(fields_.size()) + " fields but the header has " +
                    std::to_string(table_.header.size()) + "; the record is ignored");
      return;
    }
    table_.records.push_back({record_line_, std::move(fields_)});
  }

  std::string_view s_;
  std::string_view source_;
  const CsvLimits& limits_;
  CsvTable table_;
  size_t pos_ = 0;
  int line_ = 1;
  size_t line_start_ = 0;
  size_t cells_ = 0;
  // The record being parsed.
  int record_line_ = 0;
  size_t record_begin_ = 0;
  size_t record_line_start_ = 0;
  std::vector<std::string> fields_;
  bool rejected_ = false;
  bool field_too_long_ = false;
  std::set<CsvIssueKind> rejected_kinds_;
};

}  // namespace

CsvTable parse_csv(std::string_view text, std::string_view source, const CsvLimits& limits) {
  return Parser(text, source, limits).run();
}

StatusOr<CsvTable> read_csv_file(const std::string& path, std::string_view source,
                                 const CsvLimits& limits) {
  // A FIFO or device would block or never end: only regular files are read.
  std::error_code ec;
  const auto st = std::filesystem::status(path, ec);
  if (ec) {
    if (ec == std::errc::no_such_file_or_directory) {
      return Status::not_found(path + ": no such file");
    }
    return Status::io_error(path + ": " + ec.message());
  }
  if (!std::filesystem::is_regular_file(st)) {
    return Status::invalid_argument(path + ": not a regular file");
  }
  XRS_ASSIGN_OR_RETURN(std::string text, read_file(path, limits.max_file_bytes));
  return parse_csv(text, source, limits);
}

}  // namespace xrs
