#include "dump/tree.h"

#include "ckpt/error.h"
#include "ckpt/log.h"
#include "pstree.pb.h"

namespace ckpt::dump {

void check_supported(const compel::FrozenTree& tree, pid_t root) {
  for (const compel::Process& p : tree.processes()) {
    if (p.pid != root)
      throw Error(format("cannot dump pid %d: it has child process %d; process trees are not supported yet", root,
                         p.pid));
    if (p.state == compel::TaskState::Zombie) throw Error(format("cannot dump pid %d: it is a zombie", p.pid));
    if (p.threads.size() > 1)
      throw Error(format("cannot dump pid %d: it has %zu threads; multi-threaded processes are not supported yet",
                         p.pid, p.threads.size()));
  }
}

void write_pstree(PendingImages& images, const compel::FrozenTree& tree, pid_t root) {
  image::ImageWriter& w = images.open(image::Kind::Pstree);
  for (const compel::Process& p : tree.processes()) {
    img::PstreeEntry e;
    e.set_pid(uint32_t(p.pid));
    e.set_ppid(p.pid == root ? 0 : uint32_t(p.ppid));
    e.set_pgid(uint32_t(p.pgid));
    e.set_sid(uint32_t(p.sid));
    for (const compel::Thread& t : p.threads) e.add_threads(uint32_t(t.tid));
    w.write(e);
    LOG_DEBUG("pstree: pid %d ppid %u pgid %d sid %d, %zu threads", p.pid, e.ppid(), p.pgid, p.sid, p.threads.size());
  }
}

}  // namespace ckpt::dump
