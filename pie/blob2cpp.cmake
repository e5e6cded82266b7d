# Turns a flat binary into a C++ source holding it as a byte array.
file(READ ${BIN} hex HEX)
string(LENGTH "${hex}" hexlen)
math(EXPR size "${hexlen} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
string(REGEX REPLACE "((0x..,){16})" "\\1\n" bytes "${bytes}")
file(WRITE ${OUT} "// Generated from ${BIN}; do not edit.\n#include <cstddef>\n"
  "extern \"C\" const unsigned char ckpt_blob_${NAME}[];\n"
  "extern \"C\" const std::size_t ckpt_blob_${NAME}_size;\n"
  "alignas(4096) const unsigned char ckpt_blob_${NAME}[] = {\n${bytes}\n};\n"
  "const std::size_t ckpt_blob_${NAME}_size = ${size};\n")
