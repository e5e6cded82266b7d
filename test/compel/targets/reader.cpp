// Blocked in read(2) on a pipe: compel's interrupt makes the read return
// -ERESTARTSYS, and cure must let the kernel restart it, so that it still
// gets the driver's data (not EINTR, not a short read).
#include "target.h"

int main(int argc, char** argv) {
  const char* expect = argc > 1 ? argv[1] : "data";
  target::say("ready");
  std::string got = target::read_command();
  if (got != expect) target::fail("read \"%s\" instead of \"%s\"", got.c_str(), expect);
  return 0;
}
