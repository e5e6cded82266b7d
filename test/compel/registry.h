// A tiny test registry: COMPEL_TEST(name) { ... } defines a test that
// `compel_tests name` runs; ctest runs each as its own test.
#pragma once

#include <map>
#include <string>

namespace ctest {

using TestFn = void (*)();
std::map<std::string, TestFn>& registry();

struct Registrar {
  Registrar(const char* name, TestFn fn) { registry()[name] = fn; }
};

}  // namespace ctest

#define COMPEL_TEST(name)                                          \
  static void test_##name();                                       \
  static ::ctest::Registrar registrar_##name(#name, test_##name); \
  static void test_##name()
