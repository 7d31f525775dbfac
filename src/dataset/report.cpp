#include "dataset/report.h"

#include <nlohmann/json.hpp>

#include "dataset/text.h"

namespace xrs {

std::string render_problem_text(const Problem& problem) {
  std::string out;
  if (problem.line > 0) {
    out = std::string(kMetadataFileName) + ":" + std::to_string(problem.line) + ": ";
  } else if (!problem.file.empty()) {
    out = escape_for_message(problem.file) + ": ";
  }
  if (problem.severity == Severity::kWarning) out += "warning: ";
  out += problem.code;
  out += ": ";
  out += problem.message;
  return out;
}

std::string render_report_text(const ValidationReport& report) {
  std::string out;
  for (const Problem& p : report.problems) {
    out += render_problem_text(p);
    out += '\n';
  }
  return out;
}

std::string render_report_json(const ValidationReport& report, int indent) {
  nlohmann::ordered_json problems = nlohmann::ordered_json::array();
  for (const Problem& p : report.problems) {
    problems.push_back({{"code", p.code},
                        {"severity", severity_name(p.severity)},
                        {"scope", problem_scope_name(p.scope)},
                        {"file", p.file},
                        {"line", p.line},
                        {"column", p.column},
                        {"image_name", p.image_name},
                        {"message", p.message}});
  }
  nlohmann::ordered_json doc = {{"valid", report.valid()},
                                {"fatal", report.fatal()},
                                {"data_dir", report.data_dir},
                                {"rows", report.rows},
                                {"images_checked", report.images_checked},
                                {"decoded", report.decoded},
                                {"errors", report.error_count()},
                                {"warnings", report.warning_count()},
                                {"problems", std::move(problems)}};
  // File names are arbitrary bytes: replace what is not UTF-8 rather than throw.
  return doc.dump(indent, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

}  // namespace xrs
