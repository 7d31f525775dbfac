// TLS for `serve --tls-cert/--tls-key` (docs/SECURITY.md, "TLS"): configures the OpenSSL context
// that cpp-httplib's SSLServer accepts connections with.
//
// Settings: TLS 1.2 and 1.3 only; for TLS 1.2 only ECDHE key exchange with AES-GCM or
// ChaCha20-Poly1305 (forward secrecy and AEAD; the "intermediate" profile of common server
// guidance without DHE); TLS 1.3 keeps OpenSSL's suites (all AEAD). No TLS compression, no
// renegotiation, the server's cipher order. The certificate file may hold the chain (leaf
// first); the key must match it.
//
// Thread-safety: call once per context, before the server accepts connections.
#pragma once

#include <string>

#include "core/status.h"

typedef struct ssl_ctx_st SSL_CTX;

namespace xrs::http {

struct TlsFiles {
  std::string cert_path;  // PEM: the server certificate, then any intermediates
  std::string key_path;   // PEM: its private key (unencrypted)
};

// The TLS 1.2 cipher list set on the context (OpenSSL syntax).
extern const char* const kTls12Ciphers;

// Applies the settings above and loads the certificate chain and key. Errors name the file and
// carry OpenSSL's reason: kNotFound for a missing file, kInvalidArgument for a file that is not a
// PEM certificate/key or a key that does not match the certificate.
Status configure_tls_context(SSL_CTX& ctx, const TlsFiles& files);

// Checks that both files exist and are readable, without OpenSSL (for early, clear messages).
Status check_tls_files(const TlsFiles& files);

}  // namespace xrs::http
