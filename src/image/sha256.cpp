#include "image/sha256.h"

#include <gnutls/gnutls.h>

#include <cstdio>

#include "ckpt/error.h"

namespace ckpt::image {

namespace {
constexpr size_t kDigestSize = 32;

[[noreturn]] void hash_error(const char* what, int rc) {
  throw Error(std::string("SHA-256 (gnutls): ") + what + ": " + gnutls_strerror(rc));
}
}  // namespace

Sha256::Sha256() {
  if (int rc = gnutls_hash_init(&handle_, GNUTLS_DIG_SHA256); rc < 0) hash_error("cannot start a hash", rc);
}

Sha256::~Sha256() {
  if (handle_) gnutls_hash_deinit(handle_, nullptr);
}

void Sha256::update(const void* data, size_t size) {
  if (!handle_) throw Error("SHA-256: the hash is already finished");
  if (size == 0) return;
  if (int rc = gnutls_hash(handle_, data, size); rc < 0) hash_error("cannot hash", rc);
}

std::string Sha256::hex() {
  if (!handle_) throw Error("SHA-256: the hash is already finished");
  unsigned char digest[kDigestSize];
  gnutls_hash_deinit(handle_, digest);
  handle_ = nullptr;
  std::string out;
  char two[3];
  for (unsigned char b : digest) {
    std::snprintf(two, sizeof(two), "%02x", b);
    out += two;
  }
  return out;
}

std::string sha256_hex(const void* data, size_t size) {
  Sha256 h;
  h.update(data, size);
  return h.hex();
}

}  // namespace ckpt::image
