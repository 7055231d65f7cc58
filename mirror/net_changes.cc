#include "mirror/net_changes.h"

#include <type_traits>

namespace meridian::mirror {

void NetChanges::Add(const changelog::Change& change) {
  for (const changelog::Op& op : change.ops) {
    std::visit(
        [&](const auto& o) {
          using T = std::decay_t<decltype(o)>;
          if constexpr (std::is_same_v<T, changelog::UpsertInode>) {
            auto it = inodes_.find(o.ino);
            changelog::UpsertInode next = o;
            if (!o.has_blocks && it != inodes_.end()) {
              if (it->second && it->second->has_blocks) {
                next.has_blocks = true;  // keep the blocks set earlier in this run
                next.blocks = it->second->blocks;
              } else if (!it->second) {
                next.has_blocks = true;  // deleted earlier in this run: no blocks left
                next.blocks.clear();
              }
            }
            inodes_[o.ino] = std::move(next);
          } else if constexpr (std::is_same_v<T, changelog::DeleteInode>) {
            inodes_[o.ino] = std::nullopt;
          } else if constexpr (std::is_same_v<T, changelog::UpsertDentry>) {
            dentries_[{o.parent, o.name}] = o;
          } else if constexpr (std::is_same_v<T, changelog::DeleteDentry>) {
            dentries_[{o.parent, o.name}] = std::nullopt;
          } else if constexpr (std::is_same_v<T, changelog::FreeBlocks>) {
            freed_.insert(freed_.end(), o.ids.begin(), o.ids.end());
          } else if constexpr (std::is_same_v<T, changelog::SetVolume>) {
            volume_ = o;
          } else {
            static_assert(std::is_same_v<T, changelog::SetTenant>);
            tenants_[o.tenant_id] = o;
          }
        },
        op);
  }
}

bool NetChanges::empty() const {
  return inodes_.empty() && dentries_.empty() && freed_.empty() && !volume_ && tenants_.empty();
}

}  // namespace meridian::mirror
