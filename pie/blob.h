// The freestanding blobs embedded in the binary (see pie/CMakeLists.txt).
#pragma once
#include <cstddef>

extern "C" const unsigned char ckpt_blob_parasite[];
extern "C" const std::size_t ckpt_blob_parasite_size;
extern "C" const unsigned char ckpt_blob_restorer[];
extern "C" const std::size_t ckpt_blob_restorer_size;
