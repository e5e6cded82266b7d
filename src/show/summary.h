// `ckpt show DIR --ps | --fds | --mems`: tables a person reads, made from the
// images of one set (the JSON of `ckpt show` is for tools).
#pragma once

#include <string>

namespace ckpt::show {

// The process tree: pid, ppid, threads and command, children indented
// under their parent.
std::string ps_table(const std::string& dir);
// Every fd of every process: number, kind, and the kind's description.
std::string fds_table(const std::string& dir);
// Every memory area of every process: start-end, size, protection and
// flags, what is mapped, and how many of its pages the images hold.
std::string mems_table(const std::string& dir);

}  // namespace ckpt::show
