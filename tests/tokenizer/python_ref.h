// Reference outputs from Python itself (/usr/bin/python3: html, unicodedata, str methods, and the
// `regex` and `ftfy` modules where installed), for the tokenizer's unit tests.
//
// run_python(script, input) writes `input` (JSON) to a file, runs the script with that file as
// sys.argv[1] and parses its stdout as JSON. A script exits with code 77 and prints a reason when
// a module it needs is missing: the result is then `skipped` and the test must GTEST_SKIP with it.
#pragma once

#include <gtest/gtest.h>

#include <sys/wait.h>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "support/test_paths.h"
#include "tokenizer/text_clean.h"

namespace xrs::testing {

inline constexpr const char* kPython = "/usr/bin/python3";

struct PythonResult {
  bool skipped = false;
  std::string message;  // the skip reason, or the error output
  nlohmann::json output;
};

// Preamble for scripts: `data` is the decoded input; `out(x)` prints the result as JSON.
inline constexpr const char* kPythonPrelude = R"PY(
import json, sys
def need(module):
    try:
        return __import__(module)
    except ImportError:
        print("/usr/bin/python3 lacks the '%s' module" % module)
        sys.exit(77)
def out(x):
    sys.stdout.write(json.dumps(x))
data = json.load(open(sys.argv[1], encoding="utf-8"))
)PY";

inline PythonResult run_python(const std::string& name, const std::string& script,
                               const nlohmann::json& input) {
  PythonResult r;
  if (!std::filesystem::exists(kPython)) {
    r.skipped = true;
    r.message = std::string(kPython) + " is absent";
    return r;
  }
  const std::string dir = scratch_dir("python-" + name);
  const std::string script_path = dir + "/script.py";
  const std::string input_path = dir + "/input.json";
  std::ofstream(script_path) << kPythonPrelude << script;
  std::ofstream(input_path) << input.dump();
  const std::string cmd = std::string(kPython) + " " + script_path + " " + input_path + " 2>&1";
  FILE* pipe = popen(cmd.c_str(), "r");
  if (pipe == nullptr) {
    r.message = "popen failed";
    return r;
  }
  std::string text;
  char buf[1 << 16];
  size_t n = 0;
  while ((n = fread(buf, 1, sizeof(buf), pipe)) > 0) text.append(buf, n);
  const int status = pclose(pipe);
  const int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  if (code == 77) {
    r.skipped = true;
    r.message = text;
  } else if (code != 0) {
    r.message = "python failed (exit " + std::to_string(code) + "): " + text;
  } else {
    r.output = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (r.output.is_discarded()) r.message = "python printed no JSON: " + text.substr(0, 200);
  }
  return r;
}

// Skips the test with the reason when Python or a module is missing; fails on any other error.
#define XRS_PYTHON_OR_SKIP(result)                                         \
  do {                                                                     \
    if ((result).skipped) GTEST_SKIP() << "skipped: " << (result).message; \
    ASSERT_FALSE((result).output.is_null()) << (result).message;           \
  } while (0)

inline std::u32string u32(const std::string& utf8) {
  StatusOr<std::u32string> s = clip_text::utf8_to_u32(utf8);
  EXPECT_TRUE(s.is_ok()) << s.status().to_string();
  return s.is_ok() ? *s : std::u32string();
}

inline std::string utf8(std::u32string_view s) {
  return clip_text::u32_to_utf8(s);
}

}  // namespace xrs::testing
