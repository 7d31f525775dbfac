#include "server/http/tls_context.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace xrs::http {
namespace {

// The first (most specific) error OpenSSL queued, and the queue cleared.
std::string openssl_reason() {
  unsigned long first = ERR_get_error();
  std::string out;
  if (first != 0) {
    char buf[256];
    ERR_error_string_n(first, buf, sizeof buf);
    out = buf;
  }
  ERR_clear_error();
  return out.empty() ? "unknown OpenSSL error" : out;
}

Status check_readable(const std::string& path, const char* what) {
  if (path.empty()) return Status::invalid_argument(std::string("no TLS ") + what + " file given");
  if (::access(path.c_str(), R_OK) != 0) {
    const std::string reason = std::strerror(errno);
    if (errno == ENOENT) return Status::not_found(path + ": TLS " + what + " file not found");
    return Status::io_error(path + ": cannot read the TLS " + what + " file: " + reason);
  }
  return Status::ok();
}

}  // namespace

const char* const kTls12Ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

Status check_tls_files(const TlsFiles& files) {
  XRS_RETURN_IF_ERROR(check_readable(files.cert_path, "certificate"));
  return check_readable(files.key_path, "key");
}

Status configure_tls_context(SSL_CTX& ctx, const TlsFiles& files) {
  XRS_RETURN_IF_ERROR(check_tls_files(files));
  ERR_clear_error();
  if (SSL_CTX_set_min_proto_version(&ctx, TLS1_2_VERSION) != 1 ||
      SSL_CTX_set_cipher_list(&ctx, kTls12Ciphers) != 1) {
    return Status::internal("cannot configure TLS: " + openssl_reason());
  }
  // An encrypted key would make OpenSSL prompt on the terminal; refuse it instead.
  SSL_CTX_set_default_passwd_cb(&ctx, [](char*, int, int, void*) { return 0; });
  SSL_CTX_set_options(&ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
                                SSL_OP_CIPHER_SERVER_PREFERENCE |
                                SSL_OP_NO_SESSION_RESUMPTION_ON_RENEGOTIATION);
  if (SSL_CTX_use_certificate_chain_file(&ctx, files.cert_path.c_str()) != 1) {
    return Status::invalid_argument(files.cert_path +
                                    ": not a PEM certificate (chain): " + openssl_reason());
  }
  if (SSL_CTX_use_PrivateKey_file(&ctx, files.key_path.c_str(), SSL_FILETYPE_PEM) != 1) {
    const std::string reason = openssl_reason();
    if (reason.find("mismatch") != std::string::npos) {
      return Status::invalid_argument(files.key_path + ": the key does not match the certificate " +
                                      files.cert_path + ": " + reason);
    }
    return Status::invalid_argument(files.key_path +
                                    ": not an unencrypted PEM private key: " + reason);
  }
  if (SSL_CTX_check_private_key(&ctx) != 1) {
    return Status::invalid_argument(files.key_path + ": the key does not match the certificate " +
                                    files.cert_path + ": " + openssl_reason());
  }
  return Status::ok();
}

}  // namespace xrs::http
