// xray-search token create NAME [--scopes search,images] [--file TOKENS]
// Makes a new random API token, prints it once on stdout, and appends its line (name, scopes,
// SHA-256 digest; never the token) to the token file that `serve --tokens` reads.
#include <cstdio>
#include <filesystem>
#include <memory>

#include "common.h"
#include "core/file_util.h"
#include "server/security/auth.h"

namespace xrs::app {

namespace {

struct TokenOptions {
  std::string name;
  std::string scopes = "search,images";
  std::string file;
};

int run_token_create(const TokenOptions& o) {
  Status name_ok = security::check_token_name(o.name);
  if (!name_ok.is_ok()) return report_error(name_ok, true);
  StatusOr<security::Scopes> scopes = security::parse_scopes(o.scopes);
  if (!scopes.is_ok()) return report_error(scopes.status().with_context("--scopes"), true);
  StatusOr<std::string> token = security::generate_token();
  if (!token.is_ok()) return report_error(token.status());
  const std::string line = security::token_file_line(o.name, *scopes, *token);

  if (!o.file.empty()) {
    std::string text;
    if (std::filesystem::exists(o.file)) {
      StatusOr<std::string> old = read_file(o.file, 1 << 20);
      if (!old.is_ok()) return report_error(old.status());
      text = std::move(old).value();
      if (!text.empty() && text.back() != '\n') text += '\n';
    } else {
      text = "# xray-search API tokens: <name> <scopes> sha256:<digest of the token>\n";
    }
    // The file must still parse with the new line (a name used twice is refused).
    StatusOr<security::Authenticator> check =
        security::Authenticator::parse(text + line + "\n", o.file);
    if (!check.is_ok()) return report_error(check.status());
    Status written = write_file_atomic(o.file, text + line + "\n");
    if (!written.is_ok()) return report_error(written);
    std::fprintf(stderr,
                 "xray-search: token '%s' (%s) added to %s; it is shown once, below: give it to "
                 "its user now\n",
                 o.name.c_str(), security::scopes_text(*scopes).c_str(), o.file.c_str());
  } else {
    std::fprintf(stderr,
                 "xray-search: add this line to the token file (serve --tokens FILE):\n%s\n"
                 "xray-search: the token is shown once, below\n",
                 line.c_str());
  }
  std::printf("%s\n", token->c_str());
  std::fflush(stdout);
  return kExitOk;
}

}  // namespace

void setup_token(CLI::App& app, int& exit_code) {
  CLI::App* token = app.add_subcommand("token", "Manage API tokens for `serve --tokens`");
  token->require_subcommand(1);
  auto o = std::make_shared<TokenOptions>();
  CLI::App* create = token->add_subcommand(
      "create", "Make a new random token; print it once and add its digest to a token file");
  create->add_option("name", o->name, "the token's name (logs and audit show it)")->required();
  create->add_option("--scopes", o->scopes, "comma-separated: search, images, admin; or all")
      ->capture_default_str();
  create->add_option("--file", o->file, "token file to append to (created when absent)");
  create->callback([o, &exit_code] { exit_code = run_token_create(*o); });
}

}  // namespace xrs::app
