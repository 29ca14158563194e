#pragma once

namespace gosok {
/// The gosok release, e.g. "0.1.0".
const char* version();
/// The git commit the binary was built from ("unknown" outside a checkout).
const char* git_hash();
}  // namespace gosok
