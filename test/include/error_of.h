// The message of the ckpt::Error a call throws, or "no error": for tests
// that compare refusals word for word.
#pragma once

#include <string>

#include "ckpt/error.h"

namespace ckpt::test {

template <typename F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

}  // namespace ckpt::test
