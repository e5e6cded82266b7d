// SHA-256 through gnutls's hash API, for the manifest (image/manifest.h).
#pragma once

#include <gnutls/crypto.h>

#include <cstddef>
#include <string>

namespace ckpt::image {

class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void update(const void* data, size_t size);
  // The digest as 64 lowercase hex digits (as sha256sum prints it); the
  // hash is finished: update() and hex() throw afterwards.
  std::string hex();

 private:
  gnutls_hash_hd_t handle_ = nullptr;
};

// The digest of `size` bytes at `data`, in hex.
std::string sha256_hex(const void* data, size_t size);

}  // namespace ckpt::image
