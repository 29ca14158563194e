#pragma once

#include <string>

namespace gosok::sched {

/// Vocabulary: a folder is *safe* for a user when no other user can change what is in it:
/// neither it nor any folder above it may be written by others (group or world write
/// without the sticky bit of /tmp; a group that is the user's own private group is not
/// "others"). In an unsafe folder another user can put a symlink where gosok writes, or
/// swap a file between its writing and its use.

/// Throws InputError naming `what`, the offending folder, its owner and mode when `path`
/// (or, when it does not exist yet, the nearest folder above it that does) is not safe.
void require_safe_folder(const std::string& path, const std::string& what);

/// Opens the folder `path` for the files of one job, creating it (mode 0700; missing
/// parents with the umask) when absent. Refuses (InputError naming `what`) a folder that
/// is not safe, is a symlink, or belongs to another user. Returns an O_DIRECTORY file
/// descriptor: files are then created relative to it, whatever happens to the path.
int open_private_folder(const std::string& path, const std::string& what);

/// Writes `text` as the file `name` of the folder `dir_fd` (from open_private_folder): a
/// previous file of that name is removed first and the new one created with O_EXCL and
/// O_NOFOLLOW, mode 0600, so a symlink planted there is never followed. `shown` names the
/// file in errors.
void write_private_file(int dir_fd, const std::string& name, const std::string& text, const std::string& shown);

}  // namespace gosok::sched
